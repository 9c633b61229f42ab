// http_limits_test.cc - the HTTP API's bounds (body size, connections,
// slow clients, executions kept) and its supervision by troupd (restart
// after a crash, stop with the daemon), against a real troupd.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "tests/common/openssl_for_test.h"
#include "tests/http/http_harness.h"

namespace troupe::testing {
namespace {

using nlohmann::json;

// The children of `pid` (its threads' children lists).
std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> children;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream in(task.path() / "children");
    pid_t child;
    while (in >> child) children.push_back(child);
  }
  return children;
}

TEST(HttpLimitsTest, ABodyOverTheMessageLimitIs413AndOneWithoutALengthIs411) {
  HttpHarness http(HttpSettings{{"max_message_bytes", "1024"}});
  ASSERT_TRUE(http.Start());
  auto big = http.client().Post("/v1/actors/x/messages", std::string(2048, 'a'), "text/plain");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(big->body.find("max_message_bytes (1024)"), std::string::npos) << big->body;
  // Chunked, without Content-Length.
  const int fd = http.Connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "POST /v1/actors/x/messages HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                          http.token() +
                          "\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "2\r\nhi\r\n0\r\n\r\n"));
  const std::string answer = ReadResponse(fd, std::chrono::seconds(30));
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 411", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_NE(answer.find("a Content-Length"), std::string::npos) << answer;
  // The API still serves.
  auto health = http.client().Get("/v1/bundles");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(HttpLimitsTest, ChunkedMessagesAndBundlesOverTheFileLimitAreRefusedBeforeTheirBody) {
  HttpHarness http(HttpSettings{{"max_total_bytes", "4096"}});
  ASSERT_TRUE(http.Start());
  // Content-Length and chunked at once: refused (the chunks would not be counted).
  int fd = http.Connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "POST /v1/actors/x/messages HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                              http.token() +
                              "\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string answer = ReadResponse(fd, std::chrono::seconds(30));
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 411", 0), 0u) << answer;
  // A bundle over the file limit, announced: 413 before a byte of it is sent.
  fd = http.Connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "POST /v1/bundles HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                              http.token() +
                              "\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n"));
  answer = ReadResponse(fd, std::chrono::seconds(30));
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_NE(answer.find("max_total_bytes (4096)"), std::string::npos) << answer;
}

TEST(HttpLimitsTest, AWrongTokenIsRefusedBeforeTheBodyIsSent) {
  HttpHarness http;
  ASSERT_TRUE(http.Start());
  const int fd = http.Connect();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "POST /v1/bundles HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer nope"
                          "\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"));
  const std::string answer = ReadResponse(fd, std::chrono::seconds(30));
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << answer;  // not "100 Continue"
}

TEST(HttpLimitsTest, ASlowClientIsDisconnectedAndOthersAreServedMeanwhile) {
  HttpHarness http(HttpSettings{{"http_read_timeout_seconds", "1"}});
  ASSERT_TRUE(http.Start());
  const int slow = http.Connect();
  ASSERT_GE(slow, 0);
  ASSERT_TRUE(SendAll(slow, "GET /v1/bundles HTTP/1.1\r\nHost: t\r\n"));  // never finished
  auto served = http.client().Get("/v1/bundles");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
  std::string answer;
  EXPECT_TRUE(ReadUntilClosed(slow, std::chrono::seconds(30), &answer))
      << "the slow client was not disconnected";
  ::close(slow);
}

TEST(HttpLimitsTest, ConnectionsBeyondTheBoundGet503) {
  HttpHarness http(HttpSettings{{"http_max_connections", "1"}});
  ASSERT_TRUE(http.Start());
  // One connection holds the only serving thread, one waits for it.
  const int held = http.Connect();
  ASSERT_GE(held, 0);
  ASSERT_TRUE(SendAll(held, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string first;
  {
    // Its answer proves a serving thread took it (and keeps it: keep-alive).
    char buffer[1024];
    pollfd p{held, POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 30000), 0);
    ASSERT_GT(::recv(held, buffer, sizeof buffer, 0), 0);
  }
  const int waiting = http.Connect();
  ASSERT_GE(waiting, 0);
  // The next one is refused: 503, JSON.
  std::string answer;
  for (int attempt = 0; attempt < 50 && answer.find(" 503 ") == std::string::npos; ++attempt) {
    answer.clear();
    const int refused = http.Connect();
    ASSERT_GE(refused, 0);
    ASSERT_TRUE(SendAll(refused, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    answer = ReadResponse(refused, std::chrono::seconds(30));
    ::close(refused);
  }
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("http_max_connections (1)"), std::string::npos) << answer;
  ::close(held);
  ::close(waiting);
}

TEST(HttpLimitsTest, AnExecutionPushedOutByTheBoundIsGone410) {
  HttpHarness http(HttpSettings{{"executions_kept", "1"}});
  ASSERT_TRUE(http.Start());
  auto bundle = http.client().Post("/v1/bundles", ReadFileForTest(TROUPE_EXAMPLES_BUNDLE),
                                   "application/octet-stream");
  ASSERT_TRUE(bundle && bundle->status == 201);
  auto created = http.client().Post("/v1/actors", R"({"group":"examples","class":"examples.Echo",
                                    "name":"echo"})",
                                    "application/json");
  ASSERT_TRUE(created && created->status == 201);
  auto first = http.client().Post("/v1/actors/echo/executions", "one", "text/plain");
  ASSERT_TRUE(first && first->status == 202);
  const std::string id = json::parse(first->body).value("id", "");
  auto second = http.client().Post("/v1/actors/echo/executions", "two", "text/plain");
  ASSERT_TRUE(second && second->status == 202);
  auto gone = http.client().Get("/v1/executions/" + id);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 410) << gone->body;
  EXPECT_NE(gone->body.find("expired"), std::string::npos);
}

TEST(HttpLimitsTest, TroupdRestartsACrashedHttpApiAndStopsItWithItself) {
  HttpHarness http;
  ASSERT_TRUE(http.Start());
  const pid_t daemon = http.daemon().daemon_pid();
  std::vector<pid_t> children = ChildrenOf(daemon);
  ASSERT_EQ(children.size(), 1u);
  const std::string old_address = http.address();
  ::kill(children[0], SIGKILL);
  // Back after a second's backoff, on a new port (port 0 picks again).
  ASSERT_TRUE(http.WaitForHttp(old_address));
  auto served = http.client().Get("/v1/bundles");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
  EXPECT_NE(http.daemon().DaemonLog().find("was killed by signal 9 (SIGKILL)"), std::string::npos)
      << http.daemon().DaemonLog();
  children = ChildrenOf(daemon);
  ASSERT_EQ(children.size(), 1u);
  const pid_t gateway = children[0];
  ASSERT_TRUE(http.daemon().StopDaemon());
  EXPECT_TRUE(WaitForProcessExit(gateway, std::chrono::seconds(0)))
      << "troupe-http outlived troupd";
}

TEST(HttpLimitsTest, WithTheTlsSettingsTheApiSpeaksHttpsOnly) {
  TempDir pki("http_pki");
  const std::string dir = pki.path();
  ASSERT_EQ(OpensslForTest(dir, {"req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
                                 "-out", "ca.pem", "-days", "2", "-subj", "/CN=ca"}),
            "");
  WriteFileForTest(dir + "/ext.cnf", "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  ASSERT_EQ(OpensslForTest(dir, {"req", "-new", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                                 "server.key", "-out", "server.csr", "-subj", "/CN=server"}),
            "");
  ASSERT_EQ(OpensslForTest(dir, {"x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey",
                                 "ca.key", "-set_serial", "2", "-days", "2", "-extfile", "ext.cnf",
                                 "-out", "server.pem"}),
            "");
  HttpHarness http(HttpSettings{{"convention_tls_cert", dir + "/server.pem"},
                                {"convention_tls_key", dir + "/server.key"},
                                {"convention_tls_ca", dir + "/ca.pem"}});
  ASSERT_TRUE(http.Start());
  httplib::SSLClient tls("127.0.0.1", http.port());
  tls.set_ca_cert_path((dir + "/ca.pem").c_str());
  tls.enable_server_certificate_verification(true);
  tls.set_bearer_token_auth(http.token().c_str());
  auto listed = tls.Get("/v1/bundles");
  ASSERT_TRUE(listed) << httplib::to_string(listed.error());
  EXPECT_EQ(listed->status, 200);
  auto plain = http.client().Get("/v1/bundles");  // plain HTTP to the HTTPS port
  EXPECT_TRUE(!plain || plain->status != 200);
}

}  // namespace
}  // namespace troupe::testing
