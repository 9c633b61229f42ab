// peer_auth_test.cc - the per-call proof of the convention key over a real
// gRPC server on 127.0.0.1:0 (peer_test_server.h), both ways: the server
// refuses calls without the key, the client refuses servers without it; and
// the verifier's clock window, replay cache and parsing on their own.
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "daemon/common/clock.h"
#include "daemon/common/strings.h"
#include "daemon/peerauth/convention_key.h"
#include "daemon/peerauth/peer_signer.h"
#include "daemon/peerauth/peer_verifier.h"
#include "daemon/peerauth/proof.h"
#include "daemon/peerauth/tls.h"
#include "grpcpp/grpcpp.h"
#include "tests/common/status_matchers.h"
#include "tests/peerauth/peer_test_server.h"

namespace troupe::peerauth {
namespace {

using testing::CallInvite;
using testing::CallJoin;
using testing::CallOutcome;
using testing::kClientNode;
using testing::kInviteMethod;
using testing::kJoinMethod;
using testing::kServerNode;
using testing::LogCapture;
using testing::ServerMode;
using testing::TestServer;

std::shared_ptr<grpc::Channel> Dial(const TestServer& server) {
  return DialPeer(server.address(), grpc::InsecureChannelCredentials(), 1 << 20, 1 << 20);
}

std::string KeyHex(const ConventionKey& key) {
  return troupe::Hex(key.bytes().data(), key.bytes().size());
}

// The troupe-peer-auth value SignCall makes, without a call.
CallSignature SignForTest(const ConventionKey& key, std::string_view method, const Clock& clock,
                          std::string_view node = kClientNode) {
  grpc::ClientContext context;
  return SignCall(&context, key, node, method, clock);
}

TEST(PeerAuthTest, CallWithoutMetadataIsRefusedAndNeverHandled) {
  PeerVerifier verifier(ConventionKey::Generate(), kServerNode);
  TestServer server(&verifier);
  LogCapture log;
  CallOutcome invite = CallInvite(Dial(server), nullptr);
  EXPECT_EQ(invite.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_CONTAINS(invite.status.error_message(), "no troupe-peer-auth metadata");
  CallOutcome join = CallJoin(Dial(server), nullptr);
  EXPECT_EQ(join.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(join.messages_read, 0);
  EXPECT_EQ(server.service().handled(), 0);
  EXPECT_EQ(server.service().reports_read(), 0);
  EXPECT_CONTAINS(log.Text(),
                  "refused a convention call /troupe.v1.Convention/Invite from ipv4:127.0.0.1:");
}

TEST(PeerAuthTest, WrongKeyIsRefusedAndLoggedWithThePeerAddress) {
  const ConventionKey key = ConventionKey::Generate();
  const ConventionKey wrong = ConventionKey::Generate();
  PeerVerifier verifier(key, kServerNode);
  TestServer server(&verifier);
  LogCapture log;
  CallOutcome invite = CallInvite(Dial(server), &wrong);
  EXPECT_EQ(invite.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_CONTAINS(invite.status.error_message(), "bad proof of the convention key");
  CallOutcome join = CallJoin(Dial(server), &wrong);
  EXPECT_EQ(join.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << join.status.error_message();
  EXPECT_FALSE(join.server_node.ok());
  EXPECT_EQ(join.messages_read, 0);  // no membership data
  EXPECT_EQ(server.service().handled(), 0);
  EXPECT_EQ(server.service().reports_read(), 0);  // no message delivered
  const std::string text = log.Text();
  EXPECT_CONTAINS(text,
                  "refused a convention call /troupe.v1.Convention/Invite from ipv4:127.0.0.1:");
  EXPECT_CONTAINS(text,
                  "refused a convention call /troupe.v1.Convention/Join from ipv4:127.0.0.1:");
  EXPECT_CONTAINS(text, "bad proof of the convention key");
  // The refused member learns why from the initial metadata.
  EXPECT_EQ(join.server_node.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_CONTAINS(join.server_node.status().message(),
                  "the peer refused this daemon's call: bad proof of the convention key");
  // No key material in the log or the answer.
  for (const ConventionKey* k : {&key, &wrong}) {
    EXPECT_EQ(text.find(KeyHex(*k)), std::string::npos);
    EXPECT_EQ(invite.status.error_message().find(KeyHex(*k)), std::string::npos);
  }
}

TEST(PeerAuthTest, CorrectKeyIsAcceptedAndTheServerProvesTheKeyToo) {
  const ConventionKey key = ConventionKey::Generate();
  PeerVerifier verifier(key, kServerNode);
  TestServer server(&verifier);
  CallOutcome invite = CallInvite(Dial(server), &key);
  ASSERT_TRUE(invite.status.ok()) << invite.status.error_message();
  EXPECT_EQ(invite.answer, kClientNode);  // the server learned the caller's node
  ASSERT_OK(invite.server_node);
  EXPECT_EQ(*invite.server_node, kServerNode);

  CallOutcome join = CallJoin(Dial(server), &key);
  ASSERT_TRUE(join.status.ok()) << join.status.error_message();
  ASSERT_OK(join.server_node);
  EXPECT_EQ(*join.server_node, kServerNode);
  EXPECT_EQ(join.messages_read, 1);
  EXPECT_EQ(server.service().handled(), 2);
  EXPECT_EQ(server.service().reports_read(), 1);
}

TEST(PeerAuthTest, SyncStreamChecksTheProofAndLearnsWhyItWasRefused) {
  const ConventionKey key = ConventionKey::Generate();
  PeerVerifier verifier(key, kServerNode);
  TestServer server(&verifier);
  CallOutcome linked = testing::CallLinkSync(Dial(server), key);
  ASSERT_TRUE(linked.status.ok()) << linked.status.error_message();
  ASSERT_OK(linked.server_node);
  EXPECT_EQ(*linked.server_node, kServerNode);
  EXPECT_EQ(server.service().envelopes_delivered(), 1);

  LogCapture log;
  CallOutcome refused = testing::CallLinkSync(Dial(server), ConventionKey::Generate());
  EXPECT_FALSE(refused.status.ok());  // CANCELLED by the client, or UNAUTHENTICATED
  EXPECT_CONTAINS(refused.server_node.status().message(),
                  "the peer refused this daemon's call: bad proof of the convention key");
  EXPECT_EQ(server.service().envelopes_delivered(), 1);  // nothing more delivered
  EXPECT_CONTAINS(log.Text(),
                  "refused a convention call /troupe.v1.Convention/Link from ipv4:127.0.0.1:");

  PeerVerifier foreign(ConventionKey::Generate(), kServerNode);
  TestServer impostor(&foreign, ServerMode::kForeignProof);
  CallOutcome fooled = testing::CallLinkSync(Dial(impostor), key);
  EXPECT_EQ(fooled.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_CONTAINS(fooled.server_node.status().message(), "does not prove the convention key");
  EXPECT_EQ(impostor.service().envelopes_delivered(), 0);  // it was sent nothing
}

TEST(PeerAuthTest, ProofNamesTheNodeSetLate) {
  const ConventionKey key = ConventionKey::Generate();
  PeerVerifier verifier(key, "");
  verifier.SetSelfNode("10.0.0.9:40123");  // a port chosen at bind time
  TestServer server(&verifier);
  CallOutcome invite = CallInvite(Dial(server), &key);
  ASSERT_TRUE(invite.status.ok()) << invite.status.error_message();
  ASSERT_OK(invite.server_node);
  EXPECT_EQ(*invite.server_node, "10.0.0.9:40123");
}

TEST(PeerAuthTest, ClientRefusesAServerWithAnotherKey) {
  const ConventionKey key = ConventionKey::Generate();
  PeerVerifier foreign(ConventionKey::Generate(), kServerNode);
  TestServer server(&foreign, ServerMode::kForeignProof);
  CallOutcome invite = CallInvite(Dial(server), &key);
  ASSERT_TRUE(invite.status.ok());        // the impostor answered...
  ASSERT_FALSE(invite.server_node.ok());  // ...but cannot prove the key
  EXPECT_EQ(invite.server_node.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_CONTAINS(invite.server_node.status().message(), "does not prove the convention key");

  CallOutcome join = CallJoin(Dial(server), &key);
  EXPECT_FALSE(join.server_node.ok());
  EXPECT_EQ(join.messages_read, 0);
  EXPECT_EQ(server.service().reports_read(), 0);  // the member sent it nothing
}

TEST(PeerAuthTest, ClientRefusesAServerThatProvesNothing) {
  const ConventionKey key = ConventionKey::Generate();
  PeerVerifier unused(ConventionKey::Generate(), kServerNode);
  TestServer server(&unused, ServerMode::kNoProof);
  CallOutcome invite = CallInvite(Dial(server), &key);
  ASSERT_TRUE(invite.status.ok());
  ASSERT_FALSE(invite.server_node.ok());
  EXPECT_CONTAINS(invite.server_node.status().message(), "sent no troupe-peer-proof");
  CallOutcome join = CallJoin(Dial(server), &key);
  EXPECT_FALSE(join.server_node.ok());
  EXPECT_EQ(join.messages_read, 0);
  EXPECT_EQ(server.service().reports_read(), 0);
}

TEST(PeerAuthTest, StaleTimestampIsRefused) {
  const ConventionKey key = ConventionKey::Generate();
  // The server's clock is 61 s ahead of the caller's.
  ManualClock server_clock(absl::Now() + absl::Seconds(61));
  PeerVerifierOptions options;
  options.clock = &server_clock;
  PeerVerifier verifier(key, kServerNode, options);
  TestServer server(&verifier);
  LogCapture log;
  CallOutcome invite = CallInvite(Dial(server), &key);
  EXPECT_EQ(invite.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_CONTAINS(invite.status.error_message(), "stale timestamp");
  EXPECT_CONTAINS(invite.status.error_message(), "before this daemon's time");
  EXPECT_CONTAINS(log.Text(), "stale timestamp");
  // A caller whose clock agrees is accepted.
  CallOutcome fresh = CallInvite(Dial(server), &key, server_clock);
  EXPECT_TRUE(fresh.status.ok()) << fresh.status.error_message();
  EXPECT_EQ(server.service().handled(), 1);
}

TEST(PeerAuthTest, ReplayedNonceIsRefused) {
  const ConventionKey key = ConventionKey::Generate();
  PeerVerifier verifier(key, kServerNode);
  TestServer server(&verifier);
  auto stub = v1::Convention::NewStub(Dial(server));
  LogCapture log;
  const CallSignature captured = SignForTest(key, kInviteMethod, *RealClock::Get());
  grpc::StatusCode codes[2];
  std::string messages[2];
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    testing::SetTestDeadline(&context);
    context.AddMetadata("troupe-peer-auth", captured.header);  // the same value twice
    v1::InviteResponse response;
    grpc::Status status = stub->Invite(&context, v1::InviteRequest(), &response);
    codes[i] = status.error_code();
    messages[i] = status.error_message();
  }
  EXPECT_EQ(codes[0], grpc::StatusCode::OK) << messages[0];
  EXPECT_EQ(codes[1], grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(messages[1], "replayed nonce");
  EXPECT_EQ(server.service().handled(), 1);
  EXPECT_CONTAINS(log.Text(), "from ipv4:127.0.0.1:");
  EXPECT_CONTAINS(log.Text(), ": replayed nonce");
}

TEST(PeerAuthTest, SignatureForOneMethodDoesNotOpenAnother) {
  const ConventionKey key = ConventionKey::Generate();
  ManualClock clock(absl::Now());
  PeerVerifierOptions options;
  options.clock = &clock;
  PeerVerifier verifier(key, kServerNode, options);
  LogCapture log;  // keep the refusals off stderr
  const CallSignature invite = SignForTest(key, kInviteMethod, clock);
  absl::StatusOr<VerifiedPeer> peer = verifier.VerifyValue(invite.header, kJoinMethod, "test");
  EXPECT_EQ(peer.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_CONTAINS(peer.status().message(), "bad proof of the convention key");
  ASSERT_OK(verifier.VerifyValue(invite.header, kInviteMethod, "test"));
}

// The TCP gate admits a call from its headers and remembers its nonce then,
// so a replayed header cannot make the daemon read a request body; the
// handler's check does not count the admitted call as its own replay.
TEST(PeerAuthTest, AdmitRemembersTheNonceAndTheHandlerAcceptsTheAdmittedCall) {
  const ConventionKey key = ConventionKey::Generate();
  ManualClock clock(absl::Now());
  PeerVerifierOptions options;
  options.clock = &clock;
  options.tcp_calls_admitted_by_gate = true;
  PeerVerifier verifier(key, kServerNode, options);
  LogCapture log;
  const CallSignature call = SignForTest(key, kInviteMethod, clock);
  ASSERT_OK(verifier.Admit(call.header, kInviteMethod));
  EXPECT_OK(verifier.VerifyValue(call.header, kInviteMethod, "ipv4:127.0.0.1:5").status());
  absl::Status replay = verifier.Admit(call.header, kInviteMethod);
  EXPECT_EQ(replay.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(replay.message(), "replayed nonce");
  // Over the unix socket no gate ran: the handler checks the nonce itself.
  EXPECT_CONTAINS(
      verifier.VerifyValue(call.header, kInviteMethod, "unix:/run/t.sock").status().message(),
      "replayed nonce");
  EXPECT_CONTAINS(verifier.Admit(call.header, kJoinMethod).message(),
                  "bad proof of the convention key");
}

TEST(PeerAuthTest, MalformedMetadataIsRefusedWithoutEchoingIt) {
  PeerVerifier verifier(ConventionKey::Generate(), kServerNode);
  LogCapture log;
  for (std::string_view value :
       {"", "v2 a 1 00 00", "v1 node 123", "v1 no\tde 1 0123456789abcdef0123456789abcdef x",
        "v1 node notanumber 0123456789abcdef0123456789abcdef "
        "0000000000000000000000000000000000000000000000000000000000000000",
        "v1 node 1 short 0000000000000000000000000000000000000000000000000000000000000000"}) {
    absl::StatusOr<VerifiedPeer> peer = verifier.VerifyValue(value, kInviteMethod, "test");
    EXPECT_EQ(peer.status().code(), absl::StatusCode::kUnauthenticated) << value;
    if (value.size() > 8) {
      EXPECT_EQ(std::string(peer.status().message()).find(value), std::string::npos);
    }
  }
  EXPECT_CONTAINS(
      verifier.VerifyValue(std::nullopt, kInviteMethod, "ipv4:1.2.3.4:5").status().message(),
      "no troupe-peer-auth metadata");
  EXPECT_CONTAINS(log.Text(), "from ipv4:1.2.3.4:5: no troupe-peer-auth metadata");
}

TEST(PeerAuthTest, ClockWindowHoldsBothWays) {
  const ConventionKey key = ConventionKey::Generate();
  const absl::Time now = absl::Now();
  ManualClock server_clock(now);
  PeerVerifierOptions options;
  options.clock = &server_clock;
  options.max_clock_skew = absl::Seconds(60);
  PeerVerifier verifier(key, kServerNode, options);
  LogCapture log;
  ManualClock early(now - absl::Seconds(59)), late(now + absl::Seconds(59));
  ManualClock too_early(now - absl::Seconds(61)), too_late(now + absl::Seconds(61));
  EXPECT_OK(
      verifier.VerifyValue(SignForTest(key, kInviteMethod, early).header, kInviteMethod, "t"));
  EXPECT_OK(verifier.VerifyValue(SignForTest(key, kInviteMethod, late).header, kInviteMethod, "t"));
  absl::StatusOr<VerifiedPeer> old =
      verifier.VerifyValue(SignForTest(key, kInviteMethod, too_early).header, kInviteMethod, "t");
  EXPECT_CONTAINS(old.status().message(), "stale timestamp: the call was signed 61.0 s before");
  absl::StatusOr<VerifiedPeer> future =
      verifier.VerifyValue(SignForTest(key, kInviteMethod, too_late).header, kInviteMethod, "t");
  EXPECT_CONTAINS(future.status().message(), "stale timestamp: the call was signed 61.0 s after");
}

TEST(PeerAuthTest, NoncesAreForgottenWhenTheirWindowHasPassed) {
  const ConventionKey key = ConventionKey::Generate();
  ManualClock clock(absl::Now());
  PeerVerifierOptions options;
  options.clock = &clock;
  PeerVerifier verifier(key, kServerNode, options);
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(
        verifier.VerifyValue(SignForTest(key, kInviteMethod, clock).header, kInviteMethod, "t"));
  }
  EXPECT_EQ(verifier.RememberedNoncesForTest(), 5u);
  clock.Advance(absl::Seconds(61));
  ASSERT_OK(
      verifier.VerifyValue(SignForTest(key, kInviteMethod, clock).header, kInviteMethod, "t"));
  EXPECT_EQ(verifier.RememberedNoncesForTest(), 1u);
}

TEST(PeerAuthTest, FullReplayCacheStaysBoundedAndStillRefusesReplays) {
  const ConventionKey key = ConventionKey::Generate();
  ManualClock clock(absl::Now());
  PeerVerifierOptions options;
  options.clock = &clock;
  options.max_remembered_nonces = 2;
  PeerVerifier verifier(key, kServerNode, options);
  LogCapture log;
  std::vector<CallSignature> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(SignForTest(key, kInviteMethod, clock));
    ASSERT_OK(verifier.VerifyValue(calls.back().header, kInviteMethod, "t"));
    clock.Advance(absl::Milliseconds(10));
  }
  EXPECT_EQ(verifier.RememberedNoncesForTest(), 2u);
  // The first nonce was dropped, but its time is now below the floor.
  absl::StatusOr<VerifiedPeer> replay = verifier.VerifyValue(calls[0].header, kInviteMethod, "t");
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_CONTAINS(replay.status().message(), "stale timestamp");
  EXPECT_EQ(verifier.VerifyValue(calls[2].header, kInviteMethod, "t").status().message(),
            "replayed nonce");
  EXPECT_OK(
      verifier.VerifyValue(SignForTest(key, kInviteMethod, clock).header, kInviteMethod, "t"));
  EXPECT_EQ(verifier.RememberedNoncesForTest(), 2u);
}

}  // namespace
}  // namespace troupe::peerauth
