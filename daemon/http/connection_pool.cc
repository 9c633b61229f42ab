// connection_pool.cc - see connection_pool.h.
#include "daemon/http/connection_pool.h"

namespace troupe::http {
namespace {
// Set on the refusal thread only (troupe-http is a program, not a bundle).
thread_local bool refusing = false;
}  // namespace

ConnectionPool::ConnectionPool(size_t serving) : max_waiting_(serving < 1 ? 1 : serving) {
  for (size_t i = 0; i < max_waiting_; ++i) threads_.emplace_back([this] { Serve(); });
  threads_.emplace_back([this] { Refuse(); });
}

ConnectionPool::~ConnectionPool() { shutdown(); }

bool ConnectionPool::Refusing() { return refusing; }

void ConnectionPool::enqueue(std::function<void()> connection) {
  troupe::MutexLock lock(&mu_);
  if (waiting_.size() < max_waiting_) {
    waiting_.push_back(std::move(connection));
  } else {
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
    }
    connection();
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
    }
    connection();
  }
}

}  // namespace troupe::http
