// host_link.h - one end of the socket between troupd and an isolated host:
// the same class on both ends. Messages for actors on the other side are
// queued without waiting and written in batches (EnvelopeBatch, up to
// kBatchEnvelopes or kBatchBytes) by the link's writer thread; control frames
// go out in order with them. The reader thread delivers incoming envelopes
// through the end's DeliverFn, reports the ones it could not deliver back in
// one LinkReport per batch, hands reports from the other side to the system
// as undeliverable (so an ask waiting on one fails at once), and passes every
// other frame to the end's FrameFn.
//
// Back-pressure as on peer links (docs/convention.md "Flow control"): over
// high_water_bytes a Send still queues but returns false, and the sender
// waits with ResumeWhenRoom until the queue is below low_water_bytes.
//
// When the stream ends, breaks or carries a bad frame, the link closes once:
// queued messages become undeliverable with the reason, parked senders are
// resumed, and OnClosed runs (on the reader thread) with the reason. Close()
// does the same from the owner and joins the threads. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/common/mutex.h"
#include "daemon/runtime/envelope.h"
#include "troupe/v1/isolation.pb.h"

namespace troupe::runtime {
class ActorSystem;
}

namespace troupe::isolation {

struct HostLinkOptions {
  uint64_t high_water_bytes = 64 << 20;
  uint64_t low_water_bytes = 32 << 20;
  // Frames longer than this close the link (frame_io.h's kMaxFrameBytes at
  // most): a batch's bytes and the largest message the other side may send.
  uint32_t max_frame_bytes = 80 << 20;
  // Which reports of undeliverable envelopes to believe (the other end may
  // not be trusted: troupd takes only reports of what it sent to the host);
  // null: all. Reports it refuses are logged and dropped.
  std::function<bool(const troupe::v1::Envelope& envelope)> accept_report;
};

class HostLink {
 public:
  // Delivers one incoming envelope; NotFound sends it back as undeliverable
  // (other errors are logged and the envelope dropped).
  using DeliverFn = std::function<absl::Status(const troupe::v1::Envelope& envelope)>;
  // Every frame that is neither envelopes nor a report. An error closes the
  // link with that reason (a frame the end did not expect).
  using FrameFn = std::function<absl::Status(troupe::v1::HostFrame& frame)>;
  using ClosedFn = std::function<void(const absl::Status& why)>;

  // Takes ownership of the connected stream socket `fd`. `system` formats
  // senders and takes undeliverable messages; it outlives the link.
  HostLink(int fd, runtime::ActorSystem* system, std::string name, DeliverFn deliver,
           FrameFn on_frame, ClosedFn on_closed, HostLinkOptions options = {});
  ~HostLink();  // Close()
  HostLink(const HostLink&) = delete;
  HostLink& operator=(const HostLink&) = delete;

  static constexpr size_t kBatchEnvelopes = 4096;
  static constexpr size_t kBatchBytes = 1 << 20;

  // Starts the reader and writer threads.
  void Start();
  // Queues `message` for actor `to` of `to_node` (empty: the other side's
  // node is this node) on the other side. Never waits. False when the queue
  // is at or over its bound: the caller should wait with ResumeWhenRoom. On
  // a closed link the message is undeliverable at once (and true returned).
  bool Send(std::string_view to_node, uint64_t to, runtime::Message message);
  // Runs `resume` once, from any thread, when the queue is below its low
  // water mark or the link closed; false (resume dropped) when it is already.
  bool ResumeWhenRoom(std::function<void()> resume);
  // Queues a control frame after everything queued before it. Dropped when
  // the link is closed.
  void SendFrame(troupe::v1::HostFrame frame);
  // Waits until everything queued so far is written, the link closed, or
  // `timeout` passed; true when all was written. For an end that is about to
  // go away (a host after its shutdown), never for actor workers.
  bool Flush(absl::Duration timeout);
  // Closes the link with `why` (as when the stream breaks; OnClosed runs if
  // it has not), shuts the socket down and joins the threads. Idempotent.
  // Must not be called from the link's own callbacks.
  void Close(const absl::Status& why = absl::CancelledError("host link closed"));

  bool closed() const;
  const std::string& name() const { return name_; }
  uint64_t queued_bytes() const;

 private:
  struct Outgoing {
    std::string to_node;
    uint64_t to = 0;
    runtime::Message message;
  };
  using Item = std::variant<Outgoing, troupe::v1::HostFrame>;

  void ReaderLoop();
  void WriterLoop();
  // Marks the link closed (first call only) and fails what is queued.
  void Fail(const absl::Status& why);
  void Undeliverable(Outgoing outgoing, std::string_view reason);
  void HandleEnvelopes(const troupe::v1::EnvelopeBatch& batch);
  void HandleReport(const troupe::v1::LinkReport& report);
  static uint64_t SizeOf(const runtime::Message& message) {
    return message.type().size() + message.payload().size() + 64;
  }

  const int fd_;
  runtime::ActorSystem* const system_;
  const std::string name_;
  const DeliverFn deliver_;
  const FrameFn on_frame_;
  const ClosedFn on_closed_;
  const HostLinkOptions options_;

  mutable troupe::Mutex mu_;
  troupe::CondVar cv_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::function<void()>> parked_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // the writer holds taken items
  bool closed_reported_ ABSL_GUARDED_BY(mu_) = false;
  std::string close_reason_ ABSL_GUARDED_BY(mu_);
  bool started_ = false;
  std::thread reader_;
  std::thread writer_;
};

}  // namespace troupe::isolation
