// http_bench.cc - the HTTP API (troupe-http, beside a troupd process) next
// to the C++ SDK, against the same daemon in the same run:
//   RESULT sdk_ask_p50_us, http_ask_p50_us (and p99s): one client, one ask
//     at a time to bench.Ponger; HTTP on one keep-alive connection
//   RESULT http_healthz_p50_us: the HTTP round trip alone (no daemon call)
//   RESULT ratio_http_ask_vs_sdk_p50   (goal <= 2.0)
//   RESULT http_asks_per_s_16_connections: 16 keep-alive connections, each
//     asking in a loop
// `--contended` runs it with one busy loop per core beside it (result names
// get a "_contended" suffix); `--quick` is the CI smoke run.
//
// Usage: http_bench [--quick] [--contended]
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "httplib.h"
#include "tests/bench/bench_daemons.h"
#include "tests/bench/busy_cores.h"

namespace {

using namespace troupe::bench;

constexpr char kAskPath[] = "/v1/actors/bench.ponger/ask?type=ping";

std::unique_ptr<httplib::Client> HttpClient(int port, const std::string& token) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_bearer_token_auth(token.c_str());
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);  // as curl does
  return client;
}

const char* phase = "";  // for the failure message

double HttpAsk(httplib::Client& client, const std::string& payload) {
  const auto start = Clock::now();
  auto result = client.Post(kAskPath, payload, "application/octet-stream");
  if (!result || result->status != 200 || result->body != payload) {
    Fail(std::string("HTTP ask failed (") + phase + "): " + (result ? std::to_string(result->status) + " " + result->body + " type " + result->get_header_value("Troupe-Message-Type")
                                       : httplib::to_string(result.error())));
  }
  return Micros(Clock::now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  bench_name = "http_bench";
  const bool quick = HasFlag(argc, argv, "--quick");
  BusyCores busy(HasFlag(argc, argv, "--contended"));
  result_suffix = busy.suffix();
  const int asks = quick ? 200 : 20000;
  const int throughput_asks = quick ? 100 : 5000;  // per connection
  constexpr int kConnections = 16;

  char root_template[] = "/tmp/troupe_http_bench.XXXXXX";
  const std::string root = ::mkdtemp(root_template);
  Node node;
  node.dir = root + "/d";
  const int port = FreePort();
  WriteFile(node.dir + "/config/listen_http", "127.0.0.1:" + std::to_string(port) + "\n");
  WriteFile(node.dir + "/config/drain_timeout_seconds", "2\n");
  troupe::bundle::TrustStore trust(node.dir + "/keys/trusted");
  if (auto trusted = trust.Trust(TROUPE_BUILD_PUBLIC_KEY); !trusted.ok()) {
    Fail("cannot trust the build key: " + std::string(trusted.status().message()));
  }
  StartProcess(node);
  std::unique_ptr<troupe::Client> sdk;
  for (const auto deadline = Clock::now() + std::chrono::seconds(30); !sdk;) {
    auto client = troupe::Client::Connect(node.socket());
    if (client.ok()) sdk = *std::move(client);
    if (!sdk && Clock::now() > deadline) Fail("troupd did not answer within 30 s");
  }
  Load(node, ReadFile(TROUPE_BENCH_BUNDLE));
  const std::string token = ReadFile(node.dir + "/keys/client.token").substr(0, 64);
  const std::string payload(64, 'x');

  // The SDK: one ask at a time.
  std::vector<double> sdk_us;
  for (int i = 0; i < asks + asks / 10; ++i) {
    const auto start = Clock::now();
    auto reply = sdk->Ask("bench.ponger", {"ping", payload, ""}, absl::Seconds(10));
    if (!reply.ok()) Fail("SDK ask: " + std::string(reply.status().message()));
    if (i >= asks / 10) sdk_us.push_back(Micros(Clock::now() - start));  // after warm-up
  }

  // HTTP: one keep-alive connection, one ask at a time (once troupe-http serves).
  auto http = HttpClient(port, token);
  for (const auto deadline = Clock::now() + std::chrono::seconds(30);;) {
    auto health = http->Get("/healthz");
    if (health && health->status == 200) break;
    if (Clock::now() > deadline) Fail("troupe-http did not answer within 30 s");
  }
  // The HTTP round trip alone (no call to the daemon): GET /healthz.
  std::vector<double> healthz_us;
  for (int i = 0; i < asks; ++i) {
    const auto start = Clock::now();
    auto health = http->Get("/healthz");
    if (!health || health->status != 200) Fail("GET /healthz failed");
    healthz_us.push_back(Micros(Clock::now() - start));
  }
  std::vector<double> http_us;
  phase = "one connection";
  for (int i = 0; i < asks + asks / 10; ++i) {
    const double us = HttpAsk(*http, payload);
    if (i >= asks / 10) http_us.push_back(us);
  }

  // HTTP throughput: 16 connections asking in a loop.
  phase = "16 connections";
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&] {
      auto client = HttpClient(port, token);
      HttpAsk(*client, payload);  // connected before the clock starts
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < throughput_asks; ++i) HttpAsk(*client, payload);
    });
  }
  const auto start = Clock::now();
  go = true;
  for (std::thread& t : threads) t.join();
  const double seconds = Millis(Clock::now() - start) / 1000.0;

  const double sdk_p50 = Percentile(sdk_us, 0.5);
  const double http_p50 = Percentile(http_us, 0.5);
  Result("sdk_ask_p50_us", sdk_p50, "us");
  Result("sdk_ask_p99_us", Percentile(sdk_us, 0.99), "us");
  Result("http_ask_p50_us", http_p50, "us");
  Result("http_ask_p99_us", Percentile(http_us, 0.99), "us");
  Result("http_healthz_p50_us", Percentile(healthz_us, 0.5), "us");
  Result("ratio_http_ask_vs_sdk_p50", http_p50 / sdk_p50, "x");
  Result("http_asks_per_s_16_connections",
         static_cast<double>(kConnections) * throughput_asks / seconds, "asks/s");

  sdk.reset();
  ::kill(node.pid, SIGTERM);
  ::waitpid(node.pid, nullptr, 0);
  std::filesystem::remove_all(root);
  return 0;
}
