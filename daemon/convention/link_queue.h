// link_queue.h - the state of one outbound peer link without the wire: the
// envelopes waiting for the link's writer, their bytes against the outbox
// bound, the batch in flight, whether a stream is open, and the senders
// parked until the outbox drains. Every method returns the Step the caller
// must carry out next, outside the queue's lock (open a stream, write a
// batch, report undeliverable messages, wake parked senders), so the rules
// (batching, bounds, parking, a broken stream) are unit-tested without gRPC.
// Links (links.cc) drives it from the senders' threads and from the gRPC
// reactions of the link's stream. Private to daemon/convention. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "daemon/common/mutex.h"
#include "daemon/runtime/envelope.h"

namespace troupe::convention {

struct Outgoing {
  uint64_t to = 0;  // the actor id on the peer
  runtime::Message message;
};

struct LinkQueueOptions {
  // Over this many queued bytes a push still succeeds but tells its sender
  // to park (the outbox bound); parked senders are woken once the bytes fall
  // below low_water_bytes.
  uint64_t high_water_bytes = 64 << 20;
  uint64_t low_water_bytes = 32 << 20;
  // Most envelopes and bytes in one write.
  size_t batch_envelopes = 4096;
  size_t batch_bytes = 1 << 20;
};

// What the caller does next, in this order: report `failed` as undeliverable
// with `reason`, run `resume`, open a stream when `connect`, write the batch
// in flight (LinkQueue::in_flight) when `write`.
struct LinkStep {
  std::vector<Outgoing> failed;
  std::string reason;
  std::vector<std::function<void()>> resume;
  bool connect = false;
  // The caller now holds the writer's turn: it writes in_flight() and calls
  // WriteDone or WriteFailed when the write ends.
  bool write = false;
};

class LinkQueue {
 public:
  explicit LinkQueue(LinkQueueOptions options) : options_(options) {}

  // The bytes a message counts for against the bound.
  static uint64_t SizeOf(const runtime::Message& message) {
    return message.type().size() + message.payload().size() + 64;
  }

  struct PushResult {
    bool accepted = false;    // false: the link is closed, `message` untouched
    bool over_bound = false;  // accepted, and the outbox is at or over its bound
    LinkStep step;
  };
  // Queues `message` for actor `to`. Never waits: a full outbox still takes
  // it and says so (the sender parks with ResumeWhenRoom).
  PushResult Push(uint64_t to, runtime::Message& message);

  // Keeps `resume` to be run once the outbox is below its low-water mark or
  // the link closes; false (resume dropped, not run) when that is so already.
  bool ResumeWhenRoom(std::function<void()> resume);

  // The stream the last `connect` asked for is open (and its peer proven).
  LinkStep Connected();
  // It could not be opened: everything queued fails with `why`.
  LinkStep ConnectFailed(std::string why);
  // The batch in flight was written: its room is freed, the next batch (if
  // any) goes out.
  LinkStep WriteDone();
  // The write of the batch in flight failed: the batch fails with `why`
  // (whether the peer got it is unknown), and what is still queued goes out
  // on a new stream.
  LinkStep WriteFailed(std::string why);
  // The stream ended outside a write (the peer finished it, its reads
  // failed): what is queued goes out on a new stream. With a write under way
  // it is noted and acted on when that write ends (after WriteDone the
  // stream is reopened; after WriteFailed as said there).
  LinkStep Broken();
  // Closes the link for good: queued messages fail with `why`, later pushes
  // are refused, parked senders are woken. A batch in flight fails when its
  // write ends. Idempotent.
  LinkStep Close(std::string why);

  // The batch being written. Only the holder of the writer's turn (a step
  // with `write`) reads it, until it calls WriteDone or WriteFailed.
  const std::vector<Outgoing>& in_flight() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return in_flight_;
  }
  // Messages queued or in flight.
  uint64_t queued() const;
  // Bytes queued or in flight.
  uint64_t bytes() const;
  bool closed() const;
  size_t parked() const;

 private:
  enum class State { kIdle, kConnecting, kConnected, kWriting, kClosed };

  // Moves the next batch from queue_ to in_flight_ and sets kWriting.
  void TakeBatchLocked(LinkStep* step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeInFlightLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Everything queued fails with `why`; parked senders wake when there is room.
  void FailQueuedLocked(std::string why, LinkStep* step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the parked senders when below low water (or closed).
  void ResumeIfRoomLocked(LinkStep* step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After the writer's turn ends on a broken stream.
  void AfterBreakLocked(LinkStep* step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LinkQueueOptions options_;
  mutable troupe::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;
  bool broken_while_writing_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Outgoing> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<Outgoing> in_flight_;  // owned by the writer's turn
  size_t in_flight_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t in_flight_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;  // queued and in flight
  std::vector<std::function<void()>> parked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe::convention
