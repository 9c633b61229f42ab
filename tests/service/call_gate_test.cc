// call_gate_test.cc - CallGate decides from a call's headers alone; and
// Admin.LoadUpload refuses an upload over its limit as the chunks arrive;
// Admin.InviteMember waits for the invited daemon off gRPC's threads.
#include "daemon/service/call_gate.h"

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "absl/cleanup/cleanup.h"
#include "daemon/common/logging.h"
#include "daemon/common/mutex.h"
#include "daemon/service/admin_service.h"
#include "grpcpp/grpcpp.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"
#include "troupe/v1/admin.grpc.pb.h"

namespace troupe::service {
namespace {

constexpr char kToken[] = "0123456789abcdef0123456789abcdef0123";
const std::string kBearer = std::string("Bearer ") + kToken;

CallGate::Call MakeCall(std::string_view path, std::optional<std::string_view> authorization = {},
                        std::optional<std::string_view> peer_auth = {}, int peer_auth_count = 0) {
  CallGate::Call call;
  call.path = path;
  call.authorization = authorization;
  call.peer_auth = peer_auth;
  call.peer_auth_count = peer_auth_count;
  return call;
}

TEST(CallGateTest, ClientCallsNeedTheTokenWhateverTheService) {
  ClientAuth auth{std::string(kToken)};
  CallGate gate(&auth, nullptr);
  for (const char* path : {"/troupe.v1.Messaging/Tell", "/troupe.v1.Admin/Shutdown",
                           "/grpc.health.v1.Health/Check",
                           "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}) {
    absl::Status none = gate.Decide(MakeCall(path));
    EXPECT_EQ(none.code(), absl::StatusCode::kUnauthenticated) << path;
    EXPECT_EQ(none.message(), ClientAuth::kRefusal);
    EXPECT_EQ(gate.Decide(MakeCall(path, "Bearer wrong")).code(),
              absl::StatusCode::kUnauthenticated);
    EXPECT_OK(gate.Decide(MakeCall(path, kBearer)));
  }
}

TEST(CallGateTest, WithoutTcpClientsEveryClientCallIsRefused) {
  ClientAuth no_tcp;
  CallGate gate(&no_tcp, nullptr);
  absl::Status refused = gate.Decide(MakeCall("/troupe.v1.Admin/List", kBearer));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_CONTAINS(std::string(refused.message()), "takes no TCP clients");
}

TEST(CallGateTest, ConventionCallsNeedAProofNotTheToken) {
  ClientAuth auth{std::string(kToken)};
  CallGate alone(&auth, nullptr);
  absl::Status refused =
      alone.Decide(MakeCall("/troupe.v1.Convention/FetchBundle", kBearer));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_CONTAINS(std::string(refused.message()), "takes part in no convention");

  std::string checked_method;
  CallGate member(&auth, [&](std::optional<std::string_view> value, std::string_view method) {
    checked_method = std::string(method);
    return value == "good" ? absl::OkStatus() : absl::UnauthenticatedError("bad proof");
  });
  EXPECT_OK(member.Decide(MakeCall("/troupe.v1.Convention/Join", {}, "good", 1)));
  EXPECT_EQ(checked_method, "/troupe.v1.Convention/Join");
  EXPECT_EQ(member.Decide(MakeCall("/troupe.v1.Convention/Join")).message(), "bad proof");
  EXPECT_EQ(member.Decide(MakeCall("/troupe.v1.Convention/Join", {}, "good", 2)).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(CallGateTest, AFloodOfRefusalsIsLoggedAtPowersOfTwo) {
  std::vector<std::string> lines;
  SetLogSinkForTest([&lines](LogLevel, std::string_view line) { lines.emplace_back(line); });
  ClientAuth auth{std::string(kToken)};
  CallGate gate(&auth, nullptr);
  for (int i = 0; i < 1000; ++i) (void)gate.Decide(MakeCall("/troupe.v1.Messaging/Tell"));
  SetLogSinkForTest(nullptr);
  ASSERT_EQ(lines.size(), 10u);  // 1, 2, 4, ..., 512
  EXPECT_CONTAINS(lines.back(), "(512 TCP calls refused so far; logged at powers of 2)");
}

TEST(AdminUploadTest, AnUploadOverTheLimitIsRefusedAsItArrives) {
  troupe::testing::TempDir dir("admin_upload");
  ClientAuth auth;
  DaemonFacts facts;
  BlockingCalls blocking;
  AdminService admin(nullptr, nullptr, &auth, &facts, &blocking, [] {},
                     /*max_upload_bytes=*/1000);
  const std::string socket = dir.path() + "/admin.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = v1::Admin::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::LoadResponse response;
  auto upload = stub->LoadUpload(&context, &response);
  v1::LoadChunk chunk;
  chunk.set_data(std::string(600, 'z'));
  for (int i = 0; i < 4 && upload->Write(chunk); ++i) {
  }
  upload->WritesDone();
  grpc::Status status = upload->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(),
            "the uploaded bundle is larger than the bundle file limit of 1000 bytes");
  server->Shutdown();
}

// While an invitation waits for the invited daemon (on a BlockingCalls
// thread), the Admin service answers other calls; the invitation's answer
// comes when the daemon does.
TEST(AdminInviteTest, AnInvitationWaitsOffTheGrpcThreadsAndIsAnswered) {
  troupe::testing::TempDir dir("admin_invite");
  ClientAuth auth;
  std::atomic<int> inviting{0};
  troupe::Notification answer;
  DaemonFacts facts;
  facts.node = "self:1";
  facts.invite_member = [&](const std::string& address) -> absl::StatusOr<std::string> {
    inviting.fetch_add(1);
    answer.WaitForNotification();
    return "invited " + address;
  };
  BlockingCalls blocking({.threads = 1, .max_queued = 1});
  AdminService admin(nullptr, nullptr, &auth, &facts, &blocking, [] {},
                     /*max_upload_bytes=*/1000);
  const std::string socket = dir.path() + "/admin.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  // Whatever fails below, the invitation ends before the server goes.
  absl::Cleanup answer_at_last = [&answer] {
    if (!answer.HasBeenNotified()) answer.Notify();
  };
  auto stub = v1::Admin::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));

  grpc::ClientContext invite_context;
  v1::InviteMemberRequest invite;
  invite.set_address("peer:2");
  v1::InviteMemberResponse invited;
  std::promise<grpc::Status> invite_done;
  stub->async()->InviteMember(&invite_context, &invite, &invited, [&](grpc::Status status) {
    invite_done.set_value(std::move(status));
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (inviting.load() == 0 && absl::Now() < deadline) std::this_thread::yield();
  ASSERT_EQ(inviting.load(), 1);

  grpc::ClientContext status_context;
  v1::ConventionStatusResponse convention;
  EXPECT_TRUE(stub->ConventionStatus(&status_context, v1::ConventionStatusRequest(), &convention)
                  .ok());
  EXPECT_EQ(convention.self(), "self:1");
  // An invitation without an address is refused at once, on the gRPC thread.
  grpc::ClientContext empty_context;
  v1::InviteMemberResponse refused;
  EXPECT_EQ(
      stub->InviteMember(&empty_context, v1::InviteMemberRequest(), &refused).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  answer.Notify();
  grpc::Status status = invite_done.get_future().get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(invited.result(), "invited peer:2");
  blocking.Stop();
  server->Shutdown();
}

}  // namespace
}  // namespace troupe::service
