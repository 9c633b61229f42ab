// service_test_util.h - a real gRPC server with the messaging service on a
// unix socket in a temp dir, over a threaded actor system with two native
// actors: "echo" (sends every message back to its sender) and "silent"
// (never answers).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "daemon/runtime/actor_system.h"
#include "daemon/service/ask_router.h"
#include "daemon/service/client_auth.h"
#include "daemon/service/messaging_service.h"
#include "grpcpp/grpcpp.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"
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
    messaging_ = std::make_unique<MessagingService>(system_.get(), nullptr, asks_.get(),
                                                    auth_.get(), kMaxPayload);
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
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    EXPECT_TRUE(messaging_->WaitForCallsToEnd(absl::Now() + absl::Seconds(10)));
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

  troupe::testing::TempDir dir_;
  std::unique_ptr<runtime::ActorSystem> system_;
  std::unique_ptr<AskRouter> asks_;
  std::unique_ptr<ClientAuth> auth_;
  std::unique_ptr<MessagingService> messaging_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Messaging::Stub> stub_;
  std::string socket_;
  std::string echo_address_;
  int tcp_port_ = 0;
};

}  // namespace troupe::service::testing
