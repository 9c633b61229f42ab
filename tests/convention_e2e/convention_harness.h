// convention_harness.h - the convention end-to-end fixture: N built troupd
// processes on 127.0.0.1, each a DaemonHarness (tests/e2e/daemon_harness.h:
// its own temporary TROUPE_DIR trusting the build-tree key) with
// `listen_tcp` = 127.0.0.1:<free port>, the same convention key in
// keys/convention.key (made by `director keygen --convention` in the first
// directory, copied to the others) and `convleader` naming the first daemon in
// the others. Paths come from compile definitions
// (tests/convention_e2e/CMakeLists.txt).
//
// Nothing here sleeps: waiting is bounded polling of Admin.ConventionStatus
// over each daemon's unix socket, with gRPC deadlines and a short wait on the
// channel between two polls (as DaemonHarness::WaitUntilAnswering does).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "tests/e2e/daemon_harness.h"
#include "troupe/client.h"
#include "troupe/v1/admin.grpc.pb.h"

namespace troupe::testing {

using SteadyClock = std::chrono::steady_clock;

// Milliseconds since `start`, for RESULT lines and timing assertions.
inline int64_t MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

// A TCP port on 127.0.0.1 that is free now (bound to port 0, then closed), or
// 0. Another process may take it before the daemon binds it: see
// ConventionDaemon::Start.
inline int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  socklen_t size = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// The member addresses `status` lists, in its order.
inline std::vector<std::string> MemberAddresses(const v1::ConventionStatusResponse& status) {
  std::vector<std::string> out;
  for (const v1::MemberInfo& m : status.members()) out.push_back(m.address());
  return out;
}

// The entry of `address` in `status`, or nullptr.
inline const v1::MemberInfo* FindMember(const v1::ConventionStatusResponse& status,
                                        const std::string& address) {
  for (const v1::MemberInfo& m : status.members()) {
    if (m.address() == address) return &m;
  }
  return nullptr;
}

// `status` as one line of JSON, for failure messages.
inline std::string StatusJson(const v1::ConventionStatusResponse& status) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(status, &json);
  return json;
}

// One troupd of a convention: a DaemonHarness plus its TCP port and a
// channel to its unix socket for Admin.ConventionStatus. Not thread-safe.
class ConventionDaemon {
 public:
  explicit ConventionDaemon(std::string name) : name_(std::move(name)) {
    std::filesystem::create_directories(harness_.dir() + "/keys");
  }

  ConventionDaemon(const ConventionDaemon&) = delete;
  ConventionDaemon& operator=(const ConventionDaemon&) = delete;

  DaemonHarness& harness() { return harness_; }
  const std::string& name() const { return name_; }
  const std::string& dir() const { return harness_.dir(); }
  int port() const { return port_; }
  // host:port: the daemon's node name in the convention ("" before Start).
  std::string address() const { return port_ == 0 ? "" : "127.0.0.1:" + std::to_string(port_); }
  std::string socket() const { return harness_.socket(); }
  std::string Log() const { return harness_.DaemonLog(); }
  bool running() const { return harness_.daemon_pid() > 0; }
  pid_t pid() const { return harness_.daemon_pid(); }

  // Writes TROUPE_DIR/config/<setting> (read at the next start).
  void SetConfig(const std::string& setting, const std::string& value) {
    WriteFileForTest(dir() + "/config/" + setting, value + "\n");
  }
  void RemoveConfig(const std::string& setting) {
    std::filesystem::remove(dir() + "/config/" + setting);
  }
  // Makes the next Start use `port` (and keep it) instead of a free one.
  void UsePort(int port) { port_ = port; }
  // Copies `key_file` to TROUPE_DIR/keys/convention.key, mode 0600.
  void InstallConventionKey(const std::string& key_file) {
    const std::string target = dir() + "/keys/convention.key";
    std::filesystem::copy_file(key_file, target,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(target, std::filesystem::perms::owner_read |
                                             std::filesystem::perms::owner_write);
  }
  std::string ConventionKeyPath() const { return dir() + "/keys/convention.key"; }

  // Starts troupd on 127.0.0.1:<a free port> (the port chosen at the first
  // start is kept for restarts) and waits until it answers on its socket.
  // When the first start fails because the port was taken meanwhile, it
  // tries again with another port.
  ::testing::AssertionResult Start() {
    const bool pinned = port_ != 0;
    ::testing::AssertionResult result = ::testing::AssertionFailure() << "not started";
    for (int attempt = 0; attempt < (pinned ? 1 : 5); ++attempt) {
      if (!pinned) port_ = FreeLoopbackPort();
      if (port_ == 0) return ::testing::AssertionFailure() << "no free port on 127.0.0.1";
      SetConfig("listen_tcp", address());
      const size_t log_before = Log().size();
      result = harness_.StartDaemon();
      if (result) return result;
      const std::string log = Log().substr(std::min(log_before, Log().size()));
      if (pinned || log.find("cannot listen") == std::string::npos) break;
    }
    return result << " (" << name_ << " on " << address() << ")";
  }

  // SIGKILL: a crash (no leave, sockets closed by the kernel).
  void Kill() { harness_.KillDaemon(); }
  // SIGTERM only, without waiting (Stop waits and reaps).
  void Terminate() {
    if (running()) ::kill(pid(), SIGTERM);
  }
  // SIGTERM, wait, reap; success for exit status 0.
  ::testing::AssertionResult Stop() { return harness_.StopDaemon(); }

  CommandResult Director(const std::vector<std::string>& args) const {
    return harness_.Director(args);
  }

  // Admin.ConventionStatus over the unix socket, within `deadline`.
  absl::StatusOr<v1::ConventionStatusResponse> ConventionStatus(
      std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::ConventionStatusResponse response;
    grpc::Status status =
        Admin().ConventionStatus(&context, v1::ConventionStatusRequest(), &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    return response;
  }

  // Polls ConventionStatus until `done` holds, at most `bound`. The failure
  // names `what` and shows the last answer.
  ::testing::AssertionResult WaitFor(
      const std::function<bool(const v1::ConventionStatusResponse&)>& done,
      std::chrono::milliseconds bound, const std::string& what) {
    const auto deadline = SteadyClock::now() + bound;
    std::string last = "(no answer)";
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - SteadyClock::now());
      absl::StatusOr<v1::ConventionStatusResponse> status =
          ConventionStatus(std::max(std::chrono::milliseconds(100),
                                    std::min(left, std::chrono::milliseconds(2000))));
      if (status.ok()) {
        if (done(*status)) return ::testing::AssertionSuccess();
        last = StatusJson(*status);
      } else {
        last = status.status().ToString();
      }
      if (SteadyClock::now() >= deadline) break;
      PollPause();
    }
    return ::testing::AssertionFailure()
           << name_ << " (" << address() << "): " << what << " not within " << bound.count()
           << " ms; its last convention status: " << last;
  }

  // Until this daemon lists exactly `count` members.
  ::testing::AssertionResult WaitForMemberCount(int count, std::chrono::milliseconds bound) {
    return WaitFor(
        [count](const v1::ConventionStatusResponse& s) { return s.members_size() == count; },
        bound, std::to_string(count) + " members");
  }

  // A client on this daemon's unix socket.
  absl::StatusOr<std::unique_ptr<Client>> Connect() const { return Client::Connect(socket()); }

  // A short wait between two polls: on the channel's state (returns early
  // when it changes), at most 20 ms.
  void PollPause() {
    grpc::Channel& channel = *Channel();
    channel.WaitForStateChange(channel.GetState(false),
                               std::chrono::system_clock::now() + std::chrono::milliseconds(20));
  }

 private:
  std::shared_ptr<grpc::Channel> Channel() {
    if (channel_ == nullptr) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
      channel_ = grpc::CreateCustomChannel("unix:" + socket(), grpc::InsecureChannelCredentials(),
                                           args);
      admin_ = v1::Admin::NewStub(channel_);
    }
    return channel_;
  }
  v1::Admin::Stub& Admin() {
    Channel();
    return *admin_;
  }

  std::string name_;
  DaemonHarness harness_;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

// N daemons sharing one convention key; the first one added leads, the others
// name it in `convleader`. Daemons still running at the end are stopped
// (gracefully, members first) by their harnesses.
class ConventionHarness {
 public:
  ConventionHarness() = default;
  ConventionHarness(const ConventionHarness&) = delete;
  ConventionHarness& operator=(const ConventionHarness&) = delete;
  ~ConventionHarness() {
    // The members first, all at once (their stops overlap), then the leader,
    // so they leave rather than re-register with a leader that is gone.
    // (Stopping the leader at the same time is its own test.)
    StopAll(/*leader_too=*/false);
    StopAll(/*leader_too=*/true);
  }

  // SIGTERM to every running member (and with `leader_too` the leader) at
  // once, then waits for each; success when each exited with status 0.
  ::testing::AssertionResult StopAll(bool leader_too) {
    ::testing::AssertionResult result = ::testing::AssertionSuccess();
    const size_t first = leader_too ? 0 : 1;
    for (size_t i = first; i < daemons_.size(); ++i) daemons_[i]->Terminate();
    for (size_t i = first; i < daemons_.size(); ++i) {
      if (!daemons_[i]->running()) continue;
      if (::testing::AssertionResult stopped = daemons_[i]->Stop(); !stopped) {
        ADD_FAILURE() << daemons_[i]->name() << ": " << stopped.message();
        result = ::testing::AssertionFailure() << daemons_[i]->name() << " did not stop cleanly";
      }
    }
    return result;
  }

  // Adds a daemon (not started). The first one is the leader and gets a fresh
  // convention key from `director keygen --convention`; later ones get a copy
  // and `convleader` = the leader's address (so start the leader first).
  ConventionDaemon& Add(const std::string& name) {
    daemons_.push_back(std::make_unique<ConventionDaemon>(name));
    ConventionDaemon& d = *daemons_.back();
    if (daemons_.size() == 1) {
      CommandResult keygen = d.Director({"keygen", "--convention"});
      EXPECT_EQ(keygen.code, 0) << keygen;
    } else {
      d.InstallConventionKey(leader().ConventionKeyPath());
    }
    return d;
  }

  ConventionDaemon& leader() { return *daemons_.front(); }
  ConventionDaemon& operator[](size_t i) { return *daemons_.at(i); }
  size_t size() const { return daemons_.size(); }

  // Starts daemon `d`; a member (not the first daemon) gets `convleader` =
  // the leader's address first, so the leader must have been started.
  ::testing::AssertionResult Start(ConventionDaemon& d) {
    if (&d != &leader()) {
      if (leader().address().empty()) {
        return ::testing::AssertionFailure() << "start the leader before " << d.name();
      }
      if (!d.running()) d.SetConfig("convleader", leader().address());
    }
    return d.Start();
  }

  // Starts every daemon not running yet, in order (the leader first).
  ::testing::AssertionResult StartAll() {
    for (auto& d : daemons_) {
      if (d->running()) continue;
      if (::testing::AssertionResult started = Start(*d); !started) return started;
    }
    return ::testing::AssertionSuccess();
  }

 private:
  std::vector<std::unique_ptr<ConventionDaemon>> daemons_;
};

}  // namespace troupe::testing
