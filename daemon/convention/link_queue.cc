// link_queue.cc - see link_queue.h.
#include "daemon/convention/link_queue.h"

#include <algorithm>
#include <utility>

namespace troupe::convention {

LinkQueue::PushResult LinkQueue::Push(uint64_t to, runtime::Message& message) {
  PushResult result;
  troupe::MutexLock lock(&mu_);
  if (state_ == State::kClosed) return result;
  result.accepted = true;
  bytes_ += SizeOf(message);
  queue_.push_back(Outgoing{to, std::move(message)});
  result.over_bound = bytes_ >= options_.high_water_bytes;
  if (state_ == State::kIdle) {
    state_ = State::kConnecting;
    result.step.connect = true;
  } else if (state_ == State::kConnected) {
    TakeBatchLocked(&result.step);
  }
  return result;
}

bool LinkQueue::ResumeWhenRoom(std::function<void()> resume) {
  troupe::MutexLock lock(&mu_);
  if (state_ == State::kClosed || bytes_ < options_.low_water_bytes) return false;
  parked_.push_back(std::move(resume));
  return true;
}

LinkStep LinkQueue::Connected() {
  LinkStep step;
  troupe::MutexLock lock(&mu_);
  if (state_ != State::kConnecting) return step;
  state_ = State::kConnected;
  if (!queue_.empty()) TakeBatchLocked(&step);
  return step;
}

LinkStep LinkQueue::ConnectFailed(std::string why) {
  LinkStep step;
  troupe::MutexLock lock(&mu_);
  if (state_ != State::kConnecting) return step;
  state_ = State::kIdle;
  FailQueuedLocked(std::move(why), &step);
  return step;
}

LinkStep LinkQueue::WriteDone() {
  LinkStep step;
  troupe::MutexLock lock(&mu_);
  FreeInFlightLocked();
  if (state_ == State::kClosed) {
    ResumeIfRoomLocked(&step);
    return step;
  }
  if (broken_while_writing_) {
    AfterBreakLocked(&step);
  } else if (!queue_.empty()) {
    TakeBatchLocked(&step);
  } else {
    state_ = State::kConnected;
  }
  ResumeIfRoomLocked(&step);
  return step;
}

LinkStep LinkQueue::WriteFailed(std::string why) {
  LinkStep step;
  troupe::MutexLock lock(&mu_);
  for (Outgoing& o : in_flight_) step.failed.push_back(std::move(o));
  step.reason = std::move(why);
  FreeInFlightLocked();
  if (state_ != State::kClosed) AfterBreakLocked(&step);
  ResumeIfRoomLocked(&step);
  return step;
}

LinkStep LinkQueue::Broken() {
  LinkStep step;
  troupe::MutexLock lock(&mu_);
  if (state_ == State::kWriting) {
    broken_while_writing_ = true;
  } else if (state_ == State::kConnected || state_ == State::kConnecting) {
    AfterBreakLocked(&step);
  }
  return step;
}

LinkStep LinkQueue::Close(std::string why) {
  LinkStep step;
  troupe::MutexLock lock(&mu_);
  if (state_ == State::kClosed) return step;
  state_ = State::kClosed;
  FailQueuedLocked(std::move(why), &step);
  return step;
}

uint64_t LinkQueue::queued() const {
  troupe::MutexLock lock(&mu_);
  return queue_.size() + in_flight_count_;
}

uint64_t LinkQueue::bytes() const {
  troupe::MutexLock lock(&mu_);
  return bytes_;
}

bool LinkQueue::closed() const {
  troupe::MutexLock lock(&mu_);
  return state_ == State::kClosed;
}

size_t LinkQueue::parked() const {
  troupe::MutexLock lock(&mu_);
  return parked_.size();
}

void LinkQueue::TakeBatchLocked(LinkStep* step) {
  in_flight_.clear();
  uint64_t batch_bytes = 0;
  while (!queue_.empty() && in_flight_.size() < options_.batch_envelopes &&
         batch_bytes < options_.batch_bytes) {
    const uint64_t size = SizeOf(queue_.front().message);
    batch_bytes += size;
    in_flight_bytes_ += size;
    in_flight_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  in_flight_count_ = in_flight_.size();
  state_ = State::kWriting;
  step->write = true;
}

void LinkQueue::FreeInFlightLocked() {
  in_flight_.clear();  // written (the peer's now) or moved to `failed`
  bytes_ -= std::min(bytes_, in_flight_bytes_);
  in_flight_bytes_ = 0;
  in_flight_count_ = 0;
}

void LinkQueue::FailQueuedLocked(std::string why, LinkStep* step) {
  for (Outgoing& o : queue_) {
    bytes_ -= std::min(bytes_, SizeOf(o.message));
    step->failed.push_back(std::move(o));
  }
  queue_.clear();
  step->reason = std::move(why);
  ResumeIfRoomLocked(step);
}

void LinkQueue::ResumeIfRoomLocked(LinkStep* step) {
  if (parked_.empty()) return;
  if (state_ != State::kClosed && bytes_ >= options_.low_water_bytes) return;
  step->resume.swap(parked_);
}

void LinkQueue::AfterBreakLocked(LinkStep* step) {
  broken_while_writing_ = false;
  if (queue_.empty()) {
    state_ = State::kIdle;
  } else {
    state_ = State::kConnecting;
    step->connect = true;
  }
}

}  // namespace troupe::convention
