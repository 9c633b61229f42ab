// bench_daemons.h - what the benchmarks that run troupd daemons share:
// result lines, timing helpers, a prepared TROUPE_DIR per daemon (TCP
// listener, convention key, the build key trusted), starting a daemon in
// this process or as a troupd process (--die-with-parent: none outlives the
// benchmark), waiting for a convention to form, loading a bundle, clients.
// Header-only, for tests/bench.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/bundle/keys.h"
#include "daemon/config/config.h"
#include "daemon/troupd/daemon.h"
#include "grpcpp/grpcpp.h"
#include "tests/bench/busy_cores.h"
#include "tests/bench/free_port.h"
#include "troupe/client.h"
#include "troupe/v1/admin.grpc.pb.h"

extern char** environ;

namespace troupe::bench {

// The benchmark's name, for its error lines.
inline const char* bench_name = "bench";

using Clock = std::chrono::steady_clock;

inline void Result(const char* name, double value, const char* unit) {
  std::printf("RESULT %s%s %.2f %s\n", name, result_suffix.c_str(), value, unit);
  std::fflush(stdout);
}

[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", bench_name, what.c_str());
  std::exit(1);
}

inline double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}
inline double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

inline double Percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  return samples[static_cast<size_t>(p * static_cast<double>(samples.size() - 1))];
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

// A TCP port free right now on 127.0.0.1.
inline int FreePort() {
  const int port = FreeLoopbackPort();
  if (port == 0) Fail("cannot find a free port");
  return port;
}

// ---- Daemons ----

struct Node {
  std::string dir;
  std::string address;  // 127.0.0.1:port
  std::unique_ptr<troupe::troupd::Daemon> daemon;
  pid_t pid = -1;  // when run as a process
  std::string socket() const { return dir + "/run/troupd.sock"; }
};

// Prepares a TROUPE_DIR: TCP listener, the shared convention key, the build
// key trusted, one worker thread (two daemons share this machine's cores).
inline Node MakeNode(const std::string& root, const std::string& name, const std::string& leader,
              const std::string& key_file) {
  Node node;
  node.dir = root + "/" + name;
  node.address = "127.0.0.1:" + std::to_string(FreePort());
  WriteFile(node.dir + "/config/listen_tcp", node.address + "\n");
  WriteFile(node.dir + "/config/worker_threads", "1\n");
  WriteFile(node.dir + "/config/drain_timeout_seconds", "2\n");
  WriteFile(node.dir + "/config/allow_remote_actor_sources", "yes\n");
  if (!leader.empty()) WriteFile(node.dir + "/config/convleader", leader + "\n");
  std::filesystem::create_directories(node.dir + "/keys");
  std::filesystem::copy_file(key_file, node.dir + "/keys/convention.key");
  ::chmod((node.dir + "/keys/convention.key").c_str(), 0600);
  troupe::bundle::TrustStore trust(node.dir + "/keys/trusted");
  if (auto trusted = trust.Trust(TROUPE_BUILD_PUBLIC_KEY); !trusted.ok()) {
    Fail("cannot trust the build key: " + std::string(trusted.status().message()));
  }
  return node;
}

inline void StartInProcess(Node& node) {
  auto daemon =
      troupe::troupd::Daemon::Start(troupe::config::Config::LoadFrom(node.dir, "bench"));
  if (!daemon.ok()) Fail(node.address + " did not start: " + std::string(daemon.status().message()));
  node.daemon = *std::move(daemon);
}

inline void StartProcess(Node& node) {
  std::vector<std::string> argv = {TROUPD_PATH, "--dir", node.dir, "--die-with-parent"};
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = node.dir + "/troupd.log";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (::posix_spawn(&node.pid, c_argv[0], &actions, nullptr, c_argv.data(), environ) != 0) {
    Fail("cannot start " + std::string(TROUPD_PATH));
  }
  posix_spawn_file_actions_destroy(&actions);
}

inline int MemberCount(troupe::v1::Admin::Stub& admin) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  troupe::v1::ConventionStatusResponse status;
  if (!admin.ConventionStatus(&context, {}, &status).ok()) return -1;
  return status.members_size();
}

// Polls the leader until it lists `n` members (at least `n` when
// `at_least`); the time it took from `since`. A new channel each time: one
// made before the socket existed backs off for seconds.
inline double WaitForMembers(const Node& leader, int n, Clock::time_point since,
                             bool at_least = false) {
  for (;;) {
    auto admin = troupe::v1::Admin::NewStub(
        grpc::CreateChannel("unix:" + leader.socket(), grpc::InsecureChannelCredentials()));
    const int count = MemberCount(*admin);
    if (count == n || (at_least && count > n)) return Millis(Clock::now() - since);
    if (Clock::now() - since > std::chrono::seconds(60)) {
      Fail("the leader did not list " + std::to_string(n) + " members in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

inline void Load(const Node& node, const std::string& bundle) {
  auto admin = troupe::v1::Admin::NewStub(
      grpc::CreateChannel("unix:" + node.socket(), grpc::InsecureChannelCredentials()));
  troupe::v1::LoadRequest load;
  load.set_bundle(bundle);
  troupe::v1::LoadResponse loaded;
  grpc::ClientContext context;
  grpc::Status status = admin->Load(&context, load, &loaded);
  if (!status.ok()) Fail("cannot load the bench bundle: " + status.error_message());
}

inline std::unique_ptr<troupe::Client> Connect(const Node& node) {
  auto client = troupe::Client::Connect(node.socket());
  if (!client.ok()) Fail("client: " + std::string(client.status().message()));
  return *std::move(client);
}

inline std::string Create(troupe::Client& client, const char* class_name) {
  absl::StatusOr<std::string> actor = client.CreateActor("bench", class_name);
  if (!actor.ok()) Fail(std::string("cannot create ") + class_name + ": " +
                        std::string(actor.status().message()));
  return *actor;
}

}  // namespace troupe::bench
