// daemon_bench.cc - troupd seen from a client, next to raw gRPC on the same
// transport, all in this one process:
//   ask RTT p50/p99: troupe::Client::Ask to a ponger actor in an in-process
//     troupd, against a raw gRPC bidi stream that echoes each frame;
//   tell throughput: 64-byte tells from one troupe::Client to a counting
//     actor, against a raw stream of 256-frame batches that the server counts;
//   load -> first reply: Admin.Load of the hello bundle until its actor
//     answers an ask (repeated: unload, load again).
// Both servers listen on unix sockets in a temp dir. Prints
// "RESULT <name> <value> <unit>" lines and the Troupe/raw ratios.
//
// Usage: daemon_bench [--quick] [--contended]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/bundle/keys.h"
#include "daemon/config/config.h"
#include "daemon/troupd/daemon.h"
#include "grpcpp/grpcpp.h"
#include "tests/bench/busy_cores.h"
#include "tests/bench/raw_grpc_baseline.h"
#include "troupe/client.h"
#include "troupe/v1/admin.grpc.pb.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

using troupe::bench::result_suffix;

void Result(const char* name, double value, const char* unit) {
  std::printf("RESULT %s%s %.2f %s\n", name, result_suffix.c_str(), value, unit);
  std::fflush(stdout);
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "daemon_bench: %s\n", what.c_str());
  std::exit(1);
}

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(samples.size() - 1));
  return samples[i];
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---- The raw baseline (raw_grpc_baseline.h): echoes asks, counts tells ----

using troupe::bench::RawService;

// Ping-pong over a Connect stream with `target` as the frames' destination:
// against the raw server, or against troupd without troupe::Client (which
// shows what the daemon adds apart from the client library).
std::vector<double> StreamPingPong(const std::string& socket, const std::string& target, int rounds,
                                   bool ask = true) {
  auto stub = troupe::v1::Messaging::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Connect(&context);
  troupe::v1::ClientBatch batch;
  troupe::v1::ClientFrame* frame = batch.add_frames();
  frame->set_to(target);
  frame->set_type("ping");
  frame->set_payload(std::string(64, 'p'));
  frame->set_ask(ask);
  troupe::v1::ServerBatch reply;
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    frame->set_id(static_cast<uint64_t>(i + 1));
    auto start = Clock::now();
    if (!stream->Write(batch)) Fail("stream broke");
    do {
      if (!stream->Read(&reply)) Fail("stream broke");
    } while (reply.frames_size() == 0 ||
             reply.frames(0).kind() == troupe::v1::ServerFrame::KIND_HELLO);
    samples.push_back(Micros(Clock::now() - start));
  }
  stream->WritesDone();
  (void)stream->Finish();
  return samples;
}

double RawTellRate(const std::string& socket, uint64_t messages) {
  auto stub = troupe::v1::Messaging::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Connect(&context);
  constexpr int kBatch = 256;
  troupe::v1::ClientBatch batch;
  for (int i = 0; i < kBatch; ++i) {
    troupe::v1::ClientFrame* f = batch.add_frames();
    f->set_to("counter");
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
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  uint64_t counted = std::stoull(reply.frames(0).from());
  stream->WritesDone();
  (void)stream->Finish();
  return static_cast<double>(counted) / seconds;
}

// ---- Troupe ----

std::vector<double> TroupeAsks(troupe::Client& client, int rounds) {
  troupe::Client::Message ping{"ping", std::string(64, 'p'), ""};
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    auto start = Clock::now();
    absl::StatusOr<troupe::Client::Message> reply =
        client.Ask("bench.ponger", ping, absl::Seconds(10));
    if (!reply.ok()) Fail("ask failed: " + std::string(reply.status().message()));
    samples.push_back(Micros(Clock::now() - start));
  }
  return samples;
}

double TroupeTellRate(troupe::Client& client, uint64_t messages) {
  absl::StatusOr<std::string> counter = client.Lookup("bench.counter");
  if (!counter.ok()) Fail("no bench.counter: " + std::string(counter.status().message()));
  auto start = Clock::now();
  auto done =
      client.AskAsync(*counter, {"expect", std::to_string(messages), ""}, absl::Seconds(300));
  troupe::Client::Message m{"m", std::string(64, 'm'), ""};
  for (uint64_t i = 0; i < messages; ++i) {
    absl::Status sent = client.Tell(*counter, m);
    if (!sent.ok()) Fail("tell failed: " + std::string(sent.message()));
  }
  absl::StatusOr<troupe::Client::Message> reply = done.get();
  if (!reply.ok()) Fail("counter did not finish: " + std::string(reply.status().message()));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(messages) / seconds;
}

double LoadToFirstReplyMs(const std::string& socket, troupe::Client& client,
                          const std::string& bundle_bytes, int rounds) {
  auto admin = troupe::v1::Admin::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  std::vector<double> samples;
  for (int i = 0; i < rounds; ++i) {
    troupe::v1::LoadRequest load;
    load.set_bundle(bundle_bytes);
    troupe::v1::LoadResponse loaded;
    auto start = Clock::now();
    grpc::ClientContext context;
    grpc::Status status = admin->Load(&context, load, &loaded);
    if (!status.ok()) Fail("load failed: " + status.error_message());
    absl::StatusOr<troupe::Client::Message> reply =
        client.Ask("hello", {"text", "hi", ""}, absl::Seconds(10));
    if (!reply.ok()) Fail("hello did not answer: " + std::string(reply.status().message()));
    samples.push_back(Micros(Clock::now() - start) / 1000.0);
    troupe::v1::UnloadRequest unload;
    unload.set_target(loaded.bundle().hash());
    troupe::v1::UnloadResponse unloaded;
    grpc::ClientContext unload_context;
    status = admin->Unload(&unload_context, unload, &unloaded);
    if (!status.ok()) Fail("unload failed: " + status.error_message());
  }
  return Percentile(samples, 0.5);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = troupe::bench::HasFlag(argc, argv, "--quick");
  // Busy loops on every core beside the measurement: "_contended" results.
  troupe::bench::BusyCores busy(troupe::bench::HasFlag(argc, argv, "--contended"));
  result_suffix = busy.suffix();
  const int rounds = quick ? 300 : 20000;
  const uint64_t tells = quick ? 20000 : 2000000;
  const int loads = quick ? 3 : 20;

  char dir_template[] = "/tmp/troupe_daemon_bench.XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) Fail("mkdtemp failed");
  const std::string dir = dir_template;
  troupe::bundle::TrustStore trust(dir + "/keys/trusted");
  if (auto trusted = trust.Trust(TROUPE_BUILD_PUBLIC_KEY); !trusted.ok()) {
    Fail("cannot trust the build key: " + std::string(trusted.status().message()));
  }

  // The raw baseline server.
  RawService raw_service;
  const std::string raw_socket = dir + "/raw.sock";
  grpc::ServerBuilder raw_builder;
  raw_builder.AddListeningPort("unix:" + raw_socket, grpc::InsecureServerCredentials());
  raw_builder.RegisterService(&raw_service);
  std::unique_ptr<grpc::Server> raw_server = raw_builder.BuildAndStart();
  if (raw_server == nullptr) Fail("raw server did not start");

  // troupd with the bench bundle loaded.
  auto daemon = troupe::troupd::Daemon::Start(troupe::config::Config::LoadFrom(dir, "bench"));
  if (!daemon.ok()) Fail("troupd did not start: " + std::string(daemon.status().message()));
  const std::string socket = (*daemon)->socket_path();
  {
    auto admin = troupe::v1::Admin::NewStub(
        grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
    troupe::v1::LoadRequest load;
    load.set_bundle(ReadFile(TROUPE_BENCH_BUNDLE));
    troupe::v1::LoadResponse loaded;
    grpc::ClientContext context;
    grpc::Status status = admin->Load(&context, load, &loaded);
    if (!status.ok()) Fail("cannot load the bench bundle: " + status.error_message());
  }
  auto client = troupe::Client::Connect(socket);
  if (!client.ok()) Fail("client: " + std::string(client.status().message()));

  // Warm every path, then measure in alternating blocks so that drift (this
  // is a VM: scheduling varies from second to second) hits all alike.
  (void)StreamPingPong(raw_socket, "ponger", rounds / 10 + 10);
  (void)TroupeAsks(**client, rounds / 10 + 10);
  std::vector<double> raw_rtt, troupe_rtt, daemon_rtt, tell_rtt;
  constexpr int kBlocks = 10;
  for (int block = 0; block < kBlocks; ++block) {
    auto append = [](std::vector<double>& to, std::vector<double> from) {
      to.insert(to.end(), from.begin(), from.end());
    };
    append(raw_rtt, StreamPingPong(raw_socket, "ponger", rounds / kBlocks));
    append(troupe_rtt, TroupeAsks(**client, rounds / kBlocks));
    append(daemon_rtt, StreamPingPong(socket, "bench.ponger", rounds / kBlocks));
    append(tell_rtt, StreamPingPong(socket, "bench.ponger", rounds / kBlocks, false));
  }
  const double raw_p50 = Percentile(raw_rtt, 0.5);
  const double troupe_p50 = Percentile(troupe_rtt, 0.5);
  Result("raw_grpc_rtt_p50", raw_p50, "us");
  Result("raw_grpc_rtt_p99", Percentile(raw_rtt, 0.99), "us");
  Result("troupe_ask_rtt_p50", troupe_p50, "us");
  Result("troupe_ask_rtt_p99", Percentile(troupe_rtt, 0.99), "us");
  Result("troupd_stream_rtt_p50_without_client_lib", Percentile(daemon_rtt, 0.5), "us");
  Result("troupd_stream_tell_reply_rtt_p50_without_client_lib", Percentile(tell_rtt, 0.5), "us");
  Result("ratio_ask_rtt_p50_vs_raw", troupe_p50 / raw_p50, "x_lower_is_better");

  const double raw_rate = RawTellRate(raw_socket, tells);
  const double troupe_rate = TroupeTellRate(**client, tells);
  Result("raw_grpc_batched_msgs_per_s", raw_rate, "msg/s");
  Result("troupe_tell_msgs_per_s", troupe_rate, "msg/s");
  Result("ratio_tell_vs_raw", troupe_rate / raw_rate, "x");

  Result("troupe_load_to_first_reply_p50",
         LoadToFirstReplyMs(socket, **client, ReadFile(TROUPE_HELLO_BUNDLE), loads), "ms");

  client->reset();
  (*daemon)->Stop();
  raw_server->Shutdown();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
