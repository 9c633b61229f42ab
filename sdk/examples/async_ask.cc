// async_ask.cc - many asks in flight at once over one client.
//
//   troupe_example_async_ask SOCKET_OR_HOSTPORT TARGET [COUNT [TEXT]]
//
// Fires COUNT (default 100) asks {type "text", payload "TEXT N"} (TEXT
// defaults to "hello", N counts from 0) with AskAsync and a callback, each
// with a 10 s timeout, waits for every answer, and prints
//   COUNT asks: REPLIES replies, ERRORS errors in SECONDS s
// on stdout, and the first error on stderr. Exit 0 when every ask got a
// reply, 1 otherwise, 2 on wrong usage.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "sdk/examples/example_common.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::cerr << "usage: " << argv[0] << " SOCKET_OR_HOSTPORT TARGET [COUNT [TEXT]]\n";
    return 2;
  }
  const long count = argc >= 4 ? std::atol(argv[3]) : 100;
  if (count < 0) {
    std::cerr << "COUNT must be a number >= 0\n";
    return 2;
  }
  const std::string text = argc == 5 ? argv[4] : "hello";
  std::unique_ptr<troupe::Client> client = troupe::examples::ConnectOrExplain(argv[1]);
  if (client == nullptr) return 1;

  std::mutex mu;
  std::condition_variable all_done;
  long replies = 0;
  long errors = 0;
  absl::Status first_error;
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    // The callback runs on the client's reader thread: count and return.
    client->AskAsync(argv[2], {"text", text + " " + std::to_string(i), ""}, absl::Seconds(10),
                     [&](absl::StatusOr<troupe::Client::Message> reply) {
                       std::lock_guard<std::mutex> lock(mu);
                       if (reply.ok()) {
                         ++replies;
                       } else if (errors++ == 0) {
                         first_error = reply.status();
                       }
                       if (replies + errors == count) all_done.notify_one();
                     });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    all_done.wait(lock, [&] { return replies + errors == count; });
  }
  client.reset();  // before mu and all_done go away
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%ld asks: %ld replies, %ld errors in %.3f s\n", count, replies, errors, seconds);
  if (!first_error.ok()) std::cerr << first_error << "\n";
  return errors == 0 ? 0 : 1;
}
