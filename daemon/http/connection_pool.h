// connection_pool.h - the threads that serve troupe-http's connections, with
// a bound: `serving` threads each serve one connection at a time (keep-alive
// included); up to `serving` more connections wait for one. A connection
// beyond that is handed to one of a few refusal threads, which read its
// request (with the read timeout) and answer 503 with a JSON error, then
// close it (Refusing() tells the request checks so). When the refusal
// threads are behind by more than kMaxRefusing connections, enqueue waits:
// httplib's accept loop stops and new connections wait in the kernel's
// listen backlog, so nothing here grows without bound.
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
  static constexpr size_t kRefusalThreads = 4;
  static constexpr size_t kMaxRefusing = 64;

  explicit ConnectionPool(size_t serving);
  ~ConnectionPool() override;

  void enqueue(std::function<void()> connection) override;
  void shutdown() override;

  // True on a refusal thread: the request must get 503.
  static bool Refusing();

 private:
  void Serve();
  void Refuse();

  const size_t serving_;
  troupe::Mutex mu_;
  troupe::CondVar cv_;
  std::deque<std::function<void()>> waiting_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> refused_ ABSL_GUARDED_BY(mu_);
  size_t busy_ ABSL_GUARDED_BY(mu_) = 0;  // connections being served
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace troupe::http
