// host_link.cc - HostLink: batching writer, delivering reader, closing once
// (host_link.h).
#include "daemon/isolation/host_link.h"

#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/isolation/frame_io.h"
#include "daemon/runtime/actor_system.h"

namespace troupe::isolation {

HostLink::HostLink(int fd, runtime::ActorSystem* system, std::string name, DeliverFn deliver,
                   FrameFn on_frame, ClosedFn on_closed, HostLinkOptions options)
    : fd_(fd),
      system_(system),
      name_(std::move(name)),
      deliver_(std::move(deliver)),
      on_frame_(std::move(on_frame)),
      on_closed_(std::move(on_closed)),
      options_(options) {}

HostLink::~HostLink() {
  Close();
  ::close(fd_);
}

void HostLink::Start() {
  started_ = true;
  writer_ = std::thread([this] { WriterLoop(); });
  reader_ = std::thread([this] { ReaderLoop(); });
}

bool HostLink::closed() const {
  troupe::MutexLock lock(&mu_);
  return closed_;
}

uint64_t HostLink::queued_bytes() const {
  troupe::MutexLock lock(&mu_);
  return queued_bytes_;
}

bool HostLink::Send(std::string_view to_node, uint64_t to, runtime::Message message) {
  const uint64_t size = SizeOf(message);
  std::string reason;
  {
    troupe::MutexLock lock(&mu_);
    if (!closed_) {
      queue_.emplace_back(Outgoing{std::string(to_node), to, std::move(message)});
      queued_bytes_ += size;
      cv_.SignalAll();
      return queued_bytes_ < options_.high_water_bytes;
    }
    reason = close_reason_;
  }
  Undeliverable(Outgoing{std::string(to_node), to, std::move(message)}, reason);
  return true;
}

bool HostLink::ResumeWhenRoom(std::function<void()> resume) {
  troupe::MutexLock lock(&mu_);
  if (closed_ || queued_bytes_ < options_.low_water_bytes) return false;
  parked_.push_back(std::move(resume));
  return true;
}

void HostLink::SendFrame(troupe::v1::HostFrame frame) {
  troupe::MutexLock lock(&mu_);
  if (closed_) return;
  queue_.emplace_back(std::move(frame));
  cv_.SignalAll();
}

bool HostLink::Flush(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  troupe::MutexLock lock(&mu_);
  while (!closed_ && (!queue_.empty() || writing_)) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return !closed_ && queue_.empty() && !writing_;
}

void HostLink::Close(const absl::Status& why) {
  Fail(why);
  if (!started_) {
    bool report = false;
    {
      troupe::MutexLock lock(&mu_);
      report = !std::exchange(closed_reported_, true);
    }
    if (report && on_closed_) on_closed_(why);
    return;
  }
  if (writer_.joinable()) writer_.join();
  if (reader_.joinable()) reader_.join();
}

void HostLink::Fail(const absl::Status& why) {
  std::deque<Item> dropped;
  std::vector<std::function<void()>> resume;
  std::string reason;
  {
    troupe::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    close_reason_ = troupe::StrCat("the link to ", name_, " closed: ", why.message());
    reason = close_reason_;
    dropped.swap(queue_);
    queued_bytes_ = 0;
    resume.swap(parked_);
    cv_.SignalAll();
  }
  ::shutdown(fd_, SHUT_RDWR);  // ends a read or write under way
  for (Item& item : dropped) {
    if (auto* outgoing = std::get_if<Outgoing>(&item)) {
      Undeliverable(std::move(*outgoing), reason);
    }
  }
  for (auto& fn : resume) fn();
}

void HostLink::Undeliverable(Outgoing outgoing, std::string_view reason) {
  const std::string node =
      outgoing.to_node.empty() ? system_->options().node_name : outgoing.to_node;
  system_->Undeliverable(node, outgoing.to, std::move(outgoing.message), reason);
}

void HostLink::WriterLoop() {
  for (;;) {
    std::vector<Outgoing> taken;
    troupe::v1::HostFrame frame;
    {
      troupe::MutexLock lock(&mu_);
      while (queue_.empty() && !closed_) cv_.Wait(&mu_);
      if (closed_) return;
      writing_ = true;
      if (auto* control = std::get_if<troupe::v1::HostFrame>(&queue_.front())) {
        frame = std::move(*control);
        queue_.pop_front();
      } else {
        uint64_t bytes = 0;
        while (!queue_.empty() && taken.size() < kBatchEnvelopes && bytes < kBatchBytes) {
          auto* outgoing = std::get_if<Outgoing>(&queue_.front());
          if (outgoing == nullptr) break;
          bytes += SizeOf(outgoing->message);
          taken.push_back(std::move(*outgoing));
          queue_.pop_front();
        }
      }
    }
    uint64_t written = 0;
    if (!taken.empty()) {
      troupe::v1::EnvelopeBatch* batch = frame.mutable_envelopes();
      for (const Outgoing& outgoing : taken) {
        troupe::v1::Envelope* envelope = batch->add_envelopes();
        envelope->set_to(outgoing.to);
        if (!outgoing.to_node.empty()) envelope->set_to_node(outgoing.to_node);
        if (outgoing.message.sender() != nullptr) {
          envelope->set_from(system_->FormatAddress(outgoing.message.sender()));
        }
        envelope->set_type(std::string(outgoing.message.type()));
        envelope->set_payload(std::string(outgoing.message.payload()));
        written += SizeOf(outgoing.message);
      }
    }
    if (absl::Status s = WriteFrame(fd_, frame); !s.ok()) {
      Fail(s);
      std::string reason;
      {
        troupe::MutexLock lock(&mu_);
        reason = close_reason_;
      }
      for (Outgoing& outgoing : taken) Undeliverable(std::move(outgoing), reason);
      return;
    }
    std::vector<std::function<void()>> resume;
    {
      troupe::MutexLock lock(&mu_);
      queued_bytes_ = queued_bytes_ > written ? queued_bytes_ - written : 0;
      if (queued_bytes_ < options_.low_water_bytes) resume.swap(parked_);
      writing_ = false;
      if (queue_.empty()) cv_.SignalAll();  // Flush
    }
    for (auto& fn : resume) fn();
  }
}

void HostLink::ReaderLoop() {
  troupe::v1::HostFrame frame;
  std::string buffer;
  absl::Status why;
  for (;;) {
    absl::Status s = ReadFrame(fd_, &frame, &buffer, options_.max_frame_bytes);
    if (!s.ok()) {
      why = absl::IsOutOfRange(s) ? absl::UnavailableError("the other end closed it") : s;
      break;
    }
    if (frame.has_envelopes()) {
      HandleEnvelopes(frame.envelopes());
    } else if (frame.has_undeliverable()) {
      HandleReport(frame.undeliverable());
    } else if (absl::Status handled = on_frame_(frame); !handled.ok()) {
      why = handled;
      break;
    }
  }
  Fail(why);
  absl::Status reported;
  {
    troupe::MutexLock lock(&mu_);
    if (closed_reported_) return;
    closed_reported_ = true;
    reported = absl::Status(why.code(), close_reason_);
  }
  if (on_closed_) on_closed_(reported);
}

void HostLink::HandleEnvelopes(const troupe::v1::EnvelopeBatch& batch) {
  troupe::v1::HostFrame report;
  for (const troupe::v1::Envelope& envelope : batch.envelopes()) {
    absl::Status s = deliver_(envelope);
    if (s.ok()) continue;
    if (absl::IsNotFound(s)) {
      troupe::v1::LinkReport* r = report.mutable_undeliverable();
      if (r->reason().empty()) r->set_reason(std::string(s.message()));
      *r->add_undeliverable() = envelope;
    } else {
      LogWarning(name_, ": dropped a message of type ", Quoted(envelope.type()), " for ",
                 envelope.to(), ": ", s.message());
    }
  }
  if (report.has_undeliverable()) SendFrame(std::move(report));
}

void HostLink::HandleReport(const troupe::v1::LinkReport& report) {
  for (const troupe::v1::Envelope& envelope : report.undeliverable()) {
    if (options_.accept_report && !options_.accept_report(envelope)) {
      LogWarning(name_, ": ignored a report of an envelope it was never sent (to ",
                 envelope.to_node().empty() ? "this node" : Quoted(envelope.to_node()), " id ",
                 envelope.to(), ")");
      continue;
    }
    runtime::ActorRef sender;
    if (!envelope.from().empty()) {
      // From outside: an id never handed out stays unused (ParseAddress would
      // move the next id past it).
      absl::StatusOr<runtime::ActorRef> parsed = system_->ParseExternalAddress(envelope.from());
      if (parsed.ok()) sender = *std::move(parsed);
    }
    Undeliverable(Outgoing{envelope.to_node(), envelope.to(),
                           runtime::Message::Make(envelope.type(), envelope.payload(),
                                                  sender.get())},
                  report.reason());
  }
}

}  // namespace troupe::isolation
