// message_stream.h - the client's end of the Messaging.Connect stream
// (proto/troupe/v1/messaging.proto): tells and asks from every thread go up in
// batches, replies, errors and incoming messages come down and are matched to
// asks by id.
//
// Threads. One completion-queue thread ("the reader") drives the async stream:
// it reads ServerBatches, completes asks, runs the handlers, starts the next
// write when one finishes, and fails asks whose deadline passed (one
// grpc::Alarm on the same queue, set to the earliest deadline: no thread of
// its own). Callers never wait for the wire: a call appends its frame to the
// outbox, and when no write is in flight it starts one with everything queued
// (flat combining); while a write is in flight, frames just accumulate and the
// reader thread writes them as one batch when the write completes. Callers
// block only when more than kMaxQueuedBytes wait for the wire (backpressure).
//
// Thread-safe. Internal to troupe_client; Client (client.h) is the API.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"
#include "troupe/client.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace troupe::client_internal {

class MessageStream {
 public:
  using Message = Client::Message;
  using Clock = std::chrono::steady_clock;
  using Promise = std::promise<absl::StatusOr<Message>>;
  using Callback = std::function<void(absl::StatusOr<Message>)>;
  // How an ask is answered: a promise (AskAsync future, Ask) or a callback.
  using Completion = std::variant<Promise, Callback>;

  // Frames beyond this many bytes start a new batch (the daemon's gRPC
  // receive limit is its max_message_bytes + 4 MiB).
  static constexpr size_t kMaxBatchBytes = 1 << 20;
  // Callers block while this many bytes wait for the wire.
  static constexpr size_t kMaxQueuedBytes = 16 << 20;
  // How long the destructor waits for the daemon to finish the stream after
  // the last frame went out, before cancelling it.
  static constexpr absl::Duration kCloseGrace = absl::Seconds(5);
  // Tell ids carry this bit, so an error for a tell is never taken for an ask.
  static constexpr uint64_t kTellIdBit = uint64_t{1} << 63;

  // Opens the stream on `channel` (sending `token` as a bearer token unless
  // empty) and waits until `deadline` for the daemon's hello. `target` names
  // the daemon in messages. Returns the daemon's status when it refuses the
  // stream (e.g. UNAUTHENTICATED), UNAVAILABLE when it does not say hello.
  static absl::StatusOr<std::unique_ptr<MessageStream>> Open(
      const std::shared_ptr<grpc::Channel>& channel, std::string target, const std::string& token,
      Clock::time_point deadline);

  // Close(kCloseGrace) unless Close was called, then stops the threads. Must
  // not run on a client thread.
  ~MessageStream();
  MessageStream(const MessageStream&) = delete;
  MessageStream& operator=(const MessageStream&) = delete;

  // The client's own address (the hello's `from`).
  const std::string& address() const { return address_; }

  // Queues a tell. UNAVAILABLE once the stream is lost.
  absl::Status Tell(std::string_view to, Message message);

  // Queues an ask; `done` is completed exactly once: with the reply, the
  // daemon's error, DEADLINE_EXCEEDED after `timeout` (infinite: no client
  // deadline), UNAVAILABLE when the stream is lost, CANCELLED when closing.
  void Ask(std::string_view to, Message message, absl::Duration timeout, Completion done);

  void Subscribe(std::function<void(Message)> on_message,
                 std::function<void(absl::Status)> on_error);

  uint64_t tell_errors() const { return tell_errors_.load(std::memory_order_relaxed); }

  // Fails the asks still waiting with CANCELLED, writes what is queued,
  // half-closes and waits (at most `grace`, then cancels) for the daemon to
  // finish the stream; handlers still run meanwhile. How the stream ended
  // (see Client::Close); a second call returns the first one's result.
  absl::Status Close(absl::Duration grace);

  // OK while the stream is up; else the error later calls should return.
  absl::Status health() const;

  // True on the reader thread, where blocking on an ask would deadlock.
  bool OnClientThread() const;

 private:
  enum class Tag : uintptr_t { kStart = 1, kRead, kWrite, kWritesDone, kFinish, kAlarm };
  struct PendingAsk {
    std::string to;
    absl::Duration timeout;
    Clock::time_point deadline;
    bool has_deadline = false;
    Completion done;
  };
  struct Handlers {
    std::function<void(Message)> on_message;
    std::function<void(absl::Status)> on_error;
  };
  struct QueuedBatch {
    std::unique_ptr<v1::ClientBatch> batch;
    size_t bytes = 0;
  };
  // What a thread must do on the stream after leaving out_mu_.
  struct Action {
    std::unique_ptr<v1::ClientBatch> write;
    bool writes_done = false;
    bool finish = false;
  };

  MessageStream(const std::shared_ptr<grpc::Channel>& channel, std::string target);

  static void* ToTag(Tag tag) { return reinterpret_cast<void*>(static_cast<uintptr_t>(tag)); }
  static void Complete(Completion& done, absl::StatusOr<Message> result);

  // Appends a frame; starts a write when none is in flight.
  absl::Status Enqueue(uint64_t ask_id, std::string_view to, Message message, uint32_t timeout_ms);
  Action NextActionLocked();  // requires out_mu_
  void Perform(Action action);
  // Marks the stream dead (no more writes, queue dropped); requires out_mu_.
  void MarkDeadLocked();

  void CompletionLoop();
  // The alarm went off or was cancelled: fails the asks that are due and sets
  // it again for the earliest deadline left.
  void OnAlarm();
  // Sets the alarm for `at` unless it is set for earlier; requires mu_.
  void ArmAlarmLocked(Clock::time_point at);
  void OnStart(bool ok);
  void OnRead(bool ok);
  void OnWriteDone(bool ok);
  void OnFinish();
  // Handles one frame; `handlers` may be null (no Subscribe yet).
  void Dispatch(v1::ServerFrame& frame, const Handlers* handlers);
  // Removes ask `id` and its deadline; nullopt when it is not pending.
  std::optional<PendingAsk> TakePendingLocked(uint64_t id);  // requires mu_
  std::shared_ptr<const Handlers> handlers() const;

  const std::string target_;
  std::unique_ptr<v1::Messaging::Stub> stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::ClientBatch, v1::ServerBatch>> stream_;
  v1::ServerBatch in_;          // owned by the read in flight
  grpc::Status finish_status_;  // written by Finish; read after finished_
  std::thread completion_thread_;
  std::atomic<std::thread::id> completion_thread_id_{};
  std::atomic<uint64_t> tell_errors_{0};
  std::string address_;  // set once, before Open returns

  // Asks, handlers and the stream's life.
  mutable std::mutex mu_;
  std::condition_variable state_cv_;  // hello_, finished_
  bool hello_ = false;
  bool finished_ = false;
  bool closing_ = false;
  absl::Status lost_;                         // OK until the stream ended
  std::optional<absl::Status> close_result_;  // set by the first Close
  uint64_t next_ask_id_ = 0;
  absl::flat_hash_map<uint64_t, PendingAsk> pending_;
  std::set<std::pair<Clock::time_point, uint64_t>> deadlines_;
  // The alarm: Set and Cancel only under mu_ (grpc::Alarm is not
  // thread-safe). While `alarm_set_`, it goes off at `alarm_at_` or earlier
  // (cancelled for an earlier deadline); `alarm_stop_` keeps it from being
  // set again once the stream is being destroyed.
  grpc::Alarm alarm_;
  bool alarm_set_ = false;
  bool alarm_stop_ = false;
  Clock::time_point alarm_at_;
  std::shared_ptr<const Handlers> handlers_;

  // The outbox: frames waiting for the wire, and what the stream may do next.
  std::mutex out_mu_;
  std::condition_variable space_cv_;  // queued_bytes_ fell, or refuse_ set
  std::deque<QueuedBatch> queue_;
  std::vector<std::unique_ptr<v1::ClientBatch>> spares_;  // cleared, for reuse
  size_t queued_bytes_ = 0;
  size_t space_waiters_ = 0;
  uint64_t next_tell_seq_ = 0;
  absl::Status refuse_;      // OK while new frames are accepted
  bool started_ = false;     // StartCall completed: writes may go out
  bool writing_ = false;     // a Write or WritesDone is in flight
  bool half_close_ = false;  // send WritesDone once the queue is empty
  bool writes_done_sent_ = false;
  bool read_done_ = false;  // no read in flight and none will start
  bool dead_ = false;       // nothing more can be written
  bool finish_started_ = false;
};

}  // namespace troupe::client_internal
