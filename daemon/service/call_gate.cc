// call_gate.cc - see call_gate.h. The gate runs as gRPC's auth metadata
// processor: synchronously, on the transport's thread, when a call's headers
// have arrived and before its first message is requested.
#include "daemon/service/call_gate.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#include <map>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace troupe::service {
namespace {

constexpr std::string_view kConventionPrefix = "/troupe.v1.Convention/";
constexpr std::string_view kPeerAuthKey = "troupe-peer-auth";
// A path longer than this is cut in the log (a peer chooses it).
constexpr size_t kMaxLoggedPath = 120;

std::string_view View(const grpc_slice& slice) {
  return {reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)), GRPC_SLICE_LENGTH(slice)};
}

// Collects what the gate reads from (key, value) pairs.
class CallBuilder {
 public:
  void Add(std::string_view key, std::string_view value) {
    if (key == ":path") {
      call_.path = value;
    } else if (key == "authorization") {
      call_.authorization = value;
    } else if (key == kPeerAuthKey) {
      call_.peer_auth = value;
      ++call_.peer_auth_count;
    }
  }
  const CallGate::Call& call() const { return call_; }

 private:
  CallGate::Call call_;
};

// The gate as gRPC's C++ processor (TLS credentials take this one).
class GateProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit GateProcessor(const CallGate* gate) : gate_(gate) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext*, OutputMetadata*,
                       OutputMetadata*) override {
    CallBuilder builder;
    for (const auto& [key, value] : metadata) {
      builder.Add({key.data(), key.size()}, {value.data(), value.size()});
    }
    absl::Status decision = gate_->Decide(builder.call());
    if (decision.ok()) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(decision.message()));
  }

 private:
  const CallGate* const gate_;
};

// The gate as gRPC core's processor, for plain HTTP/2 (gRPC's C++
// InsecureServerCredentials cannot take a processor; the core credentials
// underneath can).
void ProcessInCore(void* state, grpc_auth_context*, const grpc_metadata* md, size_t num_md,
                   grpc_process_auth_metadata_done_cb done, void* user_data) {
  const auto* gate = static_cast<const CallGate*>(state);
  CallBuilder builder;
  for (size_t i = 0; i < num_md; ++i) builder.Add(View(md[i].key), View(md[i].value));
  absl::Status decision = gate->Decide(builder.call());
  if (decision.ok()) {
    done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
    return;
  }
  const std::string details(decision.message());
  done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_UNAUTHENTICATED, details.c_str());
}

class GatedPlainCredentials final : public grpc::ServerCredentials {
 public:
  explicit GatedPlainCredentials(const CallGate* gate) : gate_(gate) {}
  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {}

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    grpc_server_credentials* credentials = grpc_insecure_server_credentials_create();
    grpc_server_credentials_set_auth_metadata_processor(
        credentials, {ProcessInCore, nullptr, const_cast<CallGate*>(gate_)});
    const int port = grpc_server_add_http2_port(server, addr.c_str(), credentials);
    grpc_server_credentials_release(credentials);
    return port;
  }
  const CallGate* const gate_;
};

}  // namespace

bool CallGate::ShouldLogRefusal() const {
  // 1, 2, 4, 8, ...: a flood of refused calls does not flood the log.
  const uint64_t n = refusals_.fetch_add(1, std::memory_order_relaxed) + 1;
  return (n & (n - 1)) == 0;
}

std::string CallGate::RefusalCount() const {
  const uint64_t n = refusals_.load(std::memory_order_relaxed);
  return n <= 1 ? "" : troupe::StrCat(" (", n, " TCP calls refused so far; logged at powers of 2)");
}

absl::Status CallGate::Decide(const Call& call) const {
  std::string_view path = call.path;
  auto refuse = [&](std::string reason) {
    if (ShouldLogRefusal()) {
      LogWarning("refused a TCP call to ", path.substr(0, kMaxLoggedPath),
                 path.size() > kMaxLoggedPath ? "..." : "", " before its request: ", reason,
                 RefusalCount());
    }
    return absl::UnauthenticatedError(std::move(reason));
  };
  if (path.substr(0, kConventionPrefix.size()) == kConventionPrefix) {
    if (!peer_check_) return refuse("this daemon takes part in no convention");
    if (call.peer_auth_count > 1) return refuse(troupe::StrCat("more than one ", kPeerAuthKey));
    absl::Status proof = peer_check_(call.peer_auth, path);
    if (!proof.ok()) return refuse(std::string(proof.message()));
    return absl::OkStatus();
  }
  if (!auth_->tcp_enabled()) return refuse("this daemon takes no TCP clients; use its unix socket");
  if (!auth_->TokenMatches(call.authorization)) {
    if (ShouldLogRefusal()) {
      LogWarning("refused a TCP call to ", path.substr(0, kMaxLoggedPath), ": ",
                 call.authorization.has_value() ? "wrong client token" : "no client token",
                 RefusalCount());
    }
    return absl::UnauthenticatedError(ClientAuth::kRefusal);
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> CallGate::Guard(
    std::shared_ptr<grpc::ServerCredentials> tls) const {
  if (tls == nullptr) return std::make_shared<GatedPlainCredentials>(this);
  tls->SetAuthMetadataProcessor(std::make_shared<GateProcessor>(this));
  return tls;
}

}  // namespace troupe::service
