// message_stream.cc - MessageStream: the outbox, the reader and the ask deadlines.
#include "sdk/client/message_stream.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "proto/grpc_status.h"

namespace troupe::client_internal {
namespace {

// Bytes a frame adds to a batch besides its strings (ids, tags, lengths).
constexpr size_t kFrameOverhead = 24;
// Deadlines further out than this are treated as this far out.
constexpr absl::Duration kFarFuture = absl::Hours(24 * 365);

// "<message> (<CODE>)", or what an OK end of the stream means.
std::string Describe(const grpc::Status& status) {
  if (status.ok()) return "the daemon ended the stream";
  absl::Status converted = FromGrpcStatus(status);
  std::string code = absl::StatusCodeToString(converted.code());
  if (converted.message().empty()) return code;
  return absl::StrCat(converted.message(), " (", code, ")");
}

MessageStream::Clock::time_point DeadlineAfter(absl::Duration timeout) {
  return MessageStream::Clock::now() +
         std::chrono::duration_cast<MessageStream::Clock::duration>(
             absl::ToChronoNanoseconds(std::min(timeout, kFarFuture)));
}

}  // namespace

MessageStream::MessageStream(const std::shared_ptr<grpc::Channel>& channel, std::string target)
    : target_(std::move(target)), stub_(v1::Messaging::NewStub(channel)) {}

absl::StatusOr<std::unique_ptr<MessageStream>> MessageStream::Open(
    const std::shared_ptr<grpc::Channel>& channel, std::string target, const std::string& token,
    Clock::time_point deadline) {
  std::unique_ptr<MessageStream> stream(new MessageStream(channel, std::move(target)));
  MessageStream* raw = stream.get();
  if (!token.empty()) raw->context_.AddMetadata("authorization", "Bearer " + token);
  raw->stream_ = raw->stub_->PrepareAsyncConnect(&raw->context_, &raw->cq_);
  raw->completion_thread_ = std::thread([raw] { raw->CompletionLoop(); });
  raw->stream_->StartCall(ToTag(Tag::kStart));

  bool hello = false;
  bool finished = false;
  grpc::Status finish_status;
  {
    std::unique_lock<std::mutex> lock(raw->mu_);
    raw->state_cv_.wait_until(lock, deadline, [raw] { return raw->hello_ || raw->finished_; });
    hello = raw->hello_;
    finished = raw->finished_;
    if (finished) finish_status = raw->finish_status_;
  }
  if (hello) return stream;
  if (finished) {
    absl::Status status = FromGrpcStatus(finish_status);
    if (status.ok() || status.code() == absl::StatusCode::kUnavailable) {
      return absl::UnavailableError(
          absl::StrCat("troupd at ", raw->target_,
                       " ended the message stream before its hello: ", Describe(finish_status)));
    }
    return status;  // e.g. UNAUTHENTICATED, with the daemon's advice
  }
  raw->context_.TryCancel();
  return absl::UnavailableError(absl::StrCat(
      "troupd at ", raw->target_,
      " accepted the connection but sent no hello in time; is it troupd, and is it overloaded?"));
}

MessageStream::~MessageStream() {
  if (OnClientThread()) {
    std::fprintf(stderr,
                 "troupe::Client destroyed from one of its own callbacks; that would deadlock\n");
    std::abort();
  }
  (void)Close(kCloseGrace);
  {
    // The queue may shut down only with no alarm set: a set one is
    // cancelled, and OnAlarm does not set it again.
    std::lock_guard<std::mutex> lock(mu_);
    alarm_stop_ = true;
    if (alarm_set_) alarm_.Cancel();
  }
  cq_.Shutdown();
  if (completion_thread_.joinable()) completion_thread_.join();
}

absl::Status MessageStream::Close(absl::Duration grace) {
  if (OnClientThread()) {
    return absl::FailedPreconditionError(
        "Client::Close called from a client callback would wait for itself");
  }
  std::vector<PendingAsk> cancelled;
  absl::Status lost_before;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) {  // closed, or closing on another thread: its result
      state_cv_.wait(lock, [this] { return close_result_.has_value(); });
      return *close_result_;
    }
    closing_ = true;
    lost_before = lost_;
    for (auto& [id, ask] : pending_) cancelled.push_back(std::move(ask));
    pending_.clear();
    deadlines_.clear();
  }
  for (PendingAsk& ask : cancelled) {
    Complete(ask.done, absl::CancelledError(absl::StrCat("the client was closed before ask to '",
                                                         ask.to, "' was answered")));
  }
  Action action;
  {
    std::lock_guard<std::mutex> lock(out_mu_);
    if (refuse_.ok()) refuse_ = absl::CancelledError("the client is closing");
    half_close_ = true;
    space_cv_.notify_all();
    action = NextActionLocked();
  }
  Perform(std::move(action));
  absl::Status result;
  {
    std::unique_lock<std::mutex> lock(mu_);
    const absl::Duration wait = std::clamp(grace, absl::ZeroDuration(), kFarFuture);
    const bool in_time =
        state_cv_.wait_for(lock, absl::ToChronoNanoseconds(wait), [this] { return finished_; });
    if (!in_time) {
      lock.unlock();
      context_.TryCancel();
      lock.lock();
      state_cv_.wait(lock, [this] { return finished_; });
    }
    if (!lost_before.ok()) {
      result = lost_before;
    } else if (!in_time) {
      result = absl::DeadlineExceededError(
          absl::StrCat("troupd at ", target_, " did not finish the message stream within ",
                       absl::FormatDuration(grace), "; the client cancelled it"));
    } else if (!finish_status_.ok()) {
      result = absl::Status(FromGrpcStatus(finish_status_).code(),
                            absl::StrCat("troupd at ", target_,
                                         " ended the message stream: ", Describe(finish_status_)));
    }
    close_result_ = result;
  }
  state_cv_.notify_all();
  return result;
}

absl::Status MessageStream::Tell(std::string_view to, Message message) {
  return Enqueue(/*ask_id=*/0, to, std::move(message), /*timeout_ms=*/0);
}

void MessageStream::Ask(std::string_view to, Message message, absl::Duration timeout,
                        Completion done) {
  if (timeout <= absl::ZeroDuration()) {
    Complete(done, absl::InvalidArgumentError(absl::StrCat("ask to '", std::string(to),
                                                           "': the timeout must be positive, not ",
                                                           absl::FormatDuration(timeout))));
    return;
  }
  const bool finite = timeout != absl::InfiniteDuration();
  uint32_t timeout_ms = std::numeric_limits<uint32_t>::max();  // about 49 days
  if (finite) {
    const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1)));
    timeout_ms = static_cast<uint32_t>(
        std::clamp<int64_t>(ms, 1, std::numeric_limits<uint32_t>::max() - int64_t{1}));
  }
  uint64_t id = 0;
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) {
      refused = absl::CancelledError("the client is closing");
    } else if (!lost_.ok()) {
      refused = lost_;
    } else {
      id = ++next_ask_id_;
      PendingAsk ask{std::string(to), timeout, {}, finite, std::move(done)};
      if (finite) {
        ask.deadline = DeadlineAfter(timeout);
        deadlines_.emplace(ask.deadline, id);
        ArmAlarmLocked(ask.deadline);
      }
      pending_.emplace(id, std::move(ask));
    }
  }
  if (!refused.ok()) {
    Complete(done, std::move(refused));
    return;
  }
  absl::Status queued = Enqueue(id, to, std::move(message), timeout_ms);
  if (queued.ok()) return;
  std::optional<PendingAsk> ask;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ask = TakePendingLocked(id);
  }
  if (ask) Complete(ask->done, std::move(queued));
}

void MessageStream::Subscribe(std::function<void(Message)> on_message,
                              std::function<void(absl::Status)> on_error) {
  auto handlers = std::make_shared<Handlers>(Handlers{std::move(on_message), std::move(on_error)});
  std::lock_guard<std::mutex> lock(mu_);
  handlers_ = std::move(handlers);
}

absl::Status MessageStream::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return absl::CancelledError("the client is closing");
  return lost_;
}

bool MessageStream::OnClientThread() const {
  return std::this_thread::get_id() == completion_thread_id_.load(std::memory_order_relaxed);
}

void MessageStream::Complete(Completion& done, absl::StatusOr<Message> result) {
  if (Promise* promise = std::get_if<Promise>(&done)) {
    promise->set_value(std::move(result));
  } else if (Callback& callback = std::get<Callback>(done); callback) {
    callback(std::move(result));
  }
}

// ---- The outbox ----

absl::Status MessageStream::Enqueue(uint64_t ask_id, std::string_view to, Message message,
                                    uint32_t timeout_ms) {
  const size_t bytes = to.size() + message.type.size() + message.payload.size() + kFrameOverhead;
  Action action;
  {
    std::unique_lock<std::mutex> lock(out_mu_);
    // Backpressure; never on the reader thread, which is what drains the queue.
    if (queued_bytes_ >= kMaxQueuedBytes && refuse_.ok() && !OnClientThread()) {
      ++space_waiters_;
      space_cv_.wait(lock, [this] { return queued_bytes_ < kMaxQueuedBytes || !refuse_.ok(); });
      --space_waiters_;
    }
    if (!refuse_.ok()) return refuse_;
    if (queue_.empty() || queue_.back().bytes + bytes > kMaxBatchBytes) {
      std::unique_ptr<v1::ClientBatch> batch;
      if (spares_.empty()) {
        batch = std::make_unique<v1::ClientBatch>();
      } else {
        batch = std::move(spares_.back());
        spares_.pop_back();
      }
      queue_.push_back(QueuedBatch{std::move(batch), 0});
    }
    QueuedBatch& back = queue_.back();
    // A cleared frame from an earlier batch is reused: the short strings are
    // copied into its buffers (no allocation once the batches have grown to
    // their working size); the payload is moved in, never copied.
    v1::ClientFrame* frame = back.batch->add_frames();
    frame->set_id(ask_id != 0 ? ask_id : (kTellIdBit | ++next_tell_seq_));
    frame->mutable_to()->assign(to.data(), to.size());
    frame->mutable_type()->assign(message.type);
    *frame->mutable_payload() = std::move(message.payload);
    frame->set_ask(ask_id != 0);
    frame->set_timeout_ms(timeout_ms);
    back.bytes += bytes;
    queued_bytes_ += bytes;
    action = NextActionLocked();
  }
  Perform(std::move(action));
  return absl::OkStatus();
}

MessageStream::Action MessageStream::NextActionLocked() {
  Action action;
  if (writing_) return action;
  if (!dead_ && started_) {
    if (!queue_.empty()) {
      QueuedBatch next = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= next.bytes;
      if (space_waiters_ > 0) space_cv_.notify_all();
      writing_ = true;
      action.write = std::move(next.batch);
      return action;
    }
    if (half_close_ && !writes_done_sent_) {
      writes_done_sent_ = true;
      writing_ = true;
      action.writes_done = true;
      return action;
    }
  }
  if (read_done_ && !finish_started_) {
    finish_started_ = true;
    action.finish = true;
  }
  return action;
}

void MessageStream::Perform(Action action) {
  if (action.write != nullptr) {
    // Write serializes the batch before it returns, so it can be reused now.
    stream_->Write(*action.write, ToTag(Tag::kWrite));
    action.write->Clear();
    std::lock_guard<std::mutex> lock(out_mu_);
    if (spares_.size() < 2) spares_.push_back(std::move(action.write));
  }
  if (action.writes_done) stream_->WritesDone(ToTag(Tag::kWritesDone));
  if (action.finish) stream_->Finish(&finish_status_, ToTag(Tag::kFinish));
}

void MessageStream::MarkDeadLocked() {
  dead_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  if (refuse_.ok())
    refuse_ = absl::UnavailableError(absl::StrCat("connection to ", target_, " lost"));
  space_cv_.notify_all();
}

// ---- The reader (completion-queue thread) ----

void MessageStream::CompletionLoop() {
  completion_thread_id_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
    switch (static_cast<Tag>(reinterpret_cast<uintptr_t>(tag))) {
      case Tag::kStart:
        OnStart(ok);
        break;
      case Tag::kRead:
        OnRead(ok);
        break;
      case Tag::kWrite:
      case Tag::kWritesDone:
        OnWriteDone(ok);
        break;
      case Tag::kFinish:
        OnFinish();
        break;
      case Tag::kAlarm:
        OnAlarm();
        break;
    }
  }
}

void MessageStream::OnStart(bool ok) {
  if (ok) stream_->Read(&in_, ToTag(Tag::kRead));
  Action action;
  {
    std::lock_guard<std::mutex> lock(out_mu_);
    if (ok) {
      started_ = true;
    } else {
      read_done_ = true;
      MarkDeadLocked();
    }
    action = NextActionLocked();
  }
  Perform(std::move(action));
}

void MessageStream::OnRead(bool ok) {
  if (!ok) {
    Action action;
    {
      std::lock_guard<std::mutex> lock(out_mu_);
      read_done_ = true;
      MarkDeadLocked();
      action = NextActionLocked();
    }
    Perform(std::move(action));
    return;
  }
  std::shared_ptr<const Handlers> current = handlers();
  for (v1::ServerFrame& frame : *in_.mutable_frames()) Dispatch(frame, current.get());
  stream_->Read(&in_, ToTag(Tag::kRead));
}

void MessageStream::Dispatch(v1::ServerFrame& frame, const Handlers* handlers) {
  switch (frame.kind()) {
    case v1::ServerFrame::KIND_HELLO: {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (hello_) return;
        address_ = frame.from();
        hello_ = true;
      }
      state_cv_.notify_all();
      return;
    }
    case v1::ServerFrame::KIND_REPLY:
    case v1::ServerFrame::KIND_ERROR: {
      const uint64_t id = frame.id();
      const bool error = frame.kind() == v1::ServerFrame::KIND_ERROR;
      if (error && (id == 0 || (id & kTellIdBit) != 0)) {
        if (id != 0) tell_errors_.fetch_add(1, std::memory_order_relaxed);
        absl::Status status = StatusFromCode(frame.code(), std::move(*frame.mutable_error()));
        if (handlers != nullptr && handlers->on_error) handlers->on_error(std::move(status));
        return;
      }
      std::optional<PendingAsk> ask;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ask = TakePendingLocked(id);
      }
      if (!ask) return;  // timed out (or cancelled) before the answer came: dropped
      if (error) {
        Complete(ask->done, StatusFromCode(frame.code(), std::move(*frame.mutable_error())));
      } else {
        Complete(ask->done,
                 Message{std::move(*frame.mutable_type()), std::move(*frame.mutable_payload()),
                         std::move(*frame.mutable_from())});
      }
      return;
    }
    case v1::ServerFrame::KIND_INCOMING:
      if (handlers != nullptr && handlers->on_message) {
        handlers->on_message(Message{std::move(*frame.mutable_type()),
                                     std::move(*frame.mutable_payload()),
                                     std::move(*frame.mutable_from())});
      }
      return;
    default:
      return;  // a kind from a newer daemon: ignored
  }
}

void MessageStream::OnWriteDone(bool ok) {
  Action action;
  {
    std::lock_guard<std::mutex> lock(out_mu_);
    writing_ = false;
    if (!ok) MarkDeadLocked();
    action = NextActionLocked();
  }
  Perform(std::move(action));
}

void MessageStream::OnFinish() {
  absl::Status error;
  std::vector<PendingAsk> failed;
  std::shared_ptr<const Handlers> current;
  bool report = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) {
      error = absl::CancelledError(absl::StrCat("the client closed its connection to ", target_));
    } else {
      error = absl::UnavailableError(
          absl::StrCat("connection to ", target_, " lost: ", Describe(finish_status_)));
    }
    report = hello_ && !closing_;
    lost_ = error;
    for (auto& [id, ask] : pending_) failed.push_back(std::move(ask));
    pending_.clear();
    deadlines_.clear();
    finished_ = true;
    current = handlers_;
  }
  {
    std::lock_guard<std::mutex> lock(out_mu_);
    refuse_ = error;
    space_cv_.notify_all();
  }
  state_cv_.notify_all();
  for (PendingAsk& ask : failed) Complete(ask.done, error);
  if (report && current != nullptr && current->on_error) current->on_error(error);
}

std::optional<MessageStream::PendingAsk> MessageStream::TakePendingLocked(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return std::nullopt;
  std::optional<PendingAsk> ask(std::move(it->second));
  pending_.erase(it);
  if (ask->has_deadline) deadlines_.erase({ask->deadline, id});
  return ask;
}

std::shared_ptr<const MessageStream::Handlers> MessageStream::handlers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return handlers_;
}

// ---- Ask deadlines (the alarm) ----

void MessageStream::ArmAlarmLocked(Clock::time_point at) {
  if (alarm_stop_) return;
  if (!alarm_set_) {
    alarm_set_ = true;
    alarm_at_ = at;
    // gRPC takes a monotonic gpr_timespec; steady_clock is monotonic too.
    const int64_t wait_us = std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(at - Clock::now()).count());
    alarm_.Set(&cq_,
               gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                            gpr_time_from_micros(wait_us, GPR_TIMESPAN)),
               ToTag(Tag::kAlarm));
  } else if (at < alarm_at_) {
    // OnAlarm runs at once and sets it again for the earliest deadline.
    alarm_at_ = at;
    alarm_.Cancel();
  }
}

void MessageStream::OnAlarm() {
  std::vector<PendingAsk> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    alarm_set_ = false;
    const Clock::time_point now = Clock::now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const uint64_t id = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      auto it = pending_.find(id);
      if (it == pending_.end()) continue;
      expired.push_back(std::move(it->second));
      pending_.erase(it);
    }
    if (!deadlines_.empty()) ArmAlarmLocked(deadlines_.begin()->first);
  }
  for (PendingAsk& ask : expired) {
    Complete(ask.done, absl::DeadlineExceededError(absl::StrCat(
                           "ask to '", ask.to, "' got no reply within ",
                           absl::FormatDuration(ask.timeout))));
  }
}

}  // namespace troupe::client_internal
