// connection_pool.h - the threads that serve troupe-http's connections, with
// a bound: `serving` threads each serve one connection at a time (keep-alive
// included); up to `serving` more connections wait for one; a connection
// beyond that is handed to one refusal thread, which reads its request (with
// the read timeout) and answers 503 with a JSON error and
// "Connection: close" (Refusing() tells the request handlers so).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "daemon/common/mutex.h"
#include "httplib.h"

namespace troupe::http {

class ConnectionPool final : public httplib::TaskQueue {
 public:
  explicit ConnectionPool(size_t serving);
  ~ConnectionPool() override;

  void enqueue(std::function<void()> connection) override;
  void shutdown() override;

  // True on the refusal thread: the request must get 503.
  static bool Refusing();

 private:
  void Serve();
  void Refuse();

  const size_t max_waiting_;
  troupe::Mutex mu_;
  troupe::CondVar cv_;
  std::deque<std::function<void()>> waiting_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> refused_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace troupe::http
