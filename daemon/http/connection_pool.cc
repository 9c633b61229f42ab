// connection_pool.cc - see connection_pool.h.
#include "daemon/http/connection_pool.h"

namespace troupe::http {
namespace {
// Set on the refusal threads only (troupe-http is a program, not a bundle).
thread_local bool refusing = false;
}  // namespace

ConnectionPool::ConnectionPool(size_t serving) : serving_(serving < 1 ? 1 : serving) {
  for (size_t i = 0; i < serving_; ++i) threads_.emplace_back([this] { Serve(); });
  for (size_t i = 0; i < kRefusalThreads; ++i) threads_.emplace_back([this] { Refuse(); });
}

ConnectionPool::~ConnectionPool() { shutdown(); }

bool ConnectionPool::Refusing() { return refusing; }

void ConnectionPool::enqueue(std::function<void()> connection) {
  troupe::MutexLock lock(&mu_);
  // Served, or waiting to be: at most twice the serving threads.
  if (busy_ + waiting_.size() < 2 * serving_) {
    waiting_.push_back(std::move(connection));
  } else {
    while (refused_.size() >= kMaxRefusing && !stopping_) cv_.Wait(&mu_);
    refused_.push_back(std::move(connection));
  }
  cv_.SignalAll();
}

void ConnectionPool::shutdown() {
  {
    troupe::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.SignalAll();
  }
  for (std::thread& t : threads_) t.join();
}

void ConnectionPool::Serve() {
  for (;;) {
    std::function<void()> connection;
    {
      troupe::MutexLock lock(&mu_);
      while (waiting_.empty() && !stopping_) cv_.Wait(&mu_);
      if (waiting_.empty()) return;  // stopping, nothing left
      connection = std::move(waiting_.front());
      waiting_.pop_front();
      ++busy_;
    }
    connection();
    troupe::MutexLock lock(&mu_);
    --busy_;
  }
}

void ConnectionPool::Refuse() {
  refusing = true;
  for (;;) {
    std::function<void()> connection;
    {
      troupe::MutexLock lock(&mu_);
      while (refused_.empty() && !stopping_) cv_.Wait(&mu_);
      if (refused_.empty()) return;
      connection = std::move(refused_.front());
      refused_.pop_front();
      cv_.SignalAll();  // room for a waiting enqueue
    }
    connection();
  }
}

}  // namespace troupe::http
