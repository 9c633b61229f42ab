// client.h - talk to the actors of a running troupd from any program: tell,
// ask (blocking or async), create, look up by global name or role, and receive
// what actors send to the client's own address.
//
//   auto client = troupe::Client::Connect("/var/lib/troupe/run/troupd.sock");
//   absl::StatusOr<troupe::Client::Message> reply =
//       (*client)->Ask("hello", {"text", "hi"}, absl::Seconds(1));
//
// One Client holds one gRPC channel and one long-lived message stream (the
// Messaging.Connect RPC of proto/troupe/v1/messaging.proto). Tells and asks
// from every thread share that stream: they are written in batches, and many
// asks may be in flight at once, each answered by id. Thread-safe.
//
// Errors are absl::Status with the daemon's canonical codes: NOT_FOUND (unknown
// global name or group), INVALID_ARGUMENT (malformed address or message),
// RESOURCE_EXHAUSTED (over the daemon's message size limit), DEADLINE_EXCEEDED
// (ask timed out), UNAVAILABLE (daemon not running or connection lost),
// UNAUTHENTICATED (TCP without the right token).
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace troupe {

class Client {
 public:
  // A message as a client sees it: type name, payload bytes, and the address
  // of the actor that sent it (empty when sent by no actor).
  struct Message {
    std::string type;
    std::string payload;
    std::string from;
  };

  struct Options {
    // For host:port targets: the token (the contents of the daemon's
    // keys/client.token) sent with every call. Ignored on a unix socket.
    std::string token;
    // How long Connect waits for the daemon to answer.
    absl::Duration connect_timeout = absl::Seconds(5);
    // For host:port targets of a daemon whose TCP listener uses TLS (the
    // convention_tls_* settings): the PEM text of the certificate authority
    // that signed its certificate. Empty: a plain connection.
    std::string tls_root_certificates;
    // The deadline of each unary call (CreateActor, Lookup, Role,
    // Capabilities, SetCapability). A CreateActor in a convention may place
    // the actor on another member, which may fetch its bundle first.
    absl::Duration call_timeout = absl::Seconds(60);
  };

  // `target` is a unix socket path (absolute, or "unix:PATH") or "host:port".
  // UNAVAILABLE naming the target when nothing answers there in time (with a
  // hint to start the daemon); the daemon's status when it refuses the client
  // (UNAUTHENTICATED: wrong token). Returns once the daemon said hello.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(std::string_view target, Options options);
  // The same with default Options. (An overload, not `Options options = {}`:
  // GCC 12 rejects that default argument for a nested struct with default
  // member initializers.)
  static absl::StatusOr<std::unique_ptr<Client>> Connect(std::string_view target);
  // Closes the stream as Close(5 s) does, unless Close was called before.
  // Must not be called from one of the client's own callbacks.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // This client's own address: actors may send to it (see Subscribe).
  const std::string& address() const;

  // `to`: an address (troupe://...) or a global name. Returns once the tell is
  // queued on the stream; delivery errors the daemon reports later (unknown
  // name, malformed message) go to the error handler of Subscribe, and are
  // counted in tell_errors(). The message's sender is this client's address.
  // Waits only while more than 16 MiB of frames wait for the wire.
  // `message` is taken by value: pass it with std::move and its payload goes
  // onto the wire without a copy.
  absl::Status Tell(std::string_view to, Message message);

  // Sends `message` and waits for the first message sent back to it.
  absl::StatusOr<Message> Ask(std::string_view to, Message message, absl::Duration timeout);
  // The same without blocking: the future becomes ready with the reply or error.
  std::future<absl::StatusOr<Message>> AskAsync(std::string_view to, Message message,
                                                absl::Duration timeout);
  // The same with a callback, run on the client's reader thread (keep it short;
  // it may call Tell and AskAsync but must not block on another ask: Ask there
  // returns FAILED_PRECONDITION). A timeout runs it on the reader thread too,
  // closing the client on the closing thread.
  //
  // `timeout` must be positive; it also travels with the ask so the daemon
  // gives up too. absl::InfiniteDuration() means no client-side deadline.
  // A reply arriving after the timeout is dropped.
  void AskAsync(std::string_view to, Message message, absl::Duration timeout,
                std::function<void(absl::StatusOr<Message>)> done);

  // Creates an actor of `class_name` from the active version of `group`.
  // `requirements_json`: a JSON array of requirements as in a manifest
  // ([{"capability": "gpu", "equals": true}]), or empty for none; the client
  // sends them as the manifest's Requirement messages. INVALID_ARGUMENT,
  // before any call, for text that is not such an array.
  absl::StatusOr<std::string> CreateActor(std::string_view group, std::string_view class_name,
                                          std::string_view requirements_json = {},
                                          std::string_view global_name = {});
  // The address of the actor named `global_name`.
  absl::StatusOr<std::string> Lookup(std::string_view global_name);
  // The addresses of the actors playing `role` in the active version of
  // `group` (every group when empty).
  absl::StatusOr<std::vector<std::string>> Role(std::string_view role, std::string_view group = {});

  // The daemon's capabilities as a JSON object.
  absl::StatusOr<std::string> Capabilities();
  // Sets one capability of the daemon (`value_json`: a JSON value) or removes
  // it (empty). The change reaches the convention's leader at once, and the
  // daemon's actors whose requirements no longer hold are told.
  // FAILED_PRECONDITION for a read-only capability (troupe.*).
  absl::Status SetCapability(std::string_view name, std::string_view value_json);

  // Messages actors send to address() (that are not replies to an ask) go to
  // `on_message`; errors the daemon reports for tells, and the loss of the
  // connection, go to `on_error`. Either may be null. Called on the reader
  // thread. Replaces earlier handlers; messages arriving before the first
  // Subscribe are dropped.
  void Subscribe(std::function<void(Message)> on_message,
                 std::function<void(absl::Status)> on_error = nullptr);

  uint64_t tell_errors() const;

  // Writes the tells still queued, half-closes the stream and waits up to
  // `timeout` for the daemon to finish it, which it does once it has handled
  // every tell (their errors have then reached on_error) and answered every
  // ask. Asks still waiting here fail with CANCELLED at once; every later call
  // fails with CANCELLED. Returns OK when the daemon finished the stream
  // cleanly; DEADLINE_EXCEEDED when it did not within `timeout` (the stream is
  // then cancelled: tells it had not handled yet may be dropped); the
  // stream's end otherwise (UNAVAILABLE when the connection was lost). A
  // second Close returns the first one's result. FAILED_PRECONDITION from one
  // of the client's own callbacks, where it would wait for itself.
  absl::Status Close(absl::Duration timeout);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace troupe
