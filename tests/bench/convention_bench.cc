// convention_bench.cc - two troupd daemons in a convention on 127.0.0.1, in
// this one process, next to raw gRPC over TCP loopback:
//   cross-daemon ask RTT: an actor on daemon A (bench.Pinger) plays round
//     trips with a bench.Ponger on daemon B (per-round time of blocks of
//     round trips), and a client of A asking B's ponger (client -> A -> B and
//     back); against a raw gRPC bidi stream that echoes each frame;
//   cross-daemon tells: a bench.Sender64 on A sends 64-byte messages to a
//     bench.Counter on B; against a raw stream of 256-frame batches counted
//     by the server;
//   formation: time until a leader lists 3 (and 32) daemons started at once;
//   expiry: time from stopping a member without a goodbye (its convention
//     stops answering: the process is killed) to the leader dropping it.
// Prints "RESULT <name> <value> <unit>" lines and the Troupe/raw ratios.
//
// Usage: convention_bench [--quick] [--contended]
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/bundle/keys.h"
#include "daemon/config/config.h"
#include "daemon/peerauth/convention_key.h"
#include "daemon/troupd/daemon.h"
#include "grpcpp/grpcpp.h"
#include "tests/bench/bench_daemons.h"
#include "tests/bench/raw_grpc_baseline.h"
#include "troupe/client.h"
#include "troupe/v1/admin.grpc.pb.h"
#include "troupe/v1/messaging.grpc.pb.h"


namespace {

using namespace troupe::bench;  // NOLINT: the shared helpers

// ---- The raw baseline (raw_grpc_baseline.h), here over TCP ----

using troupe::bench::RawService;

std::vector<double> RawPingPong(const std::string& target, int rounds) {
  auto stub = troupe::v1::Messaging::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Connect(&context);
  troupe::v1::ClientBatch batch;
  troupe::v1::ClientFrame* frame = batch.add_frames();
  frame->set_type("ping");
  frame->set_payload(std::string(64, 'p'));
  frame->set_ask(true);
  troupe::v1::ServerBatch reply;
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    frame->set_id(static_cast<uint64_t>(i + 1));
    auto start = Clock::now();
    if (!stream->Write(batch) || !stream->Read(&reply)) Fail("raw stream broke");
    samples.push_back(Micros(Clock::now() - start));
  }
  stream->WritesDone();
  (void)stream->Finish();
  return samples;
}

double RawTellRate(const std::string& target, uint64_t messages) {
  auto stub = troupe::v1::Messaging::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Connect(&context);
  constexpr int kBatch = 256;
  troupe::v1::ClientBatch batch;
  for (int i = 0; i < kBatch; ++i) {
    troupe::v1::ClientFrame* f = batch.add_frames();
    f->set_to("troupe://127.0.0.1:1/1");
    f->set_type("m");
    f->set_payload(std::string(64, 'm'));
  }
  troupe::v1::ClientBatch fin;
  fin.add_frames()->set_ask(true);
  auto start = Clock::now();
  for (uint64_t sent = 0; sent < messages; sent += kBatch) {
    if (!stream->Write(batch)) Fail("raw stream broke");
  }
  troupe::v1::ServerBatch reply;
  if (!stream->Write(fin) || !stream->Read(&reply)) Fail("raw stream broke");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const uint64_t counted = std::stoull(reply.frames(0).from());
  stream->WritesDone();
  (void)stream->Finish();
  return static_cast<double>(counted) / seconds;
}

// Per-round RTT of an actor on A playing `rounds` round trips with `ponger`.
double ActorRoundTripMicros(troupe::Client& client_a, const std::string& ponger, int rounds) {
  const std::string pinger = Create(client_a, "bench.Pinger");
  auto start = Clock::now();
  absl::StatusOr<troupe::Client::Message> done = client_a.Ask(
      pinger, {"start", ponger + " " + std::to_string(rounds), ""}, absl::Seconds(120));
  if (!done.ok()) Fail("pinger: " + std::string(done.status().message()));
  return Micros(Clock::now() - start) / rounds;
}

std::vector<double> ClientAsks(troupe::Client& client, const std::string& to, int rounds) {
  std::vector<double> samples;
  troupe::Client::Message ping{"ping", std::string(64, 'p'), ""};
  for (int i = 0; i < rounds; ++i) {
    auto start = Clock::now();
    absl::StatusOr<troupe::Client::Message> reply = client.Ask(to, ping, absl::Seconds(10));
    if (!reply.ok()) Fail("ask failed: " + std::string(reply.status().message()));
    samples.push_back(Micros(Clock::now() - start));
  }
  return samples;
}

double TellRate(troupe::Client& client_a, troupe::Client& client_b, uint64_t messages) {
  const std::string sender = Create(client_a, "bench.Sender64");
  const std::string counter = Create(client_b, "bench.Counter");
  auto done = client_b.AskAsync(counter, {"expect", std::to_string(messages), ""},
                                absl::Seconds(300));
  // "expect" may arrive before or after some of the "m"s: the counter
  // answers once it has both its expectation and that many messages.
  auto start = Clock::now();
  absl::Status sent =
      client_a.Tell(sender, {"start", counter + " " + std::to_string(messages), ""});
  if (!sent.ok()) Fail("tell failed: " + std::string(sent.message()));
  absl::StatusOr<troupe::Client::Message> reply = done.get();
  if (!reply.ok()) Fail("counter did not finish: " + std::string(reply.status().message()));
  return static_cast<double>(messages) / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  bench_name = "convention_bench";
  const bool quick = HasFlag(argc, argv, "--quick");
  // Busy loops on every core beside the measurement: "_contended" results.
  BusyCores busy(HasFlag(argc, argv, "--contended"));
  result_suffix = busy.suffix();
  const int rounds = quick ? 200 : 20000;
  const uint64_t tells = quick ? 20000 : 4000000;
  const int big_convention = quick ? 4 : 32;

  char dir_template[] = "/tmp/troupe_convention_bench.XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) Fail("mkdtemp failed");
  const std::string root = dir_template;
  const std::string key_file = root + "/convention.key";
  if (auto key = troupe::peerauth::ConventionKey::Create(key_file, false); !key.ok()) {
    Fail("cannot make a convention key: " + std::string(key.status().message()));
  }

  // Raw baseline on TCP loopback.
  RawService raw_service;
  int raw_port = 0;
  grpc::ServerBuilder raw_builder;
  raw_builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &raw_port);
  raw_builder.RegisterService(&raw_service);
  std::unique_ptr<grpc::Server> raw_server = raw_builder.BuildAndStart();
  if (raw_server == nullptr) Fail("raw server did not start");
  const std::string raw_target = "127.0.0.1:" + std::to_string(raw_port);

  // Two daemons: A leads, B is a member; the bench bundle on both.
  Node a = MakeNode(root, "a", "", key_file);
  Node b = MakeNode(root, "b", a.address, key_file);
  StartInProcess(a);
  StartInProcess(b);
  WaitForMembers(a, 2, Clock::now());
  const std::string bundle = ReadFile(TROUPE_BENCH_BUNDLE);
  Load(a, bundle);
  Load(b, bundle);
  auto client_a = Connect(a);
  auto client_b = Connect(b);
  absl::StatusOr<std::string> ponger_b = client_b->Lookup("bench.ponger");
  if (!ponger_b.ok()) Fail("no bench.ponger on B");

  // Warm up, then alternate blocks so that drift hits all alike.
  (void)RawPingPong(raw_target, rounds / 10 + 10);
  (void)ActorRoundTripMicros(*client_a, *ponger_b, rounds / 10 + 10);
  (void)ClientAsks(*client_a, *ponger_b, rounds / 10 + 10);
  constexpr int kBlocks = 10;
  std::vector<double> raw_rtt, actor_rtt, client_rtt;
  for (int block = 0; block < kBlocks; ++block) {
    std::vector<double> raw = RawPingPong(raw_target, rounds / kBlocks);
    raw_rtt.insert(raw_rtt.end(), raw.begin(), raw.end());
    // Games of 100 round trips: one sample each (the per-round mean).
    for (int i = 0; i < std::max(1, rounds / kBlocks / 100); ++i) {
      actor_rtt.push_back(ActorRoundTripMicros(*client_a, *ponger_b, 100));
    }
    std::vector<double> client = ClientAsks(*client_a, *ponger_b, rounds / kBlocks);
    client_rtt.insert(client_rtt.end(), client.begin(), client.end());
  }
  const double raw_p50 = Percentile(raw_rtt, 0.5);
  const double actor_p50 = Percentile(actor_rtt, 0.5);
  Result("raw_grpc_tcp_rtt_p50", raw_p50, "us");
  Result("raw_grpc_tcp_rtt_p99", Percentile(raw_rtt, 0.99), "us");
  Result("cross_daemon_actor_ask_rtt_p50", actor_p50, "us");
  Result("cross_daemon_actor_ask_rtt_p99_of_100_round_means", Percentile(actor_rtt, 0.99), "us");
  Result("client_via_a_ask_to_b_rtt_p50", Percentile(client_rtt, 0.5), "us");
  Result("client_via_a_ask_to_b_rtt_p99", Percentile(client_rtt, 0.99), "us");
  Result("ratio_cross_daemon_ask_p50_vs_raw", actor_p50 / raw_p50, "x_lower_is_better");

  const double raw_rate = RawTellRate(raw_target, tells);
  const double tell_rate = TellRate(*client_a, *client_b, tells);
  Result("raw_grpc_tcp_batched_msgs_per_s", raw_rate, "msg/s");
  Result("cross_daemon_tell_msgs_per_s", tell_rate, "msg/s");
  Result("ratio_tell_vs_raw", tell_rate / raw_rate, "x");

  client_a.reset();
  client_b.reset();
  b.daemon->Stop();
  a.daemon->Stop();
  raw_server->Shutdown();

  // Formation and expiry, with troupd processes (a kill must be a real one).
  for (int n : {3, big_convention}) {
    std::vector<Node> nodes;
    nodes.push_back(MakeNode(root, "f" + std::to_string(n) + "_0", "", key_file));
    for (int i = 1; i < n; ++i) {
      nodes.push_back(MakeNode(root, "f" + std::to_string(n) + "_" + std::to_string(i),
                               nodes[0].address, key_file));
    }
    const auto start = Clock::now();
    for (Node& node : nodes) StartProcess(node);
    Result(("convention_of_" + std::to_string(n) + "_leader_answers").c_str(),
           WaitForMembers(nodes[0], 1, start, /*at_least=*/true), "ms");
    const double formed = WaitForMembers(nodes[0], n, start);
    Result(("convention_of_" + std::to_string(n) + "_formed").c_str(), formed, "ms");
    if (n == 3) {
      ::kill(nodes[2].pid, SIGKILL);
      const auto killed = Clock::now();
      (void)::waitpid(nodes[2].pid, nullptr, 0);
      nodes[2].pid = -1;
      Result("killed_member_noticed_after", WaitForMembers(nodes[0], 2, killed), "ms");
    }
    for (Node& node : nodes) {
      if (node.pid > 0) ::kill(node.pid, SIGTERM);
    }
    for (Node& node : nodes) {
      if (node.pid > 0) (void)::waitpid(node.pid, nullptr, 0);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
