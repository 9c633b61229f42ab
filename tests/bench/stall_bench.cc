// stall_bench.cc - does a stopped peer freeze actors that have nothing to do
// with it? Two troupd processes in a convention on 127.0.0.1: A leads, B
// (the only daemon with the capability "stall_target") is a member. On A, a
// ping-pong pair runs while B is stopped with SIGSTOP and, at the same time,
//   - 100 bench.Spawner actors send 1000 more messages each to children
//     they placed on B before it stopped (the link to B backs up), and
//   - 100 more each create a child that needs B (the placement cannot be
//     answered) and send it 1000 messages.
// Prints the ping-pong rate and the p99 of a client's Status call on A with
// B running and with B stopped, and their ratio:
//   RESULT local_pingpong_ratio_with_stalled_peer  (goal >= 0.9)
//   RESULT status_p99_with_stalled_peer_ms         (goal <= 50)
// `--contended` runs it with one busy loop per core beside it (result names
// get a "_contended" suffix); `--quick` is the CI smoke run.
//
// Usage: stall_bench [--quick] [--contended]
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "daemon/peerauth/convention_key.h"
#include "tests/bench/bench_daemons.h"
#include "tests/bench/busy_cores.h"
#include "troupe/abi.h"
#include "troupe/v1/admin.grpc.pb.h"

namespace {

using namespace troupe::bench;  // NOLINT: the shared helpers

// The same requirement in the runtime's object form (actors) and the
// manifest's array form (clients).
constexpr char kNeedsB[] = R"({"stall_target":{"equals":true}})";
constexpr char kNeedsBArray[] = R"([{"capability":"stall_target","equals":true}])";

// Round trips per second of a fresh pinger/ponger pair on A, over `rounds`.
double PingPongRate(troupe::Client& client, int rounds) {
  const std::string pinger = Create(client, "bench.Pinger");
  const std::string ponger = Create(client, "bench.Ponger");
  const auto start = Clock::now();
  absl::StatusOr<troupe::Client::Message> done = client.Ask(
      pinger, {"start", ponger + " " + std::to_string(rounds), ""}, absl::Seconds(120));
  if (!done.ok()) Fail("ping-pong on A: " + std::string(done.status().message()));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  (void)client.Tell(pinger, {TROUPE_MSG_EXIT_REQUEST, "", ""});
  (void)client.Tell(ponger, {TROUPE_MSG_EXIT_REQUEST, "", ""});
  return rounds / seconds;
}

// Latencies (ms) of `calls` Admin.Status calls on A's socket, one after another.
std::vector<double> StatusLatencies(const Node& node, int calls) {
  auto admin = troupe::v1::Admin::NewStub(
      grpc::CreateChannel("unix:" + node.socket(), grpc::InsecureChannelCredentials()));
  std::vector<double> samples;
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    troupe::v1::StatusResponse status;
    const auto start = Clock::now();
    grpc::Status s = admin->Status(&context, {}, &status);
    if (!s.ok()) Fail("Status on A: " + s.error_message());
    samples.push_back(Millis(Clock::now() - start));
  }
  return samples;
}

double Median(std::vector<double> samples) { return Percentile(std::move(samples), 0.5); }

// Measures the ping-pong rate (median of `blocks` runs) and the Status p99.
void Measure(troupe::Client& client, const Node& a, int blocks, int rounds, int status_calls,
             double* rate, double* status_p99) {
  std::vector<double> rates;
  std::vector<double> status;
  for (int i = 0; i < blocks; ++i) {
    rates.push_back(PingPongRate(client, rounds));
    std::vector<double> s = StatusLatencies(a, status_calls / blocks);
    status.insert(status.end(), s.begin(), s.end());
  }
  *rate = Median(rates);
  *status_p99 = Percentile(status, 0.99);
}

// Has `spawners` new bench.Spawner actors each create a child needing B and
// send it `messages`; returns the spawners. With `wait`, waits until every
// child has counted them (B must be running).
std::vector<std::string> SpawnOnB(troupe::Client& client, int spawners, int messages, bool wait) {
  std::vector<std::string> made;
  for (int i = 0; i < spawners; ++i) {
    const std::string spawner = Create(client, "bench.Spawner");
    made.push_back(spawner);
    const std::string go = std::to_string(messages) + " " + kNeedsB;
    if (!wait) {
      if (!client.Tell(spawner, {"go", go, ""}).ok()) Fail("cannot tell a spawner");
      continue;
    }
    absl::StatusOr<troupe::Client::Message> went =
        client.Ask(spawner, {"go", go, ""}, absl::Seconds(60));
    if (!went.ok() || went->type != "went") {
      Fail("spawner: " + (went.ok() ? went->payload : std::string(went.status().message())));
    }
    absl::StatusOr<troupe::Client::Message> counted =
        client.Ask(went->payload, {"expect", std::to_string(messages), ""}, absl::Seconds(60));
    if (!counted.ok()) Fail("child on B: " + std::string(counted.status().message()));
  }
  return made;
}

}  // namespace

int main(int argc, char** argv) {
  bench_name = "stall_bench";
  const bool quick = HasFlag(argc, argv, "--quick");
  BusyCores busy(HasFlag(argc, argv, "--contended"));
  result_suffix = busy.suffix();
  const int spawners = quick ? 10 : 100;
  const int messages = quick ? 100 : 1000;
  const int rounds = quick ? 20000 : 400000;
  const int blocks = quick ? 3 : 7;
  const int status_calls = quick ? 60 : 700;

  char dir_template[] = "/tmp/troupe_stall_bench.XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) Fail("mkdtemp failed");
  const std::string root = dir_template;
  const std::string key_file = root + "/convention.key";
  if (auto key = troupe::peerauth::ConventionKey::Create(key_file, false); !key.ok()) {
    Fail("cannot make a convention key: " + std::string(key.status().message()));
  }
  Node a = MakeNode(root, "a", "", key_file);
  Node b = MakeNode(root, "b", a.address, key_file);
  WriteFile(a.dir + "/config/worker_threads", "2\n");
  WriteFile(b.dir + "/capabilities.json", "{\"stall_target\": true}\n");
  StartProcess(a);
  StartProcess(b);
  WaitForMembers(a, 2, Clock::now());
  const std::string bundle = ReadFile(TROUPE_BENCH_BUNDLE);
  Load(a, bundle);
  Load(b, bundle);
  auto client = Connect(a);

  // B running: the baseline, and children placed on B (B checks in with
  // its capabilities first: retried until a placement finds it).
  double rate_running = 0, status_running = 0;
  Measure(*client, a, blocks, rounds, status_calls, &rate_running, &status_running);
  std::vector<std::string> placed;
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::string> probe = client->CreateActor("bench", "bench.Counter", kNeedsBArray);
    if (probe.ok()) break;
    if (attempt == 500) Fail("B's capability never reached A: " + std::string(probe.status().message()));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  placed = SpawnOnB(*client, spawners, messages, /*wait=*/true);

  // B stopped: more mail for the placed children, new children for B.
  ::kill(b.pid, SIGSTOP);
  for (const std::string& spawner : placed) {
    // A second "go" makes a second child: its placement waits on B too.
    if (!client->Tell(spawner, {"go", std::to_string(messages) + " " + kNeedsB, ""}).ok()) {
      Fail("cannot tell a spawner");
    }
  }
  (void)SpawnOnB(*client, spawners, messages, /*wait=*/false);
  double rate_stalled = 0, status_stalled = 0;
  Measure(*client, a, blocks, rounds, status_calls, &rate_stalled, &status_stalled);

  Result("local_pingpong_per_s_peer_running", rate_running, "round_trips/s");
  Result("local_pingpong_per_s_peer_stopped", rate_stalled, "round_trips/s");
  Result("local_pingpong_ratio_with_stalled_peer", rate_stalled / rate_running,
         "x_goal_at_least_0.9");
  Result("status_p99_peer_running_ms", status_running, "ms");
  Result("status_p99_with_stalled_peer_ms", status_stalled, "ms_goal_at_most_50");

  client.reset();
  ::kill(b.pid, SIGCONT);
  for (Node* node : {&b, &a}) {
    ::kill(node->pid, SIGTERM);
    (void)::waitpid(node->pid, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
