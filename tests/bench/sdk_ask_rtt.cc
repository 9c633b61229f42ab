// sdk_ask_rtt.cc - the C++ half of python_ask_bench.py: ask RTT of the C++
// client (troupe::Client::Ask) to one actor of a running troupd, measured
// against the same daemon in the same run as the Python client.
//
//   sdk_ask_rtt SOCKET TARGET WARMUP COUNT
//
// Prints "RESULT sdk_ask_rtt_p50 <us> us" and "RESULT sdk_ask_rtt_p99 <us> us".
// Exit 1 on any failed ask (the error on stderr), 2 on wrong usage.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "troupe/client.h"

namespace {

double Percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  return samples[static_cast<size_t>(p * static_cast<double>(samples.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: " << argv[0] << " SOCKET TARGET WARMUP COUNT\n";
    return 2;
  }
  const std::string target = argv[2];
  const int warmup = std::atoi(argv[3]);
  const int count = std::atoi(argv[4]);
  if (warmup < 0 || count <= 0) {
    std::cerr << "WARMUP must be >= 0 and COUNT > 0\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<troupe::Client>> client = troupe::Client::Connect(argv[1]);
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }
  std::vector<double> rtt_us;
  rtt_us.reserve(static_cast<size_t>(count));
  for (int i = 0; i < warmup + count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<troupe::Client::Message> reply =
        (*client)->Ask(target, {"text", "ping", ""}, absl::Seconds(10));
    const auto end = std::chrono::steady_clock::now();
    if (!reply.ok()) {
      std::cerr << reply.status() << "\n";
      return 1;
    }
    if (i >= warmup)
      rtt_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::printf("RESULT sdk_ask_rtt_p50 %.1f us\n", Percentile(rtt_us, 0.5));
  std::printf("RESULT sdk_ask_rtt_p99 %.1f us\n", Percentile(rtt_us, 0.99));
  return 0;
}
