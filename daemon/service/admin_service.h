// admin_service.h - troupe.v1.Admin (proto/troupe/v1/admin.proto): bundles,
// status, roles, capabilities, shutdown, the convention. Synchronous gRPC
// handlers: each call is short, except Load, which waits for the new
// version's on_load actions; InviteMember, which calls another daemon, is on
// the callback API and made on a BlockingCalls thread; WatchConvention, a
// stream that lasts, is on the callback API (convention_watch.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/service/blocking_calls.h"
#include "daemon/service/client_auth.h"
#include "daemon/service/convention_text.h"
#include "daemon/service/convention_watch.h"
#include "troupe/v1/admin.grpc.pb.h"

namespace troupe::service {

// Facts about the running daemon for status. Fixed once the server runs,
// except `open_streams`, which is asked on every status call.
struct DaemonFacts {
  std::string node;
  std::string version;
  absl::Time started_at;
  int worker_threads = 0;
  std::vector<std::string> listeners;
  std::function<uint32_t()> open_streams;
  // HOST:PORT of the HTTP API while it serves, else "" (unset: no HTTP API).
  std::function<std::string()> http_listener;
  // The convention, when this daemon takes part in one (else unset: the
  // ConventionStatus answer says "alone" and InviteMember fails).
  // `convention_status` answers from what this daemon knows; `invite_member`
  // calls the invited daemon (it may wait: made on a BlockingCalls thread).
  std::function<v1::ConventionStatusResponse()> convention_status;
  std::function<absl::StatusOr<std::string>(const std::string& address)> invite_member;
};

// Thread-safe. Every pointer must outlive the gRPC server.
class AdminService final : public v1::Admin::WithCallbackMethod_WatchConvention<
                               v1::Admin::WithCallbackMethod_InviteMember<v1::Admin::Service>> {
 public:
  // `request_shutdown` is called (once per Shutdown call, from a gRPC thread)
  // after the reply is queued; it must not block on the server.
  // `blocking`: where calls to other daemons are made.
  // `max_upload_bytes`: the most a LoadUpload may send in all.
  AdminService(runtime::ActorSystem* system, hosting::BundleHost* host, const ClientAuth* auth,
               const DaemonFacts* facts, BlockingCalls* blocking,
               std::function<void()> request_shutdown, uint64_t max_upload_bytes);

  grpc::Status Load(grpc::ServerContext* context, const v1::LoadRequest* request,
                    v1::LoadResponse* response) override;
  grpc::Status LoadUpload(grpc::ServerContext* context, grpc::ServerReader<v1::LoadChunk>* reader,
                          v1::LoadResponse* response) override;
  grpc::Status Unload(grpc::ServerContext* context, const v1::UnloadRequest* request,
                      v1::UnloadResponse* response) override;
  grpc::Status List(grpc::ServerContext* context, const v1::ListRequest* request,
                    v1::ListResponse* response) override;
  grpc::Status Status(grpc::ServerContext* context, const v1::StatusRequest* request,
                      v1::StatusResponse* response) override;
  grpc::Status Role(grpc::ServerContext* context, const v1::RoleRequest* request,
                    v1::RoleResponse* response) override;
  grpc::Status GetCapabilities(grpc::ServerContext* context,
                               const v1::GetCapabilitiesRequest* request,
                               v1::GetCapabilitiesResponse* response) override;
  grpc::Status SetCapability(grpc::ServerContext* context, const v1::SetCapabilityRequest* request,
                             v1::SetCapabilityResponse* response) override;
  grpc::Status Shutdown(grpc::ServerContext* context, const v1::ShutdownRequest* request,
                        v1::ShutdownResponse* response) override;
  grpc::Status ConventionStatus(grpc::ServerContext* context,
                                const v1::ConventionStatusRequest* request,
                                v1::ConventionStatusResponse* response) override;
  grpc::ServerUnaryReactor* InviteMember(grpc::CallbackServerContext* context,
                                         const v1::InviteMemberRequest* request,
                                         v1::InviteMemberResponse* response) override;
  grpc::Status ActorLogs(grpc::ServerContext* context, const v1::ActorLogsRequest* request,
                         v1::ActorLogsResponse* response) override;
  grpc::ServerWriteReactor<v1::ConventionStatusResponse>* WatchConvention(
      grpc::CallbackServerContext* context, const v1::WatchConventionRequest* request) override;

  // The WatchConvention streams: the convention calls Changed() on each
  // roster change; the daemon calls Stop() before the server's shutdown and
  // WaitForCallsToEnd() after it.
  ConventionWatch& convention_watch() { return watch_; }

 private:
  // The ConventionStatus answer (facts_->convention_status, or "alone").
  v1::ConventionStatusResponse ConventionNow() const;
  v1::ActorInfo DescribeActor(const runtime::ActorStatus& status) const;
  grpc::Status Answer(absl::StatusOr<hosting::LoadOutcome> outcome, v1::LoadResponse* response);

  runtime::ActorSystem* const system_;
  hosting::BundleHost* const host_;
  const ClientAuth* const auth_;
  const DaemonFacts* const facts_;
  BlockingCalls* const blocking_;
  std::function<void()> request_shutdown_;
  const uint64_t max_upload_bytes_;
  ConventionWatch watch_;
};

// The human-readable forms of status, also used by director for --json-less output.
std::string FormatSystemStatus(const v1::StatusResponse& status);
std::string FormatActorStatus(const v1::ActorInfo& actor);
// FormatConventionStatus (the convention as `director status` shows it) is in
// convention_text.h, which director links without the daemon's libraries.

}  // namespace troupe::service
