// troupe_bench.cc - the Troupe benchmark driver. Runs the workloads of
// tests/bench/PEERS.md on the threaded runtime with 2 workers, with actors
// from bench_actors.so loaded through the C ABI, and prints one line per
// figure: RESULT <name> <value> <unit>.
//
//   troupe_bench [--quick] [--only pingpong|fanin|spawn|mailbox] [--library PATH]
//
// --quick divides every count by 100 (CI smoke run). Timing covers the work
// from the first message to the last reply; setup and teardown are outside.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/loader/plugin_library.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/mailbox.h"

namespace {

using troupe::runtime::ActorRef;
using troupe::runtime::ActorSystem;
using troupe::runtime::Message;

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Result(const char* name, double value, const char* unit) {
  std::printf("RESULT %s %.1f %s\n", name, value, unit);
  std::fflush(stdout);
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "troupe_bench: %s\n", what.c_str());
  std::exit(1);
}

long RssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6) * 1024;
  }
  return 0;
}

ActorRef Create(ActorSystem& system, const char* class_name) {
  absl::StatusOr<ActorRef> ref = system.CreateActor(class_name);
  if (!ref.ok()) Die(std::string(ref.status().message()));
  return *std::move(ref);
}

Message AskOrDie(ActorSystem& system, const ActorRef& to, std::string_view type,
                 std::string_view payload) {
  absl::StatusOr<Message> reply = system.Ask(to, Message::Make(type, payload), absl::Seconds(600));
  if (!reply.ok()) Die(std::string(reply.status().message()));
  if (reply->type() != "done" && reply->type() != "pong") {
    Die("unexpected reply '" + std::string(reply->type()) + "': " + std::string(reply->payload()));
  }
  return *std::move(reply);
}

void PingPong(ActorSystem& system, uint64_t rounds) {
  ActorRef ponger = Create(system, "bench.Ponger");
  ActorRef pinger = Create(system, "bench.Pinger");
  std::string start = system.FormatAddress(ponger.get()) + " " + std::to_string(rounds);
  auto t0 = Clock::now();
  AskOrDie(system, pinger, "start", start);
  double secs = Seconds(t0);
  std::fprintf(stderr, "troupe pingpong: %llu round trips in %.3f s\n",
               static_cast<unsigned long long>(rounds), secs);
  Result("pingpong_rate", rounds / secs, "round_trips/s");
  (void)system.RequestExit(ponger);
  (void)system.RequestExit(pinger);
}

void FanIn(ActorSystem& system, uint64_t per_sender) {
  ActorRef counter = Create(system, "bench.Counter");
  ActorRef a = Create(system, "bench.Sender");
  ActorRef b = Create(system, "bench.Sender");
  std::string counter_address = system.FormatAddress(counter.get());
  std::string start = counter_address + " " + std::to_string(per_sender);
  // The counter answers "done" to the asker once every message has arrived.
  // Shared with the waiter actor, which outlives this frame until it exits.
  struct Done {
    troupe::Mutex mu;
    troupe::CondVar cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  ActorRef waiter = system.SpawnNative([done](troupe::runtime::Cell*, Message& m) {
    if (m.type() != "done") return;
    troupe::MutexLock lock(&done->mu);
    done->done = true;
    done->cv.Signal();
  });
  auto t0 = Clock::now();
  (void)system.Tell(counter, Message::Make("expect", std::to_string(2 * per_sender)), waiter);
  (void)system.Tell(a, Message::Make("start", start));
  (void)system.Tell(b, Message::Make("start", start));
  {
    troupe::MutexLock lock(&done->mu);
    while (!done->done) done->cv.Wait(&done->mu);
  }
  double secs = Seconds(t0);
  std::fprintf(stderr, "troupe fanin: %llu messages in %.3f s\n",
               static_cast<unsigned long long>(2 * per_sender), secs);
  Result("fanin_rate", 2 * per_sender / secs, "msgs/s");
  for (const ActorRef& r : {counter, a, b, waiter}) (void)system.RequestExit(r);
}

void Spawn(ActorSystem& system, uint64_t n) {
  std::vector<ActorRef> actors;
  actors.reserve(n);
  long rss_before = RssBytes();
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < n; ++i) actors.push_back(Create(system, "bench.Idle"));
  // Started in FIFO order: when the last one answers, all have been made.
  AskOrDie(system, actors.back(), "ping", "");
  double secs = Seconds(t0);
  long rss_after = RssBytes();
  std::fprintf(stderr, "troupe spawn: %llu actors in %.3f s, RSS +%ld KiB\n",
               static_cast<unsigned long long>(n), secs, (rss_after - rss_before) / 1024);
  Result("spawn_rate", n / secs, "actors/s");
  Result("spawn_memory", static_cast<double>(rss_after - rss_before) / n, "bytes/actor");
  for (const ActorRef& r : actors) (void)system.RequestExit(r);
}

// Raw mailbox throughput: `producers` threads push, this thread pops.
void MailboxPushPop(int producers, uint64_t per_producer) {
  troupe::runtime::Mailbox mailbox;
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&mailbox, per_producer] {
      for (uint64_t i = 0; i < per_producer; ++i) {
        mailbox.Push(Message::Make("m", "1234").Release());
      }
    });
  }
  uint64_t total = per_producer * producers, popped = 0;
  while (popped < total) {
    troupe::runtime::Envelope* e = mailbox.Pop();
    if (e == nullptr) continue;
    Message::Adopt(e).Reset();
    ++popped;
  }
  double secs = Seconds(t0);
  for (auto& t : threads) t.join();
  std::string name = "mailbox_push_pop_" + std::to_string(producers) + "p";
  Result(name.c_str(), total / secs, "msgs/s");
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t divisor = 1;
  std::string only;
  std::string library = TROUPE_BENCH_LIBRARY;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") {
      divisor = 100;
    } else if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (arg == "--library" && i + 1 < argc) {
      library = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: troupe_bench [--quick] [--only pingpong|fanin|spawn|mailbox] "
                   "[--library PATH]\n");
      return 2;
    }
  }
  troupe::SetMinLogLevel(troupe::LogLevel::kWarning);
  absl::StatusOr<std::unique_ptr<troupe::loader::PluginLibrary>> lib =
      troupe::loader::PluginLibrary::Open(library);
  if (!lib.ok()) Die(std::string(lib.status().message()));

  auto run = [&](const char* name, auto fn) {
    if (!only.empty() && only != name) return;
    troupe::runtime::SystemOptions options;
    options.worker_threads = 2;
    ActorSystem system(options);
    absl::Status registered = system.RegisterLibrary(&(*lib)->plugin());
    if (!registered.ok()) Die(std::string(registered.message()));
    fn(system);
    system.Shutdown(absl::Seconds(120));
  };
  run("pingpong", [&](ActorSystem& s) { PingPong(s, 2'000'000 / divisor); });
  run("fanin", [&](ActorSystem& s) { FanIn(s, 2'500'000 / divisor); });
  run("spawn", [&](ActorSystem& s) { Spawn(s, 1'000'000 / divisor); });
  if (only.empty() || only == "mailbox") {
    MailboxPushPop(1, 5'000'000 / divisor);
    MailboxPushPop(2, 2'500'000 / divisor);
  }
  return 0;
}
