// tell.cc - sends many tells as fast as the stream takes them.
//
//   troupe_example_tell SOCKET_OR_HOSTPORT TARGET [COUNT [TEXT]]
//
// Sends COUNT (default 1) messages {type "text", payload TEXT (default
// "hello")} to TARGET, closes the client (which writes what is still queued
// and waits for the daemon to finish the stream, so errors for the tells
// arrive first), and prints
//   sent COUNT tells in SECONDS s (RATE/s), ERRORS tell errors
// on stdout. Errors the daemon reports (unknown name, ...) are printed on
// stderr as they come (the first 10). Exit 0 when every tell was accepted,
// 1 otherwise, 2 on wrong usage.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "sdk/examples/example_common.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::cerr << "usage: " << argv[0] << " SOCKET_OR_HOSTPORT TARGET [COUNT [TEXT]]\n";
    return 2;
  }
  const long count = argc >= 4 ? std::atol(argv[3]) : 1;
  if (count < 0) {
    std::cerr << "COUNT must be a number >= 0\n";
    return 2;
  }
  const troupe::Client::Message message{"text", argc == 5 ? argv[4] : "hello", ""};
  std::unique_ptr<troupe::Client> client = troupe::examples::ConnectOrExplain(argv[1]);
  if (client == nullptr) return 1;
  std::atomic<long> errors{0};
  client->Subscribe(nullptr, [&errors](absl::Status error) {
    if (errors.fetch_add(1) < 10) std::cerr << error << "\n";
  });

  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    if (absl::Status sent = client->Tell(argv[2], message); !sent.ok()) {
      std::cerr << sent << "\n";
      return 1;
    }
  }
  client.reset();  // flush, and collect the errors for the last tells
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("sent %ld tells in %.3f s (%.0f/s), %ld tell errors\n", count, seconds,
              seconds > 0 ? count / seconds : 0.0, errors.load());
  return errors.load() == 0 ? 0 : 1;
}
