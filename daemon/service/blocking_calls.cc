// blocking_calls.cc - the pool's threads and its queue.
#include "daemon/service/blocking_calls.h"

#include <utility>

#include "daemon/common/strings.h"

namespace troupe::service {

BlockingCalls::BlockingCalls(Options options) : options_(options) {
  const int threads = options_.threads > 0 ? options_.threads : 1;
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

BlockingCalls::~BlockingCalls() { Stop(); }

absl::Status BlockingCalls::Run(Call call) {
  troupe::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the daemon is stopping");
  if (queue_.size() >= options_.max_queued) {
    return absl::ResourceExhaustedError(troupe::StrCat(
        "the daemon is busy: ", queue_.size(),
        " calls already wait for another daemon or the convention's leader; try again later"));
  }
  queue_.push_back(std::move(call));
  work_.Signal();
  return absl::OkStatus();
}

void BlockingCalls::Loop() {
  troupe::MutexLock lock(&mu_);
  while (true) {
    while (queue_.empty() && !stopping_) work_.Wait(&mu_);
    if (queue_.empty()) return;  // stopping, and Stop took what was queued
    Call call = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    mu_.Unlock();
    call(absl::OkStatus());
    call = nullptr;  // what the call holds goes before the next one starts
    mu_.Lock();
    --running_;
  }
}

void BlockingCalls::Stop() {
  troupe::MutexLock stopping(&stop_mu_);
  std::deque<Call> refused;
  {
    troupe::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    refused.swap(queue_);
    work_.SignalAll();
  }
  const absl::Status stopped = absl::UnavailableError("the daemon is stopping");
  for (Call& call : refused) call(stopped);
  refused.clear();
  for (std::thread& thread : threads_) thread.join();
}

size_t BlockingCalls::QueuedForTest() const {
  troupe::MutexLock lock(&mu_);
  return queue_.size();
}

size_t BlockingCalls::RunningForTest() const {
  troupe::MutexLock lock(&mu_);
  return running_;
}

}  // namespace troupe::service
