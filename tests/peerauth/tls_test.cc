// tls_test.cc - mutual TLS between peers: a CA, server and client
// certificates made with the openssl command-line tool in a temporary
// directory; a TLS server on 127.0.0.1:0 that takes token-style clients
// without certificates at the handshake but refuses them in the Convention
// service; and clear errors for bad PEM settings.
#include "daemon/peerauth/tls.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/config/config.h"
#include "daemon/peerauth/convention_key.h"
#include "daemon/peerauth/peer_verifier.h"
#include "grpcpp/grpcpp.h"
#include "tests/common/command_result.h"
#include "tests/common/status_matchers.h"
#include "tests/common/openssl_for_test.h"
#include "tests/common/temp_dir.h"
#include "tests/peerauth/peer_test_server.h"

extern char** environ;

namespace troupe::peerauth {
namespace {

using testing::CallInvite;
using testing::CallJoin;
using testing::CallOutcome;
using testing::kServerNode;
using testing::LogCapture;
using testing::TestServer;
using troupe::testing::ReadFileForTest;
using troupe::testing::TempDir;
using troupe::testing::WriteFileForTest;

std::string Openssl(const std::string& dir, std::vector<std::string> args) {
  return troupe::testing::OpensslForTest(dir, std::move(args));
}

// A certificate authority and certificates it signed, in one directory.
class Pki {
 public:
  // Makes the CA `name` (name.pem, name.key).
  std::string MakeCa(const std::string& name) {
    return Openssl(dir_.path(), {"req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
                                 "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name});
  }
  // Makes `name`.pem/.key for 127.0.0.1 (server and client use), signed by `ca`.
  std::string MakeCert(const std::string& name, const std::string& ca) {
    WriteFileForTest(dir_.path() + "/ext.cnf",
                     "subjectAltName=IP:127.0.0.1\n"
                     "extendedKeyUsage=serverAuth,clientAuth\n"
                     "basicConstraints=CA:FALSE\n");
    std::string error =
        Openssl(dir_.path(), {"req", "-new", "-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
                              "-out", name + ".csr", "-subj", "/CN=" + name});
    if (!error.empty()) return error;
    return Openssl(dir_.path(), {"x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
                                 ca + ".key", "-set_serial", std::to_string(++serial_), "-days",
                                 "2", "-extfile", "ext.cnf", "-out", name + ".pem"});
  }
  std::string Path(const std::string& file) const { return dir_.path() + "/" + file; }

  // Settings naming `name`.pem/.key and the CA `ca`.pem.
  config::DaemonSettings Settings(const std::string& name, const std::string& ca) const {
    config::DaemonSettings settings;
    settings.tls_cert_path = Path(name + ".pem");
    settings.tls_key_path = Path(name + ".key");
    settings.tls_ca_path = Path(ca + ".pem");
    return settings;
  }

 private:
  TempDir dir_{"peerauth_pki"};
  int serial_ = 1;
};

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki;
    for (const char* ca : {"ca", "other-ca"}) {
      const std::string error = pki_->MakeCa(ca);
      ASSERT_EQ(error, "");
    }
    for (auto [name, ca] : {std::pair{"server", "ca"}, std::pair{"client", "ca"},
                            std::pair{"stranger", "other-ca"}}) {
      const std::string error = pki_->MakeCert(name, ca);
      ASSERT_EQ(error, "");
    }
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  // A TLS server like troupd's TCP listener, its Convention service requiring
  // client certificates.
  void StartServer() {
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ServerCredentials> credentials,
                         MakeServerCredentials(pki_->Settings("server", "ca")));
    PeerVerifierOptions options;
    options.require_client_certificate = true;
    verifier_ = std::make_unique<PeerVerifier>(key_, kServerNode, options);
    server_ = std::make_unique<TestServer>(verifier_.get(), testing::ServerMode::kAuthenticate,
                                           credentials);
  }

  std::shared_ptr<grpc::Channel> Dial(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    return DialPeer(server_->address(), credentials, 1 << 20, 1 << 20);
  }

  static Pki* pki_;
  const ConventionKey key_ = ConventionKey::Generate();
  std::unique_ptr<PeerVerifier> verifier_;
  std::unique_ptr<TestServer> server_;
};

Pki* TlsTest::pki_ = nullptr;

TEST_F(TlsTest, PeerWithACertificateFromTheConventionCaIsAccepted) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                       MakeChannelCredentials(pki_->Settings("client", "ca")));
  CallOutcome invite = CallInvite(Dial(credentials), &key_);
  ASSERT_TRUE(invite.status.ok()) << invite.status.error_message();
  ASSERT_OK(invite.server_node);
  EXPECT_EQ(*invite.server_node, kServerNode);
  CallOutcome join = CallJoin(Dial(credentials), &key_);
  ASSERT_TRUE(join.status.ok()) << join.status.error_message();
  EXPECT_EQ(join.messages_read, 1);
  EXPECT_EQ(server_->service().handled(), 2);
}

TEST_F(TlsTest, PeerWithoutAClientCertificateIsRefusedByTheService) {
  StartServer();
  // Like a token client: trusts the CA, presents no certificate. The handshake
  // succeeds (the listener is shared), the Convention service refuses.
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFileForTest(pki_->Path("ca.pem"));
  LogCapture log;
  CallOutcome invite = CallInvite(Dial(grpc::SslCredentials(options)), &key_);
  EXPECT_EQ(invite.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_CONTAINS(invite.status.error_message(), "no client certificate");
  EXPECT_EQ(server_->service().handled(), 0);
  EXPECT_CONTAINS(log.Text(), "from ipv4:127.0.0.1:");
  EXPECT_CONTAINS(log.Text(), "no client certificate");
}

TEST_F(TlsTest, PeerTrustingAnotherCaCannotConnect) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                       MakeChannelCredentials(pki_->Settings("client", "other-ca")));
  CallOutcome invite = CallInvite(Dial(credentials), &key_);
  EXPECT_EQ(invite.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << invite.status.error_message();
  EXPECT_EQ(server_->service().handled(), 0);
}

TEST_F(TlsTest, PeerWithACertificateFromAnotherCaCannotConnect) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                       MakeChannelCredentials(pki_->Settings("stranger", "ca")));
  CallOutcome invite = CallInvite(Dial(credentials), &key_);
  EXPECT_EQ(invite.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << invite.status.error_message();
  EXPECT_EQ(server_->service().handled(), 0);
}

TEST_F(TlsTest, PlaintextPeerCannotTalkToTheTlsListener) {
  StartServer();
  CallOutcome invite = CallInvite(Dial(grpc::InsecureChannelCredentials()), &key_);
  EXPECT_EQ(invite.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << invite.status.error_message();
  EXPECT_EQ(server_->service().handled(), 0);
}

TEST_F(TlsTest, ValidCertificateStillNeedsTheConventionKey) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                       MakeChannelCredentials(pki_->Settings("client", "ca")));
  const ConventionKey wrong = ConventionKey::Generate();
  LogCapture log;
  CallOutcome invite = CallInvite(Dial(credentials), &wrong);
  EXPECT_EQ(invite.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_CONTAINS(invite.status.error_message(), "bad proof of the convention key");
}

TEST_F(TlsTest, RequireVerifiedPeerCertificateRefusesPlaintextCalls) {
  PeerVerifierOptions options;
  options.require_client_certificate = true;
  PeerVerifier verifier(key_, kServerNode, options);
  TestServer server(&verifier);  // insecure listener
  LogCapture log;
  CallOutcome invite =
      CallInvite(DialPeer(server.address(), grpc::InsecureChannelCredentials(), 0, 0), &key_);
  EXPECT_EQ(invite.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_CONTAINS(invite.status.error_message(), "did not come over TLS");
}

TEST_F(TlsTest, WithoutTlsSettingsCredentialsAreInsecure) {
  config::DaemonSettings settings;
  EXPECT_FALSE(TlsConfigured(settings));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ServerCredentials> server,
                       MakeServerCredentials(settings));
  EXPECT_NE(server, nullptr);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ChannelCredentials> channel,
                       MakeChannelCredentials(settings));
  EXPECT_NE(channel, nullptr);
  EXPECT_EQ(LoadTlsFiles(settings).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsTest, BadPemFilesAreNamedInTheError) {
  TempDir dir;
  config::DaemonSettings settings = pki_->Settings("server", "ca");
  ASSERT_OK(LoadTlsFiles(settings));

  config::DaemonSettings missing = settings;
  missing.tls_ca_path = dir.path() + "/missing.pem";
  absl::StatusOr<TlsFiles> files = LoadTlsFiles(missing);
  EXPECT_EQ(files.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(files.status().message(), dir.path() + "/missing.pem");
  EXPECT_CONTAINS(files.status().message(), "convention_tls_ca");
  EXPECT_FALSE(MakeServerCredentials(missing).ok());
  EXPECT_FALSE(MakeChannelCredentials(missing).ok());

  config::DaemonSettings not_pem = settings;
  not_pem.tls_cert_path = dir.path() + "/cert.pem";
  WriteFileForTest(not_pem.tls_cert_path, "hello\n");
  files = LoadTlsFiles(not_pem);
  EXPECT_CONTAINS(files.status().message(), dir.path() + "/cert.pem");
  EXPECT_CONTAINS(files.status().message(), "no PEM certificate");

  config::DaemonSettings cert_as_key = settings;
  cert_as_key.tls_key_path = settings.tls_cert_path;
  ASSERT_EQ(::chmod(settings.tls_cert_path.c_str(), 0600), 0);
  files = LoadTlsFiles(cert_as_key);
  EXPECT_CONTAINS(files.status().message(), "no PEM private key");
  EXPECT_CONTAINS(files.status().message(), "convention_tls_key");
  ASSERT_EQ(::chmod(settings.tls_cert_path.c_str(), 0644), 0);

  config::DaemonSettings open_key = settings;
  open_key.tls_key_path = dir.path() + "/open.key";
  WriteFileForTest(open_key.tls_key_path, ReadFileForTest(settings.tls_key_path));
  ASSERT_EQ(::chmod(open_key.tls_key_path.c_str(), 0644), 0);
  files = LoadTlsFiles(open_key);
  EXPECT_CONTAINS(files.status().message(), "accessible by others");
  EXPECT_CONTAINS(files.status().message(), "chmod 600 " + open_key.tls_key_path);
  ASSERT_EQ(::chmod(open_key.tls_key_path.c_str(), 0640), 0);  // group: ssl-cert style
  EXPECT_OK(LoadTlsFiles(open_key));
}

TEST_F(TlsTest, AFifoAsTheCertificateIsRefusedAtOnce) {
  // Opening a FIFO without a writer would block a reader that did not open it
  // O_NONBLOCK: the daemon would hang at start. It must be refused instead.
  TempDir dir;
  config::DaemonSettings fifo = pki_->Settings("server", "ca");
  fifo.tls_cert_path = dir.path() + "/cert.pem";
  ASSERT_EQ(::mkfifo(fifo.tls_cert_path.c_str(), 0600), 0) << std::strerror(errno);
  absl::StatusOr<TlsFiles> files = LoadTlsFiles(fifo);
  EXPECT_EQ(files.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(files.status().message(), fifo.tls_cert_path +
                                          " (setting convention_tls_cert) is not a regular file "
                                          "(a fifo)");
  EXPECT_FALSE(MakeServerCredentials(fifo).ok());
  EXPECT_FALSE(MakeChannelCredentials(fifo).ok());

  config::DaemonSettings fifo_key = pki_->Settings("server", "ca");
  fifo_key.tls_key_path = dir.path() + "/key.pem";
  ASSERT_EQ(::mkfifo(fifo_key.tls_key_path.c_str(), 0600), 0) << std::strerror(errno);
  files = LoadTlsFiles(fifo_key);
  EXPECT_CONTAINS(files.status().message(), "(setting convention_tls_key) is not a regular file");
}

}  // namespace
}  // namespace troupe::peerauth
