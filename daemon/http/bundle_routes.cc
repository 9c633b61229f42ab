// bundle_routes.cc - POST /v1/bundles (a signed bundle as the body, streamed
// to Admin.LoadUpload in 1 MiB chunks as it arrives), GET /v1/bundles and
// DELETE /v1/bundles/{hash|group|group-version}.
#include "daemon/common/strings.h"
#include "daemon/http/gateway_impl.h"
#include "daemon/http/http_errors.h"
#include "troupe/v1/http.pb.h"

namespace troupe::http {
namespace {
constexpr size_t kUploadChunkBytes = 1 << 20;
// Verifying and loading a large bundle, and its OnLoad actions, take time.
constexpr absl::Duration kLoadTimeout = absl::Minutes(10);
}  // namespace

void Gateway::Impl::AddBundleRoutes() {
  server->Post("/v1/bundles", [this](const httplib::Request&, httplib::Response& res,
                                     const httplib::ContentReader& read_body) {
    grpc::ClientContext context;
    SetDeadline(&context, kLoadTimeout);
    v1::LoadResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::LoadChunk>> upload =
        admin->LoadUpload(&context, &response);
    v1::LoadChunk chunk;
    uint64_t total = 0;
    bool too_large = false;
    bool written = true;
    auto flush = [&] {
      if (chunk.data().empty()) return true;
      written = upload->Write(chunk);
      chunk.clear_data();
      return written;
    };
    read_body([&](const char* data, size_t length) {
      total += length;
      if (total > options.max_bundle_bytes) {
        too_large = true;
        return false;
      }
      chunk.mutable_data()->append(data, length);
      return chunk.data().size() < kUploadChunkBytes || flush();
    });
    if (too_large) {
      context.TryCancel();
      upload->Finish();
      SetError(res, 413,
               absl::ResourceExhaustedError(troupe::StrCat(
                   "the bundle is over the bundle file limit (", options.max_bundle_bytes,
                   " bytes)")));
      res.set_header("Connection", "close");
      return;
    }
    if (total == 0) {
      context.TryCancel();
      upload->Finish();
      return SetError(res, absl::InvalidArgumentError(
                               "the body is empty: POST the signed bundle file (.troupe)"));
    }
    if (written) flush();
    upload->WritesDone();
    grpc::Status status = upload->Finish();
    if (!status.ok()) return SetError(res, FromGrpcStatus(status));
    v1::HttpBundleLoaded loaded;
    loaded.set_hash(response.bundle().hash());
    loaded.set_group(response.bundle().group());
    loaded.set_version(response.bundle().version());
    *loaded.mutable_actors() = response.bundle().actors();
    loaded.set_already_loaded(response.already_loaded());
    *loaded.mutable_changes() = response.changes();
    SetJson(res, loaded, response.already_loaded() ? 200 : 201);
  });

  server->Get("/v1/bundles", [this](const httplib::Request& req, httplib::Response& res) {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(10));
    v1::ListRequest request;
    request.set_group(QueryParamOr(req, "group", ""));
    v1::ListResponse response;
    grpc::Status status = admin->List(&context, request, &response);
    if (!status.ok()) return SetError(res, FromGrpcStatus(status));
    SetJson(res, response);
  });

  server->Delete("/v1/bundles/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
    grpc::ClientContext context;
    SetDeadline(&context, kLoadTimeout);
    v1::UnloadRequest request;
    request.set_target(req.matches[1].str());
    v1::UnloadResponse response;
    grpc::Status status = admin->Unload(&context, request, &response);
    if (!status.ok()) return SetError(res, FromGrpcStatus(status));
    SetJson(res, response);
  });
}

}  // namespace troupe::http
