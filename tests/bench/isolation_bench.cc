// isolation_bench.cc - what running actors in an isolated host process costs
// (troupe-host, docs/isolation.md) next to running the same actors inline in
// the daemon's runtime, measured in one run of this one process:
//   ask RTT p50/p99: ActorSystem::Ask from this thread to a bench.Ponger
//     inline and in the host, in alternating blocks;
//   tells: 64-byte "m" messages told from this thread to a bench.Counter
//     inline and in the host (pausing while the link to the host is full, as
//     a client stream does), until its "done";
//   ping-pong: a bench.Pinger and a bench.Ponger both inline, and both in the
//     same host;
//   restart: SIGKILL a host, and time until a new host's Ponger (new slot of
//     ids) answers an ask: what troupd's hosting does after a crash.
// The daemon side is an ActorSystem with LocalMembers as troupd has; the host
// is the real troupe-host with bench_actors.so as a sealed memfd, confined
// as troupd confines hosts. Prints "RESULT <name> <value> <unit>" lines and,
// on stderr, the goals. Exits 1 when anything fails; exits 0 without results
// where a host cannot run (root, with a "/" other users may not search).
//
// Usage: isolation_bench [--quick] [--contended]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/isolation/isolated_host.h"
#include "daemon/isolation/library_memfd.h"
#include "daemon/isolation/local_members.h"
#include "daemon/loader/plugin_library.h"
#include "daemon/runtime/actor_system.h"
#include "tests/bench/busy_cores.h"
#include "tests/common/root_access.h"

namespace {

using troupe::bench::result_suffix;
using troupe::isolation::IsolatedHost;
using troupe::runtime::ActorRef;
using troupe::runtime::ActorSystem;
using troupe::runtime::Message;

using Clock = std::chrono::steady_clock;

// Workers of the daemon's system and of each host (troupd gives a host 1).
constexpr int kWorkers = 2;
// A node name as troupd's (host:port); nothing listens on it.
constexpr const char* kNode = "127.0.0.1:3001";
// Longest wait for a host to start or an ask to be answered.
constexpr absl::Duration kWait = absl::Seconds(60);
constexpr const char* kBundleHash = "isolation-bench";

void Result(const char* name, double value, const char* unit) {
  std::printf("RESULT %s%s %.2f %s\n", name, result_suffix.c_str(), value, unit);
  std::fflush(stdout);
}

// States a goal and whether `met`, on stderr.
void Goal(const char* name, const char* goal, double value, bool met) {
  std::fprintf(stderr, "isolation_bench: goal %s%s %s: %.2f, %s\n", name, result_suffix.c_str(),
               goal, value, met ? "met" : "NOT met");
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "isolation_bench: %s\n", what.c_str());
  std::fflush(stderr);
  std::exit(1);
}

std::string Text(const absl::Status& status) { return std::string(status.message()); }

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  return samples[static_cast<size_t>(p * static_cast<double>(samples.size() - 1))];
}

// The daemon's side: the system, its local members (the hosts' id slots) and
// the bench library, open here for inline actors and as a memfd for hosts.
// Teardown() must run before destruction, after every host has ended.
struct Daemon {
  std::unique_ptr<troupe::loader::PluginLibrary> library;
  int library_fd = -1;
  std::unique_ptr<ActorSystem> system;
  std::unique_ptr<troupe::isolation::LocalMembers> members;

  void Teardown() {
    system->Shutdown();
    system->SetLocalMembers(nullptr);
    system.reset();  // before the library its classes come from
    members.reset();
    library.reset();
    ::close(library_fd);
  }
};

Daemon StartDaemon() {
  Daemon d;
  absl::StatusOr<std::unique_ptr<troupe::loader::PluginLibrary>> library =
      troupe::loader::PluginLibrary::Open(TROUPE_BENCH_LIBRARY);
  if (!library.ok()) Fail("cannot open the bench library: " + Text(library.status()));
  d.library = *std::move(library);
  absl::StatusOr<int> fd = troupe::isolation::SealedMemfdOfFile(TROUPE_BENCH_LIBRARY);
  if (!fd.ok()) Fail("cannot copy the bench library to a memfd: " + Text(fd.status()));
  d.library_fd = *fd;
  troupe::runtime::SystemOptions options;
  options.worker_threads = kWorkers;
  options.node_name = kNode;
  options.actor_id_limit = troupe::isolation::kDaemonIdLimit;
  d.system = std::make_unique<ActorSystem>(options);
  d.members = std::make_unique<troupe::isolation::LocalMembers>(d.system.get());
  d.system->SetLocalMembers(d.members.get());
  absl::Status registered = d.system->RegisterLibrary(&d.library->plugin(), kBundleHash);
  if (!registered.ok()) Fail("cannot register the bench library: " + Text(registered));
  return d;
}

// One isolated host started here; `ended` holds the reason once it has ended
// and the daemon has been told its actors are gone.
struct Host {
  std::unique_ptr<IsolatedHost> host;
  std::shared_future<std::string> ended;
};

// Confined as troupd confines hosts: reads of the system's libraries only,
// no writes, nobody when this runs as root.
troupe::v1::HostConfinement Confinement() {
  troupe::v1::HostConfinement confinement;
  confinement.add_read_only_paths("/usr/lib");
  confinement.add_read_only_paths("/etc/ld.so.cache");
  confinement.set_open_files(256);
  return confinement;
}

// Starts troupe-host with the bench library in the next free slot of ids, as
// troupd's hosting does (its end is reported to the daemon's system with
// LocalMemberLost). Does not wait for it to be ready. Fails the run when the
// program cannot be started.
Host SpawnHost(Daemon& d) {
  troupe::isolation::IsolatedHostOptions options;
  options.program = TROUPE_HOST_PATH;
  options.name = "bundle 'bench' version '1.0'";
  std::tie(options.first_actor_id, options.actor_id_limit) = d.members->ReserveRange();
  options.libraries.push_back({"lib/bench_actors.so", d.library_fd, false});
  options.bundle_hash = kBundleHash;
  options.group = "bench";
  options.version = "1.0";
  options.worker_threads = kWorkers;
  options.confinement = Confinement();
  options.members = d.members.get();
  auto ended = std::make_shared<std::promise<std::string>>();
  Host host;
  host.ended = ended->get_future().share();
  ActorSystem* system = d.system.get();
  absl::StatusOr<std::unique_ptr<IsolatedHost>> spawned = IsolatedHost::Spawn(
      system, std::move(options),
      [system, ended](IsolatedHost* h, const std::string& reason,
                      const std::vector<std::string>&) {
        system->LocalMemberLost(h->options().first_actor_id, h->options().actor_id_limit,
                                reason);
        ended->set_value(reason);
      });
  if (!spawned.ok()) Fail("cannot start troupe-host: " + Text(spawned.status()));
  host.host = *std::move(spawned);
  return host;
}

// Fails the run unless `host` says it is ready within kWait.
void WaitReadyOrFail(const Host& host) {
  absl::Status ready = host.host->WaitReady(kWait);
  if (ready.ok()) return;
  std::string wrote;
  for (const std::string& line : host.host->last_stderr()) wrote += "\n  | " + line;
  Fail("the isolated host did not start: " + Text(ready) + wrote);
}

ActorRef CreateInline(Daemon& d, const char* class_name) {
  absl::StatusOr<ActorRef> actor = d.system->CreateActor(class_name);
  if (!actor.ok()) Fail(std::string("cannot create ") + class_name + ": " + Text(actor.status()));
  return *std::move(actor);
}

// The actor is made in the host after the address is returned; mail waits.
ActorRef CreateIsolated(const Host& host, const char* class_name) {
  absl::StatusOr<ActorRef> actor = host.host->CreateNow(class_name, {});
  if (!actor.ok()) {
    Fail(std::string("cannot create ") + class_name + " in the host: " + Text(actor.status()));
  }
  return *std::move(actor);
}

// Asks `to` and fails the run unless the reply has type `want`.
Message AskOrFail(ActorSystem& system, const ActorRef& to, std::string_view type,
                  std::string_view payload, std::string_view want) {
  absl::StatusOr<Message> reply = system.Ask(to, Message::Make(type, payload), kWait);
  if (!reply.ok()) Fail("ask '" + std::string(type) + "' failed: " + Text(reply.status()));
  if (reply->type() != want) {
    Fail("ask '" + std::string(type) + "': unexpected reply '" + std::string(reply->type()) +
         "': " + std::string(reply->payload()));
  }
  return *std::move(reply);
}

// ---- 1. Ask RTT ----

// `rounds` asks of "ping" (64-byte payload), one at a time: each RTT in µs.
std::vector<double> Asks(ActorSystem& system, const ActorRef& ponger, int rounds) {
  const std::string payload(64, 'p');
  std::vector<double> samples;
  samples.reserve(rounds);
  for (int i = 0; i < rounds; ++i) {
    const Clock::time_point start = Clock::now();
    AskOrFail(system, ponger, "ping", payload, "ping");
    samples.push_back(Micros(Clock::now() - start));
  }
  return samples;
}

void AskRtt(Daemon& d, const Host& host, int rounds) {
  const ActorRef inline_ponger = CreateInline(d, "bench.Ponger");
  const ActorRef isolated_ponger = CreateIsolated(host, "bench.Ponger");
  (void)Asks(*d.system, inline_ponger, rounds / 10 + 10);  // warm-up
  (void)Asks(*d.system, isolated_ponger, rounds / 10 + 10);
  // Alternating blocks, each kind first in turn, so that drift hits both.
  constexpr int kBlocks = 10;
  std::vector<double> inline_rtt, isolated_rtt;
  auto append = [](std::vector<double>& to, const std::vector<double>& from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  for (int block = 0; block < kBlocks; ++block) {
    if (block % 2 == 0) append(inline_rtt, Asks(*d.system, inline_ponger, rounds / kBlocks));
    append(isolated_rtt, Asks(*d.system, isolated_ponger, rounds / kBlocks));
    if (block % 2 == 1) append(inline_rtt, Asks(*d.system, inline_ponger, rounds / kBlocks));
  }
  const double inline_p50 = Percentile(inline_rtt, 0.5);
  const double isolated_p50 = Percentile(isolated_rtt, 0.5);
  Result("inline_ask_p50_us", inline_p50, "us");
  Result("inline_ask_p99_us", Percentile(inline_rtt, 0.99), "us");
  Result("isolated_ask_p50_us", isolated_p50, "us");
  Result("isolated_ask_p99_us", Percentile(isolated_rtt, 0.99), "us");
  Result("isolated_ask_overhead_p50_us", isolated_p50 - inline_p50, "us");
  Goal("isolated_ask_overhead_p50_us", "<= 20 us", isolated_p50 - inline_p50,
       isolated_p50 - inline_p50 <= 20.0);
  (void)d.system->RequestExit(inline_ponger);
  (void)d.system->RequestExit(isolated_ponger);
}

// ---- 2. Tells ----

// Waits until the queue toward the local member that `pressure` found full
// has room again (ActorSystem::ResumeWhenRoom), then clears `pressure`.
void WaitForRoom(ActorSystem& system, troupe::runtime::OutboxPressureWatch& pressure) {
  auto room = std::make_shared<std::promise<void>>();
  std::future<void> resumed = room->get_future();
  if (system.ResumeWhenRoom(pressure.node(), [room] { room->set_value(); })) resumed.wait();
  pressure.Clear();
}

// Tells `counter` (a new bench.Counter) "expect" `n` from a native actor that
// hands its "done" to a promise, then `n` "m" messages of 64 bytes from this
// thread; messages per second from the first tell to the "done".
double TellRate(ActorSystem& system, const ActorRef& counter, uint64_t n) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  const ActorRef waiter = system.SpawnNative([done](troupe::runtime::Cell*, Message& m) {
    if (m.type() == "done") done->set_value();
  });
  const std::string payload(64, 'm');
  troupe::runtime::OutboxPressureWatch pressure;
  const Clock::time_point start = Clock::now();
  absl::Status told = system.Tell(counter, Message::Make("expect", std::to_string(n)), waiter);
  for (uint64_t i = 0; told.ok() && i < n; ++i) {
    told = system.Tell(counter, Message::Make("m", payload));
    if (pressure.full()) WaitForRoom(system, pressure);
  }
  if (!told.ok()) Fail("tell failed: " + Text(told));
  if (finished.wait_for(std::chrono::seconds(600)) != std::future_status::ready) {
    Fail("the counter did not answer 'done' within 600 s");
  }
  const double seconds = Seconds(Clock::now() - start);
  (void)system.RequestExit(waiter);
  (void)system.RequestExit(counter);
  return static_cast<double>(n) / seconds;
}

// Runs of TellRate, alternating inline and isolated with a new Counter each.
void Tells(Daemon& d, const Host& host, uint64_t n, int runs) {
  (void)TellRate(*d.system, CreateInline(d, "bench.Counter"), n / 10 + 10);  // warm-up
  (void)TellRate(*d.system, CreateIsolated(host, "bench.Counter"), n / 10 + 10);
  std::vector<double> inline_rates, isolated_rates;
  for (int run = 0; run < runs; ++run) {
    inline_rates.push_back(TellRate(*d.system, CreateInline(d, "bench.Counter"), n));
    isolated_rates.push_back(TellRate(*d.system, CreateIsolated(host, "bench.Counter"), n));
  }
  const double isolated = Percentile(isolated_rates, 0.5);
  Result("inline_tell_msgs_per_s", Percentile(inline_rates, 0.5), "msg/s");
  Result("isolated_tell_msgs_per_s", isolated, "msg/s");
  Goal("isolated_tell_msgs_per_s", ">= 1000000 msg/s", isolated, isolated >= 1e6);
}

// ---- 3. Ping-pong ----

// Asks `pinger` to play `rounds` round trips with `ponger`: round trips per s.
double PingPongRate(ActorSystem& system, const ActorRef& pinger, const ActorRef& ponger,
                    uint64_t rounds) {
  const std::string start = system.FormatAddress(ponger.get()) + " " + std::to_string(rounds);
  const Clock::time_point t0 = Clock::now();
  AskOrFail(system, pinger, "start", start, "done");
  const double seconds = Seconds(Clock::now() - t0);
  (void)system.RequestExit(pinger);
  (void)system.RequestExit(ponger);
  return static_cast<double>(rounds) / seconds;
}

double InlinePingPong(Daemon& d, uint64_t rounds) {
  const ActorRef ponger = CreateInline(d, "bench.Ponger");
  return PingPongRate(*d.system, CreateInline(d, "bench.Pinger"), ponger, rounds);
}

double IsolatedPingPong(Daemon& d, const Host& host, uint64_t rounds) {
  const ActorRef ponger = CreateIsolated(host, "bench.Ponger");
  return PingPongRate(*d.system, CreateIsolated(host, "bench.Pinger"), ponger, rounds);
}

void PingPong(Daemon& d, const Host& host, uint64_t rounds, int runs) {
  (void)InlinePingPong(d, rounds / 10 + 10);  // warm-up
  (void)IsolatedPingPong(d, host, rounds / 10 + 10);
  std::vector<double> inline_rates, isolated_rates;
  for (int run = 0; run < runs; ++run) {
    inline_rates.push_back(InlinePingPong(d, rounds));
    isolated_rates.push_back(IsolatedPingPong(d, host, rounds));
  }
  const double inline_rate = Percentile(inline_rates, 0.5);
  const double isolated_rate = Percentile(isolated_rates, 0.5);
  Result("inline_pingpong_round_trips_per_s", inline_rate, "round_trips/s");
  Result("isolated_pingpong_round_trips_per_s", isolated_rate, "round_trips/s");
  Result("ratio_isolated_vs_inline_pingpong", isolated_rate / inline_rate, "x");
  Goal("ratio_isolated_vs_inline_pingpong", ">= 0.8", isolated_rate / inline_rate,
       isolated_rate / inline_rate >= 0.8);
}

// ---- 4. Restart ----

// Kills `host` (SIGKILL), waits until the daemon has heard of its end, then
// starts a new host in a new slot, waits until it is ready, creates a Ponger
// there and asks it once. Replaces `host` with the new one; milliseconds from
// the kill to the answer.
double RestartOnce(Daemon& d, Host& host) {
  if (host.host->ended()) Fail("the host ended before it was killed: " + host.ended.get());
  const Clock::time_point start = Clock::now();
  host.host->Kill();
  if (host.ended.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    Fail("the killed host was not reported ended within 60 s");
  }
  Host next = SpawnHost(d);
  WaitReadyOrFail(next);
  AskOrFail(*d.system, CreateIsolated(next, "bench.Ponger"), "ping", "", "ping");
  const double ms = Micros(Clock::now() - start) / 1000.0;
  std::swap(host, next);  // the old one is destroyed (it has ended) untimed
  return ms;
}

void Restart(Daemon& d, int restarts) {
  Host host = SpawnHost(d);
  WaitReadyOrFail(host);
  AskOrFail(*d.system, CreateIsolated(host, "bench.Ponger"), "ping", "", "ping");
  std::vector<double> samples;
  for (int i = 0; i < restarts; ++i) samples.push_back(RestartOnce(d, host));
  const double median = Percentile(samples, 0.5);
  std::fprintf(stderr, "isolation_bench: restart kill -> answered ask: min %.2f, max %.2f ms\n",
               *std::min_element(samples.begin(), samples.end()),
               *std::max_element(samples.begin(), samples.end()));
  Result("isolated_restart_ms", median, "ms");
  Goal("isolated_restart_ms", "<= 50 ms", median, median <= 50.0);
  host.host->Stop(absl::Seconds(1));
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg != "--quick" && arg != "--contended") {
      std::fprintf(stderr, "usage: isolation_bench [--quick] [--contended]\n");
      return 2;
    }
  }
  // A host drops root to nobody, which can open nothing under such a "/".
  if (::geteuid() == 0 && !troupe::testing::OthersCanSearchRoot()) {
    std::printf("isolation_bench: skipped, no isolated host can run here: %s\n",
                troupe::testing::kRootNotSearchable);
    return 0;
  }
  const bool quick = troupe::bench::HasFlag(argc, argv, "--quick");
  // Busy loops on every core beside the measurement: "_contended" results.
  troupe::bench::BusyCores busy(troupe::bench::HasFlag(argc, argv, "--contended"));
  result_suffix = busy.suffix();
  const int ask_rounds = quick ? 300 : 20000;
  const uint64_t tells = quick ? 20000 : 2000000;
  const uint64_t round_trips = quick ? 20000 : 2000000;
  const int runs = quick ? 1 : 3;
  const int restarts = quick ? 3 : 10;
  troupe::SetMinLogLevel(troupe::LogLevel::kWarning);
  std::fprintf(stderr,
               "isolation_bench: daemon system %d workers, isolated host %d workers "
               "(troupd gives a host 1)%s\n",
               kWorkers, kWorkers, busy.suffix()[0] != '\0' ? ", one busy loop per core" : "");

  Daemon d = StartDaemon();
  Host host = SpawnHost(d);
  WaitReadyOrFail(host);
  AskRtt(d, host, ask_rounds);
  Tells(d, host, tells, runs);
  PingPong(d, host, round_trips, runs);
  host.host->Stop(absl::Seconds(1));
  Restart(d, restarts);
  host.host.reset();
  d.Teardown();
  return 0;
}
