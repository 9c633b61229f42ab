// call_gate_test.cc - CallGate decides from a call's headers alone; and
// Admin.LoadUpload refuses an upload over its limit as the chunks arrive.
#include "daemon/service/call_gate.h"

#include <gtest/gtest.h>

#include "daemon/common/logging.h"
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
  AdminService admin(nullptr, nullptr, &auth, &facts, [] {}, /*max_upload_bytes=*/1000);
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

}  // namespace
}  // namespace troupe::service
