// ask_router.h - asks from outside the actor system (the gRPC services):
// send a message with a fresh reply address and call back once with the first
// message sent to that address, or with DeadlineExceeded.
//
// Each ask's reply address is a runtime reply slot (ActorSystem::
// OpenReplySlot): the reply is handed on by the thread that sends it, with no
// turn of a reply actor in between, and the deadline is a runtime timer entry
// (no thread of the router's own). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/runtime/actor_system.h"

namespace troupe::service {

// One ask in flight (ask_router.cc).
struct PendingAsk;

// A reply as the services pass it on: the message and its sender's address.
struct AskReply {
  runtime::Message message;
  std::string from;
};

// The message type an ask's reply slot gets when the message it was asked
// with could not be delivered on another daemon (ActorSystem::Undeliverable);
// payload: the reason. Internal: only the daemon sends it.
inline constexpr std::string_view kAskUndeliverableType = "troupe.internal.AskUndeliverable";

struct ConventionNames;  // message_checks.h

class AskRouter {
 public:
  using Done = std::function<void(absl::StatusOr<AskReply>)>;

  // The longest an ask may wait; longer timeouts are cut to this (a client
  // that needs more should tell and let the actor answer when it can).
  static constexpr absl::Duration kMaxTimeout = absl::Minutes(10);

  // One ask in flight, for Cancel. Empty when the ask ended at once.
  class Handle {
   private:
    friend class AskRouter;
    std::weak_ptr<PendingAsk> ask_;
  };

  // `system` must outlive the router.
  explicit AskRouter(runtime::ActorSystem* system);
  ~AskRouter();  // Stop()
  AskRouter(const AskRouter&) = delete;
  AskRouter& operator=(const AskRouter&) = delete;

  // Sends `message` to `to` (an address or a global name, see SendTo in
  // message_checks.h) and calls `done` exactly once: with the first
  // message sent back (on the sender's thread: an actor worker, a link's
  // reader), or DeadlineExceeded after `timeout` (on the runtime's timer
  // thread), or Cancelled when the router stops. `done` must not block.
  // An address or name that cannot be sent to ends the ask at once with the
  // error. A global name no actor of this daemon has is looked up through
  // `names` (message_checks.h), which may wait for the convention's leader:
  // pass it only on a thread that may wait (BlockingCalls), else nullptr.
  Handle Ask(std::string_view to, runtime::Message message, absl::Duration timeout, Done done,
             const ConventionNames* names = nullptr);

  // Ends the ask with Cancelled (its caller went away) unless it has ended
  // already; its reply slot closes. Thread-safe; any number of times.
  void Cancel(const Handle& handle);

  // Fails every pending ask to an actor of `node` (another daemon that left
  // the convention) with Unavailable: no reply can come from it.
  void FailAsksTo(std::string_view node, std::string_view reason);
  // Fails every pending ask to an actor of `node` with an id in [first,
  // limit) (the actors of an isolated host that ended) with Unavailable;
  // an ask made to a local global name matches by the name's holder when the
  // ask was made.
  void FailAsksToRange(std::string_view node, uint64_t first, uint64_t limit,
                       std::string_view reason);

  // Fails every pending ask with Cancelled and every later one with
  // Unavailable ("the daemon is stopping"). Idempotent.
  void Stop();

  // Asks not yet answered.
  uint64_t pending() const;

 private:
  // The asks in flight; shared with their reply slots' handlers, which may
  // still run while the router is destroyed.
  struct InFlight;

  runtime::ActorSystem* const system_;
  const std::shared_ptr<InFlight> in_flight_;
};

}  // namespace troupe::service
