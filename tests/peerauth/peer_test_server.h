// peer_test_server.h - what the peer authentication tests share: a tiny
// Convention service on 127.0.0.1:0 whose Invite (a sync handler) and Join (a
// callback reactor) authenticate like the real service must, client helpers
// that sign calls and check the server's proof, and a log capture.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "daemon/common/clock.h"
#include "daemon/common/logging.h"
#include "daemon/common/mutex.h"
#include "daemon/peerauth/convention_key.h"
#include "daemon/peerauth/peer_signer.h"
#include "daemon/peerauth/peer_verifier.h"
#include "grpcpp/grpcpp.h"
#include "troupe/v1/convention.grpc.pb.h"

namespace troupe::peerauth::testing {

inline constexpr char kInviteMethod[] = "/troupe.v1.Convention/Invite";
inline constexpr char kJoinMethod[] = "/troupe.v1.Convention/Join";
inline constexpr char kLinkMethod[] = "/troupe.v1.Convention/Link";
inline constexpr char kServerNode[] = "leader.test:7070";
inline constexpr char kClientNode[] = "member.test:7071";

inline grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// How the test server treats calls.
enum class ServerMode {
  kAuthenticate,  // like the real service: PeerVerifier::Authenticate first
  kNoProof,       // an impostor without the key: accepts everything, proves nothing
  kForeignProof,  // accepts everything, proves another key (`verifier` holds it)
};

// Invite (sync) answers with the caller's proven node name; Join (a callback
// reactor) sends its initial metadata (the proof) at once, reads one report
// and answers with a welcome roster naming this server (the membership data);
// Link (a sync stream) counts the envelopes it is sent.
class TestConvention final
    : public v1::Convention::WithCallbackMethod_Join<v1::Convention::Service> {
 public:
  TestConvention(PeerVerifier* verifier, ServerMode mode) : verifier_(verifier), mode_(mode) {}

  grpc::Status Invite(grpc::ServerContext* context, const v1::InviteRequest*,
                      v1::InviteResponse* response) override {
    absl::StatusOr<VerifiedPeer> peer = Accept(context, kInviteMethod);
    if (!peer.ok()) return ToGrpc(peer.status());
    handled_.fetch_add(1);
    response->set_address(peer->node);
    return grpc::Status::OK;
  }

  // A sync stream, like the daemon's: counts the envelopes delivered.
  grpc::Status Link(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<v1::LinkReport, v1::EnvelopeBatch>* stream) override {
    absl::StatusOr<VerifiedPeer> peer = Accept(context, kLinkMethod);
    if (!peer.ok()) return ToGrpc(peer.status());
    handled_.fetch_add(1);
    stream->SendInitialMetadata();  // the proof, before the caller sends anything
    v1::EnvelopeBatch batch;
    while (stream->Read(&batch)) envelopes_delivered_.fetch_add(batch.envelopes_size());
    return grpc::Status::OK;
  }

  grpc::ServerBidiReactor<v1::MemberReport, v1::RosterNews>* Join(
      grpc::CallbackServerContext* context) override {
    return new JoinReactor(this, context);
  }

  // Calls that got past authentication / reports the server read.
  int handled() const { return handled_.load(); }
  int reports_read() const { return reports_read_.load(); }
  int envelopes_delivered() const { return envelopes_delivered_.load(); }

 private:
  class JoinReactor final : public grpc::ServerBidiReactor<v1::MemberReport, v1::RosterNews> {
   public:
    JoinReactor(TestConvention* service, grpc::CallbackServerContext* context) : service_(service) {
      absl::StatusOr<VerifiedPeer> peer = service_->Accept(context, kJoinMethod);
      if (!peer.ok()) {
        Finish(ToGrpc(peer.status()));  // nothing read, nothing sent but the refusal
        return;
      }
      service_->handled_.fetch_add(1);
      // The proof goes out at once, so the member can check it before it
      // sends its report.
      StartSendInitialMetadata();
      StartRead(&report_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "no report"));
        return;
      }
      service_->reports_read_.fetch_add(1);
      v1::RosterNews news;
      v1::MemberInfo* leader = news.mutable_welcome()->add_members();
      leader->set_address(kServerNode);
      leader->set_leader(true);
      news.mutable_welcome()->add_members()->set_address(report_.register_().address());
      news_ = std::move(news);
      StartWriteAndFinish(&news_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    TestConvention* service_;
    v1::MemberReport report_;
    v1::RosterNews news_;
  };

  absl::StatusOr<VerifiedPeer> Accept(grpc::ServerContextBase* context, std::string_view method) {
    if (mode_ == ServerMode::kAuthenticate) return verifier_->Authenticate(context, method);
    VerifiedPeer peer;  // accepts anyone, as an impostor would
    peer.node = "impostor";
    if (mode_ == ServerMode::kForeignProof) {
      // The verifier holds a different key; prove with it anyway, over the
      // caller's nonce, which an impostor can read off the wire.
      const auto& metadata = context->client_metadata();
      auto it = metadata.find("troupe-peer-auth");
      if (it != metadata.end()) {
        std::string value(it->second.data(), it->second.size());
        std::vector<std::string> parts;
        for (size_t start = 0;;) {
          size_t space = value.find(' ', start);
          parts.push_back(value.substr(start, space - start));
          if (space == std::string::npos) break;
          start = space + 1;
        }
        if (parts.size() == 5) {
          peer.node = parts[1];
          peer.nonce = parts[3];
          peer.method = std::string(method);
          verifier_->AddProof(context, peer);
        }
      }
    }
    return peer;
  }

  PeerVerifier* const verifier_;
  const ServerMode mode_;
  std::atomic<int> handled_{0};
  std::atomic<int> reports_read_{0};
  std::atomic<int> envelopes_delivered_{0};
};

// A server with TestConvention on 127.0.0.1:0.
class TestServer {
 public:
  TestServer(
      PeerVerifier* verifier, ServerMode mode = ServerMode::kAuthenticate,
      std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials())
      : service_(verifier, mode) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_NE(port_, 0);
  }
  ~TestServer() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      server_->Wait();
    }
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const TestConvention& service() const { return service_; }

 private:
  TestConvention service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

inline void SetTestDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

// The outcome of one call, as a convention client sees it.
struct CallOutcome {
  grpc::Status status;
  absl::StatusOr<std::string> server_node = absl::UnknownError("not checked");  // VerifyProof
  std::string answer;     // Invite: the caller's node as the server saw it
  int messages_read = 0;  // Join: roster news received
};

// Calls Invite; signs with `key` unless it is null; verifies the proof when OK.
inline CallOutcome CallInvite(const std::shared_ptr<grpc::Channel>& channel,
                              const ConventionKey* key, const Clock& clock = *RealClock::Get()) {
  auto stub = v1::Convention::NewStub(channel);
  grpc::ClientContext context;
  SetTestDeadline(&context);
  CallSignature signature;
  if (key != nullptr) signature = SignCall(&context, *key, kClientNode, kInviteMethod, clock);
  v1::InviteRequest request;
  request.set_leader(kClientNode);
  v1::InviteResponse response;
  CallOutcome outcome;
  outcome.status = stub->Invite(&context, request, &response);
  if (outcome.status.ok() && key != nullptr) {
    outcome.server_node = VerifyProof(context, *key, signature);
  }
  outcome.answer = response.address();
  return outcome;
}

// A member joining, as the convention client should: a callback reactor that
// signs the call, sends and reads nothing until the server's initial metadata
// has arrived with a valid proof, then sends a register report and reads the
// answers. OnReadInitialMetadataDone(false) means the server ended the call
// at once (a refusal): OnDone then brings its status.
class JoinClient final : public grpc::ClientBidiReactor<v1::MemberReport, v1::RosterNews> {
 public:
  JoinClient(v1::Convention::Stub* stub, const ConventionKey* key) : key_(key) {
    SetTestDeadline(&context_);
    if (key_ != nullptr) signature_ = SignCall(&context_, *key_, kClientNode, kJoinMethod);
    stub->async()->Join(&context_, this);
    StartCall();
  }

  void OnReadInitialMetadataDone(bool ok) override {
    if (!ok) return;
    absl::StatusOr<std::string> proof =
        key_ != nullptr ? VerifyProof(context_, *key_, signature_)
                        : absl::UnauthenticatedError("no key to check the proof with");
    if (!proof.ok()) {
      {
        MutexLock lock(&mu_);
        server_node_ = proof.status();
      }
      // Trust nothing from an unproven server and send it nothing. A refusing
      // server finishes the call itself (this test waits for its status; a
      // daemon may cancel anyway and report the proof's message).
      if (key_ != nullptr && !absl::StartsWith(proof.status().message(), "the peer refused")) {
        context_.TryCancel();
      }
      return;
    }
    {
      MutexLock lock(&mu_);
      server_node_ = *proof;
    }
    report_.mutable_register_()->set_address(kClientNode);
    StartWrite(&report_);
    StartRead(&news_);
  }
  void OnWriteDone(bool ok) override {
    if (ok) StartWritesDone();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    {
      MutexLock lock(&mu_);
      ++messages_read_;
    }
    StartRead(&news_);
  }
  void OnDone(const grpc::Status& status) override {
    MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
    cv_.SignalAll();
  }

  // Waits for OnDone (the call has a deadline).
  CallOutcome Await() {
    MutexLock lock(&mu_);
    while (!done_) cv_.Wait(&mu_);
    CallOutcome outcome;
    outcome.status = status_;
    outcome.server_node = server_node_;
    outcome.messages_read = messages_read_;
    return outcome;
  }

 private:
  const ConventionKey* const key_;
  grpc::ClientContext context_;
  CallSignature signature_;
  v1::MemberReport report_;
  v1::RosterNews news_;
  Mutex mu_;
  CondVar cv_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  absl::StatusOr<std::string> server_node_ ABSL_GUARDED_BY(mu_) =
      absl::UnknownError("no initial metadata");
  int messages_read_ ABSL_GUARDED_BY(mu_) = 0;
};

inline CallOutcome CallJoin(const std::shared_ptr<grpc::Channel>& channel,
                            const ConventionKey* key) {
  auto stub = v1::Convention::NewStub(channel);
  JoinClient client(stub.get(), key);
  return client.Await();
}

// Links with the sync API, as the daemon does: waits for the server's initial
// metadata, verifies its proof before sending or reading anything, and
// cancels the call when the proof fails (the status is then CANCELLED;
// `server_node` says why). Sends one batch of one envelope.
inline CallOutcome CallLinkSync(const std::shared_ptr<grpc::Channel>& channel,
                                const ConventionKey& key) {
  auto stub = v1::Convention::NewStub(channel);
  grpc::ClientContext context;
  SetTestDeadline(&context);
  const CallSignature signature = SignCall(&context, key, kClientNode, kLinkMethod);
  auto stream = stub->Link(&context);
  stream->WaitForInitialMetadata();
  CallOutcome outcome;
  outcome.server_node = VerifyProof(context, key, signature);
  if (outcome.server_node.ok()) {
    v1::EnvelopeBatch batch;
    batch.set_from_node(kClientNode);
    batch.add_envelopes()->set_type("troupe.Text");
    stream->Write(batch);
    stream->WritesDone();
    v1::LinkReport report;
    while (stream->Read(&report)) ++outcome.messages_read;
  } else {
    context.TryCancel();
  }
  outcome.status = stream->Finish();
  return outcome;
}

// Captures log lines for its lifetime.
class LogCapture {
 public:
  LogCapture() {
    SetLogSinkForTest([this](LogLevel, std::string_view line) {
      MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { SetLogSinkForTest(nullptr); }
  std::string Text() const {
    MutexLock lock(&mu_);
    std::string text;
    for (const std::string& line : lines_) text += line + "\n";
    return text;
  }

 private:
  mutable Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe::peerauth::testing
