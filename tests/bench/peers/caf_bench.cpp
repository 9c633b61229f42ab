// Peer benchmark: the Troupe workloads implemented on CAF 0.17 (libcaf-dev).
//
// Workloads (see tests/bench/PEERS.md):
//   spawn     N idle event-based actors; creation rate + VmRSS delta per actor
//   pingpong  2 actors, N round trips, every message carries a 64-byte string
//   fanin     2 sender actors x N messages each -> 1 counting actor
//
// Output: only lines "RESULT <name> <value> <unit>" on stdout; diagnostics go
// to stderr.
//
// Usage: caf_bench [--quick] [--div D] [--pingpong N] [--fanin N-per-sender]
//                  [--spawn N] [--only spawn|pingpong|fanin]
//
// Build: g++ -O2 -std=c++17 -pthread caf_bench.cpp -lcaf_core -o caf_bench

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t payload_size = 64;
constexpr std::size_t worker_threads = 2;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Resident set size of this process in bytes, from /proc/self/status.
long long vm_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 6, "VmRSS:") == 0) return std::atoll(line.c_str() + 6) * 1024LL;
  }
  return -1;
}

void result(const char* name, double value, const char* unit) {
  std::printf("RESULT %s %.1f %s\n", name, value, unit);
  std::fflush(stdout);
}

// -- pingpong ---------------------------------------------------------------

caf::behavior ponger(caf::event_based_actor* self) {
  return {
      [self](const std::string& payload) {
        // Reply with a new message that carries a copy of the payload.
        self->send(caf::actor_cast<caf::actor>(self->current_sender()), payload);
      },
  };
}

struct pinger_state {
  std::uint64_t remaining = 0;
};

caf::behavior pinger(caf::stateful_actor<pinger_state>* self, caf::actor pong, std::uint64_t rounds,
                     std::promise<void>* done) {
  self->state.remaining = rounds;
  self->send(pong, std::string(payload_size, 'x'));
  return {
      [self, pong, done](const std::string& payload) {
        if (--self->state.remaining == 0) {
          done->set_value();
          self->quit();
          return;
        }
        self->send(pong, payload);
      },
  };
}

void run_pingpong(caf::actor_system& sys, std::uint64_t rounds) {
  std::promise<void> done;
  auto finished = done.get_future();
  auto pong = sys.spawn(ponger);
  auto start = clock_type::now();
  sys.spawn(pinger, pong, rounds, &done);
  finished.wait();
  double secs = seconds_since(start);
  caf::anon_send_exit(pong, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  std::fprintf(stderr, "caf pingpong: %llu round trips in %.3f s\n",
               static_cast<unsigned long long>(rounds), secs);
  result("caf_pingpong_rate", rounds / secs, "round_trips/s");
}

// -- fanin ------------------------------------------------------------------

struct counter_state {
  std::uint64_t received = 0;
};

caf::behavior counter(caf::stateful_actor<counter_state>* self, std::uint64_t expected,
                      std::promise<void>* done) {
  return {
      [self, expected, done](std::int32_t) {
        if (++self->state.received == expected) {
          done->set_value();
          self->quit();
        }
      },
  };
}

// Sends all of its messages in a plain loop as soon as it starts, then quits.
caf::behavior sender(caf::event_based_actor* self, caf::actor sink, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) self->send(sink, std::int32_t{1});
  self->quit();
  return {};
}

void run_fanin(caf::actor_system& sys, std::uint64_t per_sender) {
  const std::uint64_t total = 2 * per_sender;
  std::promise<void> done;
  auto finished = done.get_future();
  auto sink = sys.spawn(counter, total, &done);
  auto start = clock_type::now();
  sys.spawn(sender, sink, per_sender);
  sys.spawn(sender, sink, per_sender);
  finished.wait();
  double secs = seconds_since(start);
  sys.await_all_actors_done();
  std::fprintf(stderr, "caf fanin: %llu messages in %.3f s\n",
               static_cast<unsigned long long>(total), secs);
  result("caf_fanin_rate", total / secs, "msgs/s");
}

// -- spawn ------------------------------------------------------------------

struct spawn_sync {
  std::atomic<std::uint64_t> started{0};
  std::uint64_t expected = 0;
  std::promise<void> all_started;
};

// An idle actor: counts itself as alive once initialized, then waits for a
// message that never comes (it is killed with an exit message).
caf::behavior idle_actor(caf::event_based_actor*, spawn_sync* sync) {
  if (sync->started.fetch_add(1, std::memory_order_acq_rel) + 1 == sync->expected)
    sync->all_started.set_value();
  return {
      [](std::int32_t) {},
  };
}

void run_spawn(caf::actor_system& sys, std::uint64_t n) {
  spawn_sync sync;
  sync.expected = n;
  auto all_started = sync.all_started.get_future();
  std::vector<caf::actor> actors;
  actors.reserve(n);  // part of the per-actor cost: 8 bytes per handle
  long long rss_before = vm_rss_bytes();
  auto start = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i) actors.emplace_back(sys.spawn(idle_actor, &sync));
  all_started.wait();  // every actor has run its init and is now idle
  double secs = seconds_since(start);
  long long rss_after = vm_rss_bytes();
  for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::kill);
  actors.clear();
  actors.shrink_to_fit();
  sys.await_all_actors_done();
  std::fprintf(stderr, "caf spawn: %llu actors in %.3f s, VmRSS %lld -> %lld bytes\n",
               static_cast<unsigned long long>(n), secs, rss_before, rss_after);
  result("caf_spawn_rate", n / secs, "actors/s");
  result("caf_spawn_memory", double(rss_after - rss_before) / double(n), "bytes/actor");
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--quick] [--div D] [--pingpong N] "
               "[--fanin N-per-sender] [--spawn N] "
               "[--only spawn|pingpong|fanin]\n",
               argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t divisor = 1;
  std::uint64_t pingpong_n = 0, fanin_n = 0, spawn_n = 0;  // 0 = default
  std::string only;
  for (int i = 1; i < argc; ++i) {
    auto arg = std::string(argv[i]);
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0]);
      return argv[++i];
    };
    auto count = [&]() -> std::uint64_t {
      auto v = std::strtoull(value().c_str(), nullptr, 10);
      if (v == 0) usage(argv[0]);
      return v;
    };
    if (arg == "--quick")
      divisor = 100;
    else if (arg == "--div")
      divisor = count();
    else if (arg == "--pingpong")
      pingpong_n = count();
    else if (arg == "--fanin")
      fanin_n = count();
    else if (arg == "--spawn")
      spawn_n = count();
    else if (arg == "--only")
      only = value();
    else
      usage(argv[0]);
  }
  if (only != "" && only != "spawn" && only != "pingpong" && only != "fanin") usage(argv[0]);
  auto scaled = [&](std::uint64_t explicit_n, std::uint64_t full) {
    if (explicit_n != 0) return explicit_n;
    auto v = full / divisor;
    return v == 0 ? std::uint64_t{1} : v;
  };
  pingpong_n = scaled(pingpong_n, 2'000'000);
  fanin_n = scaled(fanin_n, 2'500'000);
  spawn_n = scaled(spawn_n, 1'000'000);

  caf::actor_system_config cfg;
  // CAF 0.17 option name (0.18+ uses "caf.scheduler.max-threads").
  cfg.set("scheduler.max-threads", worker_threads);
  caf::actor_system sys{cfg};
  if (sys.scheduler().num_workers() != worker_threads) {
    std::fprintf(stderr, "caf: expected %zu workers, got %zu\n", worker_threads,
                 sys.scheduler().num_workers());
    return 1;
  }
  std::fprintf(stderr, "caf: %zu scheduler workers\n", sys.scheduler().num_workers());

  // Spawn runs first so the RSS baseline is not polluted by memory the
  // allocator kept from the other workloads.
  if (only.empty() || only == "spawn") run_spawn(sys, spawn_n);
  if (only.empty() || only == "pingpong") run_pingpong(sys, pingpong_n);
  if (only.empty() || only == "fanin") run_fanin(sys, fanin_n);
  return 0;
}
