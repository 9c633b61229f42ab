// End-to-end tests of troupd itself: sd_notify readiness, the standard health
// and reflection services, TCP clients with and without the token, and the SDK
// examples against a real daemon.
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <future>
#include <thread>

#include "absl/strings/ascii.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "health.grpc.pb.h"
#include "tests/common/notify_listener.h"
#include "tests/common/status_matchers.h"
#include "tests/e2e/daemon_harness.h"
#include "troupe/client.h"
#include "troupe/v1/admin.grpc.pb.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace troupe::testing {
namespace {

std::shared_ptr<grpc::Channel> UnixChannel(const std::string& socket) {
  return grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
}

// True when a connect(2) to the unix socket at `path` succeeds now.
bool UnixSocketAccepts(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool accepted = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return accepted;
}

// Sets an environment variable for the scope (children inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

TEST(TroupdNotifyTest, ReadyComesOnlyOnceTheSocketAnswersAndTheBundlesAreBack) {
  DaemonHarness harness;
  ASSERT_TRUE(harness.StartDaemon());
  CommandResult loaded = harness.Director({"load", TROUPE_HELLO_BUNDLE});
  ASSERT_EQ(loaded.code, 0) << loaded;
  ASSERT_TRUE(harness.StopDaemon());

  NotifyListener listener;
  ASSERT_TRUE(listener.ok());
  {
    ScopedEnv notify("NOTIFY_SOCKET", listener.socket());
    ASSERT_TRUE(harness.StartDaemonNoWait());
  }
  ASSERT_TRUE(listener.WaitForLine("READY=1", absl::Seconds(60))) << harness.DaemonLog();
  // Right when READY=1 arrives: the socket accepts and hello answers, with no
  // waiting or retrying on our side.
  ASSERT_TRUE(UnixSocketAccepts(harness.socket())) << "READY=1 came before the socket accepted";
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(harness.socket());
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<Client::Message> reply =
      (*client)->Ask("hello", {"text", "up", ""}, absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << "READY=1 came before the bundles were restored: " << reply.status();
  EXPECT_EQ(reply->payload, "up");

  std::vector<std::string> lines = listener.Lines();
  auto at = [&](std::string_view prefix) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].rfind(prefix, 0) == 0) return static_cast<int>(i);
    }
    return -1;
  };
  ASSERT_GE(at("STATUS=restoring"), 0) << ::testing::PrintToString(lines);
  EXPECT_LT(at("STATUS=restoring"), at("READY=1"));
  EXPECT_LT(at("STATUS=serving 1 bundles"), at("READY=1"));

  client->reset();
  ASSERT_TRUE(harness.StopDaemon());
  ASSERT_TRUE(listener.WaitForLine("STOPPING=1", absl::Seconds(10)));
}

TEST(TroupdStartTest, ASecondDaemonOnTheSameSocketIsRefusedAndTheFirstKeepsServing) {
  DaemonHarness harness;
  ASSERT_TRUE(harness.StartDaemon());
  ASSERT_EQ(harness.Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  CommandResult second = harness.Run({TROUPD_PATH, "--dir", harness.dir()});
  EXPECT_EQ(second.code, 1) << second;
  EXPECT_CONTAINS(second.err, "another troupd already serves " + harness.socket());
  CommandResult ask = harness.Director({"ask", "hello", "--data", "still here"});
  EXPECT_EQ(ask.code, 0) << ask;
  EXPECT_CONTAINS(ask.out, "still here");
}

TEST(TroupdServicesTest, HealthSaysServingAndReflectionListsTheServices) {
  DaemonHarness harness;
  ASSERT_TRUE(harness.StartDaemon());
  auto channel = UnixChannel(harness.socket());

  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // Reflection: ServerReflectionInfo with list_services (field 7, empty
  // string) as raw bytes; the answer names every service.
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext reflection_context;
  reflection_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call = generic.PrepareCall(
      &reflection_context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  const std::string request("\x3a\x00", 2);
  grpc::Slice slice(request);
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string answer;
  for (const grpc::Slice& s : slices)
    answer.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_CONTAINS(answer, "troupe.v1.Admin");
  EXPECT_CONTAINS(answer, "troupe.v1.Messaging");
  EXPECT_CONTAINS(answer, "grpc.health.v1.Health");
  reflection_context.TryCancel();
  grpc::Status finished;
  call->Finish(&finished, reinterpret_cast<void*>(4));
  while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(4)) {
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

// The TCP address of a running daemon, from its status (asked over the unix socket).
std::string TcpListener(DaemonHarness& harness) {
  auto admin = v1::Admin::NewStub(UnixChannel(harness.socket()));
  grpc::ClientContext context;
  v1::StatusResponse status;
  if (!admin->Status(&context, v1::StatusRequest(), &status).ok()) return "";
  for (const std::string& listener : status.system().listeners()) {
    if (listener.rfind("127.0.0.1:", 0) == 0) return listener.substr(0, listener.find(' '));
  }
  return "";
}

// Hostile input 1: an unauthenticated peer's call is refused from its
// headers, before its body is read (a 512 MiB Tell once peaked at 1.3 GiB
// RSS); health and reflection need the token on TCP too; a daemon in no
// convention refuses Convention calls the same way.
TEST(TroupdTcpTest, UnauthenticatedCallsAreRefusedBeforeTheirBodyIsRead) {
  DaemonHarness harness;
  ASSERT_TRUE(harness.StartDaemon({"--listen", "127.0.0.1:0"}));
  const std::string tcp = TcpListener(harness);
  ASSERT_FALSE(tcp.empty());
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(tcp, grpc::InsecureChannelCredentials(), args);

  auto messaging = v1::Messaging::NewStub(channel);
  v1::TellRequest tell;
  tell.set_to("hello");
  tell.set_type("text");
  tell.set_payload(std::string(32 << 20, 'x'));
  grpc::ClientContext tell_context;
  v1::TellResponse told;
  grpc::Status refused = messaging->Tell(&tell_context, tell, &told);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED) << refused.error_message();
  EXPECT_CONTAINS(refused.error_message(), "missing or wrong client token");
  EXPECT_CONTAINS(harness.DaemonLog(),
                  "refused a TCP call to /troupe.v1.Messaging/Tell: no client token");

  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext health_context;
  grpc::health::v1::HealthCheckResponse answer;
  EXPECT_EQ(health->Check(&health_context, grpc::health::v1::HealthCheckRequest(), &answer)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext token_context;
  token_context.AddMetadata(
      "authorization", "Bearer " + std::string(absl::StripAsciiWhitespace(
                                       ReadFileForTest(harness.dir() + "/keys/client.token"))));
  grpc::Status served =
      health->Check(&token_context, grpc::health::v1::HealthCheckRequest(), &answer);
  EXPECT_TRUE(served.ok()) << served.error_message();

  grpc::GenericStub generic(channel);
  grpc::ClientContext fetch_context;
  grpc::ByteBuffer junk_reply;
  grpc::Slice junk(std::string(16 << 20, 'j'));
  grpc::ByteBuffer junk_request(&junk, 1);
  std::promise<grpc::Status> fetched;
  generic.UnaryCall(&fetch_context, "/troupe.v1.Convention/FetchBundle", grpc::StubOptions(),
                    &junk_request, &junk_reply,
                    [&fetched](grpc::Status status) { fetched.set_value(status); });
  grpc::Status fetch = fetched.get_future().get();
  EXPECT_EQ(fetch.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_CONTAINS(fetch.error_message(), "takes part in no convention");

  // The daemon goes on serving its unix socket.
  EXPECT_EQ(harness.Director({"status"}).code, 0);
}

TEST(TroupdTcpTest, ClientsNeedTheTokenAndARefusedOneDoesNotDisturbOthers) {
  DaemonHarness harness;
  ASSERT_TRUE(harness.StartDaemon({"--listen", "127.0.0.1:0"}));
  ASSERT_EQ(harness.Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  // The port: from the daemon's status, asked over the unix socket.
  auto admin = v1::Admin::NewStub(UnixChannel(harness.socket()));
  grpc::ClientContext context;
  v1::StatusResponse status;
  ASSERT_TRUE(admin->Status(&context, v1::StatusRequest(), &status).ok());
  std::string tcp;
  for (const std::string& listener : status.system().listeners()) {
    if (listener.rfind("127.0.0.1:", 0) == 0) tcp = listener.substr(0, listener.find(' '));
  }
  ASSERT_FALSE(tcp.empty()) << status.text();
  const std::string token = ReadFileForTest(harness.dir() + "/keys/client.token");
  ASSERT_GE(token.size(), 32u);

  // A unix-socket client is connected throughout.
  absl::StatusOr<std::unique_ptr<Client>> local = Client::Connect(harness.socket());
  ASSERT_TRUE(local.ok()) << local.status();

  absl::StatusOr<std::unique_ptr<Client>> anonymous = Client::Connect(tcp);
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kUnauthenticated);

  Client::Options wrong;
  wrong.token = std::string(64, 'f');
  absl::StatusOr<std::unique_ptr<Client>> impostor = Client::Connect(tcp, wrong);
  ASSERT_FALSE(impostor.ok());
  EXPECT_EQ(impostor.status().code(), absl::StatusCode::kUnauthenticated);
  // Refused from the call's headers, before any request body was read.
  EXPECT_CONTAINS(harness.DaemonLog(), "refused a TCP call to /troupe.v1.Messaging/Connect: wrong client token");

  Client::Options garbled;
  garbled.token = std::string("abc") + char{1} + "def";  // cannot travel as metadata: refused before any call
  absl::StatusOr<std::unique_ptr<Client>> garbled_client = Client::Connect(tcp, garbled);
  ASSERT_FALSE(garbled_client.ok());
  EXPECT_EQ(garbled_client.status().code(), absl::StatusCode::kInvalidArgument);

  // The file's contents as they are (with the line end) are the token.
  Client::Options as_read;
  as_read.token = token;
  absl::StatusOr<std::unique_ptr<Client>> from_file = Client::Connect(tcp, as_read);
  ASSERT_TRUE(from_file.ok()) << from_file.status();

  Client::Options right;
  right.token = token.substr(0, token.find('\n'));
  absl::StatusOr<std::unique_ptr<Client>> remote = Client::Connect(tcp, right);
  ASSERT_TRUE(remote.ok()) << remote.status();
  absl::StatusOr<Client::Message> reply =
      (*remote)->Ask("hello", {"text", "tcp", ""}, absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->payload, "tcp");
  reply = (*local)->Ask("hello", {"text", "local", ""}, absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->payload, "local");
}

TEST(TroupdLimitsTest, AMessageOverTheLimitIsRefusedAndTheClientGoesOn) {
  DaemonHarness harness;
  WriteFileForTest(harness.dir() + "/config/max_message_bytes", "1024\n");
  ASSERT_TRUE(harness.StartDaemon());
  ASSERT_EQ(harness.Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(harness.socket());
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<Client::Message> reply =
      (*client)->Ask("hello", {"text", std::string(1025, 'x'), ""}, absl::Seconds(10));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_CONTAINS(reply.status().message(), "max_message_bytes");
  // The same stream, and the daemon, go on.
  reply = (*client)->Ask("hello", {"text", std::string(1024, 'y'), ""}, absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->payload.size(), 1024u);
  // An ask to an unknown name fails; another client is served right after.
  absl::StatusOr<std::unique_ptr<Client>> other = Client::Connect(harness.socket());
  ASSERT_TRUE(other.ok()) << other.status();
  CommandResult silent = harness.Director({"ask", "nobody-here", "--data", "x"});
  EXPECT_NE(silent.code, 0) << silent;
  EXPECT_CONTAINS(silent.out + silent.err, "no actor is named 'nobody-here'");
  reply = (*other)->Ask("hello", {"text", "fine", ""}, absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
}

TEST(TroupdCapabilitiesTest, ClientsReadAndChangeCapabilitiesButNotTheReadOnlyOnes) {
  DaemonHarness harness;
  ASSERT_TRUE(harness.StartDaemon());
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(harness.socket());
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->SetCapability("gpu", "true").ok());
  absl::StatusOr<std::string> caps = (*client)->Capabilities();
  ASSERT_TRUE(caps.ok()) << caps.status();
  EXPECT_CONTAINS(*caps, "\"gpu\":true");
  EXPECT_CONTAINS(*caps, "\"troupe.cores\":");
  absl::Status refused = (*client)->SetCapability("troupe.cores", "64");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(refused.message(), "read-only");
  EXPECT_EQ((*client)->SetCapability("gpu", "not json").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*client)->SetCapability("gpu", "").ok());  // removed
  caps = (*client)->Capabilities();
  ASSERT_TRUE(caps.ok());
  EXPECT_EQ(caps->find("\"gpu\""), std::string::npos) << *caps;
}

TEST(SdkExamplesTest, TellAskAndAsyncAskRunAgainstARealDaemon) {
  DaemonHarness harness;
  ASSERT_TRUE(harness.StartDaemon());
  ASSERT_EQ(harness.Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  CommandResult ask = harness.Run({TROUPE_EXAMPLE_ASK, harness.socket(), "hello", "from the sdk"});
  EXPECT_EQ(ask.code, 0) << ask;
  EXPECT_CONTAINS(ask.out, "from the sdk");
  CommandResult tell = harness.Run({TROUPE_EXAMPLE_TELL, harness.socket(), "hello"});
  EXPECT_EQ(tell.code, 0) << tell;
  CommandResult async_ask = harness.Run({TROUPE_EXAMPLE_ASYNC_ASK, harness.socket(), "hello"});
  EXPECT_EQ(async_ask.code, 0) << async_ask;
  // An example pointed at a name nobody has fails with the daemon's error.
  CommandResult missing = harness.Run({TROUPE_EXAMPLE_ASK, harness.socket(), "nobody", "x"});
  EXPECT_NE(missing.code, 0);
  EXPECT_CONTAINS(missing.out + missing.err, "no actor is named 'nobody'");
}

}  // namespace
}  // namespace troupe::testing
