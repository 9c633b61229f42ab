// service_test_util.h - a real gRPC server with the messaging service on a
// unix socket in a temp dir, over a threaded actor system with two native
// actors: "echo" (sends every message back to its sender) and "silent"
// (never answers); and, for calls that need the convention, a fake of it
// whose answers for some names wait until the test releases them.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/common/mutex.h"
#include "daemon/common/strings.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/service/ask_router.h"
#include "daemon/service/blocking_calls.h"
#include "daemon/service/client_auth.h"
#include "daemon/service/messaging_service.h"
#include "grpcpp/grpcpp.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"
#include "tests/runtime/fake_cluster.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace troupe::service::testing {

inline constexpr std::string_view kToken = "0123456789abcdef0123456789abcdef0123";
inline constexpr uint64_t kMaxPayload = 1024;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    system_ = std::make_unique<runtime::ActorSystem>(runtime::SystemOptions{.worker_threads = 2});
    runtime::ActorRef echo = system_->SpawnNative(
        [](runtime::Cell* self, runtime::Message& m) {
          if (m.sender() == nullptr) return;
          self->system()->Deliver(m.sender(), runtime::Message::Make(m.type(), m.payload(), self));
        },
        "echo");
    runtime::ActorRef silent =
        system_->SpawnNative([](runtime::Cell*, runtime::Message&) {}, "silent");
    ASSERT_OK(system_->BindGlobalName("echo", echo));
    ASSERT_OK(system_->BindGlobalName("silent", silent));
    echo_address_ = system_->FormatAddress(echo.get());
    asks_ = std::make_unique<AskRouter>(system_.get());
    auth_ = std::make_unique<ClientAuth>(std::string(kToken));
    blocking_ = std::make_unique<BlockingCalls>(blocking_options_);
    if (with_host_) {
      hosting::HostOptions options;
      options.troupe_dir = dir_.path() + "/troupe";
      host_ = std::make_unique<hosting::BundleHost>(system_.get(), options);
    }
    messaging_ = std::make_unique<MessagingService>(system_.get(), host_.get(), asks_.get(),
                                                    blocking_.get(), auth_.get(), kMaxPayload);
    ConfigureBeforeStart();
    socket_ = dir_.path() + "/troupd.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &tcp_port_);
    builder.RegisterService(messaging_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Messaging::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    asks_->Stop();
    blocking_->Stop();  // as the daemon does: before the server's shutdown
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    EXPECT_TRUE(messaging_->WaitForCallsToEnd(absl::Now() + absl::Seconds(10)));
    if (host_ != nullptr) host_->Shutdown();
    system_->Shutdown();
  }

  // For a derived fixture: runs after the services are made, before the
  // server starts (the setters that must come first).
  virtual void ConfigureBeforeStart() {}

  std::unique_ptr<v1::Messaging::Stub> TcpStub() {
    return v1::Messaging::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(tcp_port_),
                                                      grpc::InsecureChannelCredentials()));
  }
  static std::unique_ptr<grpc::ClientContext> Context(absl::Duration deadline = absl::Seconds(10)) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    return context;
  }

  // Waits (at most `bound`) until `condition` holds; the server side of a
  // cancelled call finishes on gRPC's threads, after the client saw it end.
  template <typename Condition>
  static bool Eventually(Condition condition, absl::Duration bound = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + bound;
    while (!condition()) {
      if (absl::Now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  // Set in a derived fixture's constructor: the pool for calls that may
  // wait, and whether the service gets a bundle host (with nothing loaded;
  // without one, only creates the convention answers may be asked for).
  BlockingCalls::Options blocking_options_;
  bool with_host_ = false;

  troupe::testing::TempDir dir_;
  std::unique_ptr<runtime::ActorSystem> system_;
  std::unique_ptr<AskRouter> asks_;
  std::unique_ptr<ClientAuth> auth_;
  std::unique_ptr<BlockingCalls> blocking_;
  std::unique_ptr<hosting::BundleHost> host_;
  std::unique_ptr<MessagingService> messaging_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Messaging::Stub> stub_;
  std::string socket_;
  std::string echo_address_;
  int tcp_port_ = 0;
};

// Keeps what is sent to other daemons, as "node/id type"; the rest as
// FakeCluster's defaults.
// While SetFull(true), every outbox is "full": Forward says so and
// ResumeWhenRoom keeps the resume until Drain.
class RecordingCluster final : public runtime::testing::FakeCluster {
 public:
  bool Forward(std::string_view node, uint64_t remote_id, runtime::Message message) override {
    troupe::MutexLock lock(&mu_);
    forwarded_.push_back(troupe::StrCat(node, "/", remote_id, " ", message.type()));
    return !full_;
  }
  bool ResumeWhenRoom(std::string_view, std::function<void()> resume) override {
    troupe::MutexLock lock(&mu_);
    if (!full_) return false;
    resumes_.push_back(std::move(resume));
    return true;
  }

  std::vector<std::string> forwarded() const {
    troupe::MutexLock lock(&mu_);
    return forwarded_;
  }
  void SetFull(bool full) {
    troupe::MutexLock lock(&mu_);
    full_ = full;
  }
  size_t waiting() const {
    troupe::MutexLock lock(&mu_);
    return resumes_.size();
  }
  // Runs the kept resumes (the outboxes drained), on this thread.
  void Drain() {
    std::vector<std::function<void()>> resumes;
    {
      troupe::MutexLock lock(&mu_);
      resumes.swap(resumes_);
    }
    for (auto& resume : resumes) resume();
  }

 private:
  mutable troupe::Mutex mu_;
  std::vector<std::string> forwarded_ ABSL_GUARDED_BY(mu_);
  bool full_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> resumes_ ABSL_GUARDED_BY(mu_);
};

// Where the fake convention's slow answers wait: each call that passes
// counts itself and waits until Release.
class Gate {
 public:
  void Pass() {
    entered_.fetch_add(1);
    released_.WaitForNotification();
  }
  int entered() const { return entered_.load(); }
  void Release() {
    if (!released_.HasBeenNotified()) released_.Notify();
  }

 private:
  std::atomic<int> entered_{0};
  troupe::Notification released_;
};

// The convention's names and placement (fakes of what the daemon sets), over
// a cluster that records what is sent to other daemons:
// - find: "elsewhere" is held at troupe://other:7/5, "slow" too but the
//   answer waits at slow_; "unreachable" cannot be looked up; any other
//   name is held nowhere.
// - create: "taken" is held at troupe://other:7/6; "slow-name" is held at
//   troupe://other:7/8, answered at slow_; any other name is claimed.
// - placement: every create placed elsewhere lands at troupe://other:7/9,
//   answered at slow_.
class ConventionTest : public ServiceTest {
 protected:
  void ConfigureBeforeStart() override {
    system_->SetCluster(&cluster_);
    ConventionNames names;
    names.find = [this](const std::string& name) -> absl::StatusOr<std::string> {
      finds_.fetch_add(1);
      if (name == "slow") slow_.Pass();
      if (name == "elsewhere" || name == "slow") return std::string("troupe://other:7/5");
      if (name == "unreachable") return absl::UnavailableError("the leader is gone");
      return absl::NotFoundError("no actor is named '" + name + "' in the convention");
    };
    names.create = [this](const std::string& name,
                          const std::function<absl::StatusOr<std::string>()>& create)
        -> absl::StatusOr<std::string> {
      if (name == "taken") return std::string("troupe://other:7/6");
      if (name == "slow-name") {
        slow_.Pass();
        return std::string("troupe://other:7/8");
      }
      return create();
    };
    messaging_->SetConventionNames(std::move(names));
    messaging_->SetPlaceElsewhere(
        [this](const v1::CreateActorRequest&, const absl::Status&) -> absl::StatusOr<std::string> {
          slow_.Pass();
          return std::string("troupe://other:7/9");
        });
  }
  void TearDown() override {
    slow_.Release();  // nothing waits forever, whatever the test did
    cluster_.SetFull(false);
    cluster_.Drain();
    ServiceTest::TearDown();
    system_->SetCluster(nullptr);
  }

  RecordingCluster cluster_;
  std::atomic<int> finds_{0};
  Gate slow_;
};

}  // namespace troupe::service::testing
