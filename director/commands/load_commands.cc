// load_commands.cc - the bundles of a running troupd: `load` (one bundle, by
// GROUP, GROUP-VERSION or FILE, sent as bytes or by path), `unload` (by hash,
// GROUP or GROUP-VERSION) and `refresh` (the newest of every group in
// TROUPE_DIR/bundles, unless troupd runs it or a newer one). The bundle files
// themselves are bundle_commands.cc's.
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_join.h"
#include "daemon/bundle/bundle.h"
#include "daemon/bundle/store.h"
#include "daemon/bundle/version.h"
#include "daemon/common/strings.h"
#include "director/commands/commands.h"
#include "director/commands/daemon_client.h"
#include "director/commands/daemon_commands.h"

namespace troupe::director {
namespace {

namespace fs = std::filesystem;
namespace v1 = troupe::v1;
using Admin = v1::Admin::Stub;

std::string Describe(const v1::BundleInfo& bundle) {
  return troupe::StrCat(bundle.group(), " ", bundle.version(), " (hash ", bundle.hash(), ")");
}

// -------------------------------------------------------------------- load

// A bundle travels to troupd in messages of this size (LoadUpload).
constexpr size_t kUploadChunkBytes = 1 << 20;

struct LoadOptions {
  std::string socket;
  std::string target;
  bool by_path = false;
};

// GROUP (its newest version in TROUPE_DIR/bundles), GROUP-VERSION (exactly
// that one), or a file. An argument with a '/' or the .troupe suffix is a
// file (a bare NAME.troupe is also looked for in TROUPE_DIR/bundles).
absl::StatusOr<std::string> ResolveLoadFile(Context& ctx, const std::string& target) {
  std::error_code ec;
  const std::string dir = ctx.config().bundles_dir();
  const std::string suffix(bundle::kBundleSuffix);
  const bool has_slash = target.find('/') != std::string::npos;
  if (has_slash || (target.size() > suffix.size() &&
                    target.compare(target.size() - suffix.size(), suffix.size(), suffix) == 0)) {
    if (fs::is_regular_file(target, ec)) return target;
    if (!has_slash && fs::is_regular_file(troupe::StrCat(dir, "/", target), ec)) {
      return troupe::StrCat(dir, "/", target);
    }
    return absl::NotFoundError(troupe::StrCat(
        target, ": no such file", has_slash ? "" : troupe::StrCat(" (also looked in ", dir, ")")));
  }
  absl::StatusOr<std::vector<bundle::BundleFile>> files = bundle::ListBundleFiles(dir);
  if (!files.ok()) return files.status();
  for (const bundle::BundleFile& file : *files) {
    if (troupe::StrCat(file.group, "-", file.version) == target) return file.path;
  }
  for (const bundle::BundleFile& file : *files) {  // newest first within a group
    if (file.group == target) return file.path;
  }
  // GROUP-VERSION of a group that is there, but not in that version.
  if (const size_t dash = target.find('-'); dash != std::string::npos) {
    const std::string group = target.substr(0, dash);
    std::vector<std::string> versions;
    for (const bundle::BundleFile& file : *files) {
      if (file.group == group) versions.push_back(file.version);
    }
    if (!versions.empty()) {
      return absl::NotFoundError(troupe::StrCat("no version ", target.substr(dash + 1), " of ",
                                                group, " in ", dir,
                                                "; there: ", absl::StrJoin(versions, ", ")));
    }
  }
  if (fs::is_regular_file(target, ec)) return target;
  std::set<std::string> groups;
  for (const bundle::BundleFile& file : *files) groups.insert(file.group);
  return absl::NotFoundError(troupe::StrCat(
      "no bundle '", target, "' in ", dir,
      groups.empty() ? std::string(" (it has none)")
                     : troupe::StrCat(" (groups there: ", absl::StrJoin(groups, ", "), ")"),
      " and no file of that name"));
}

// Sends the bundle at `path` (its bytes, or with `by_path` its absolute
// path) and returns the daemon's answer within `deadline`. Rejections
// (verification, on_load actions, not a bundle) are FailedPrecondition.
absl::StatusOr<v1::LoadResponse> SendLoad(DaemonClient& client, const std::string& path,
                                          bool by_path, absl::Duration deadline) {
  v1::LoadResponse response;
  grpc::Status status;
  if (by_path) {
    v1::LoadRequest request;
    std::error_code ec;
    const fs::path absolute = fs::absolute(path, ec);
    request.set_path(ec ? path : absolute.lexically_normal().string());
    status = client.admin().Load(DaemonClient::NewContext(deadline).get(), request, &response);
  } else {
    // The bytes, not the path: the daemon may not be able to read the
    // caller's files. In chunks: one gRPC message stays small.
    absl::StatusOr<std::string> bytes = ReadFile(path, kMaxInputFileBytes);
    if (!bytes.ok()) return bytes.status();
    std::unique_ptr<grpc::ClientContext> context = DaemonClient::NewContext(deadline);
    std::unique_ptr<grpc::ClientWriter<v1::LoadChunk>> upload =
        client.admin().LoadUpload(context.get(), &response);
    v1::LoadChunk chunk;
    for (size_t offset = 0; offset < bytes->size(); offset += kUploadChunkBytes) {
      chunk.set_data(bytes->substr(offset, kUploadChunkBytes));
      if (!upload->Write(chunk)) break;  // the daemon ended the call: Finish says why
    }
    upload->WritesDone();
    status = upload->Finish();
  }
  if (status.ok()) return response;
  switch (status.error_code()) {
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::INVALID_ARGUMENT:
      return absl::FailedPreconditionError(
          troupe::StrCat("troupd rejected ", path, ": ", OneLine(status.error_message())));
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      // An upload is refused only beyond the bundle size limit, so --by-path
      // would not help either.
      return absl::ResourceExhaustedError(
          troupe::StrCat("troupd refused ", path, ": ", OneLine(status.error_message())));
    default:
      return client.Error(status, troupe::StrCat("load ", path), deadline);
  }
}

int LoadCommand(Context& ctx, const LoadOptions& options) {
  absl::StatusOr<std::string> path = ResolveLoadFile(ctx, options.target);
  if (!path.ok()) return ctx.Fail(path.status());
  if (options.by_path && *path == options.target && !fs::path(*path).is_absolute()) {
    // troupd opens the path itself, in its own working directory: a
    // relative path would name another file there, or none.
    std::error_code ec;
    const fs::path absolute = fs::absolute(*path, ec);
    return ctx.Fail(absl::InvalidArgumentError(troupe::StrCat(
        "--by-path needs an absolute path: troupd reads the file itself and does not share "
        "director's working directory (give ",
        ec ? std::string("/...") : absolute.lexically_normal().string(),
        ", or load without --by-path to send the bytes)")));
  }
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  absl::StatusOr<v1::LoadResponse> response =
      SendLoad(*c.client, *path, options.by_path, LoadDeadline(ctx));
  if (!response.ok()) return ctx.Fail(response.status());
  if (ctx.json()) return PrintProtoJson(ctx, *response, Json{{"file", *path}});
  const v1::BundleInfo& b = response->bundle();
  if (response->already_loaded()) {
    ctx.out() << "already loaded: " << Describe(b) << ", "
              << (b.state() == v1::BUNDLE_STATE_ACTIVE ? "active" : "not active")
              << "; nothing changed\n";
  } else {
    ctx.out() << "loaded " << Describe(b) << " from " << *path << "\n";
  }
  for (const std::string& change : response->changes()) ctx.out() << "  " << change << "\n";
  return kExitOk;
}

// ------------------------------------------------------------------ unload

struct UnloadOptions {
  std::string socket;
  std::string target;
};

int UnloadCommand(Context& ctx, const UnloadOptions& options) {
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  v1::UnloadRequest request;
  request.set_target(options.target);
  absl::StatusOr<v1::UnloadResponse> response = c.client->Call(
      &Admin::Unload, request, troupe::StrCat("unload ", options.target), UnloadDeadline(ctx));
  if (absl::IsNotFound(response.status())) {
    // "unload TARGET: <the daemon's text>" as "cannot unload TARGET: ...".
    return ctx.Fail(absl::NotFoundError(
        troupe::StrCat("cannot ", StatusText(response.status()), " (see `director list`)")));
  }
  if (!response.ok()) return ctx.Fail(response.status());
  if (ctx.json()) return PrintProtoJson(ctx, *response);
  for (const v1::BundleInfo& b : response->unloaded()) {
    ctx.out() << "unloaded " << Describe(b) << "\n";
  }
  for (const std::string& change : response->changes()) ctx.out() << "  " << change << "\n";
  return kExitOk;
}

// ----------------------------------------------------------------- refresh

struct RefreshOptions {
  std::string socket;
};

int RefreshCommand(Context& ctx, const RefreshOptions& options) {
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  const std::string dir = ctx.config().bundles_dir();
  absl::StatusOr<std::vector<bundle::BundleFile>> files = bundle::ListBundleFiles(dir);
  if (!files.ok()) return ctx.Fail(files.status());
  absl::StatusOr<v1::ListResponse> loaded = c.client->Call(&Admin::List, v1::ListRequest(), "list");
  if (!loaded.ok()) return ctx.Fail(loaded.status());
  std::map<std::string, std::string> active;              // group -> version
  std::map<std::string, std::set<std::string>> versions;  // group -> loaded versions
  for (const v1::BundleInfo& b : loaded->bundles()) {
    if (!b.failure().empty()) continue;  // recorded but not running: loading it again retries
    if (b.state() == v1::BUNDLE_STATE_ACTIVE) active[b.group()] = b.version();
    versions[b.group()].insert(b.version());
  }

  const absl::Duration load_deadline = LoadDeadline(ctx);
  int code = kExitOk;
  Json json_groups = Json::array();
  std::set<std::string> seen;
  for (const bundle::BundleFile& newest : *files) {
    if (!seen.insert(newest.group).second) continue;  // the first of a group is its newest
    const std::string& group = newest.group;
    const auto was = active.find(group);
    std::string line;
    std::string action = "none";
    if (was != active.end() && bundle::ValidateVersion(was->second).ok() &&
        bundle::CompareVersions(newest.version, was->second) <= 0) {
      line = bundle::CompareVersions(newest.version, was->second) == 0
                 ? troupe::StrCat(group, ": ", was->second, " is active, nothing to do")
                 : troupe::StrCat(group, ": ", was->second, " is active, newer than ",
                                  newest.version, " in ", dir, "; nothing to do");
    } else if (versions[group].count(newest.version) > 0) {
      // Loading it again would change nothing (the daemon keeps an already
      // loaded version as it is).
      line = was == active.end()
                 ? troupe::StrCat(group, ": ", newest.version,
                                  " is loaded but not active; nothing done")
                 : troupe::StrCat(group, ": ", newest.version, " is loaded but ", was->second,
                                  " is active; nothing done (`director unload ", group, "-",
                                  was->second, "` makes the highest remaining version active)");
    } else {
      absl::StatusOr<v1::LoadResponse> response =
          SendLoad(*c.client, newest.path, false, load_deadline);
      if (!response.ok()) {
        action = "failed";
        if (code == kExitOk) code = ExitCodeFor(response.status());
        ctx.err() << "director: " << group << ": loading " << newest.version
                  << " failed: " << StatusText(response.status()) << "\n";
        if (response.status().code() == absl::StatusCode::kUnavailable) {
          return code;  // the daemon went away; the other groups would fail too
        }
        json_groups.push_back(Json{{"group", group},
                                   {"action", action},
                                   {"version", newest.version},
                                   {"error", StatusText(response.status())}});
        continue;
      }
      action = response->already_loaded() ? "none" : "loaded";
      line = response->already_loaded()
                 ? troupe::StrCat(group, ": ", newest.version, " is already loaded")
                 : troupe::StrCat(group, ": loaded ", newest.version, " (was ",
                                  was == active.end() ? "not loaded" : was->second, ")");
    }
    if (ctx.json()) {
      json_groups.push_back(Json{{"group", group},
                                 {"action", action},
                                 {"version", newest.version},
                                 {"was", was == active.end() ? "" : was->second},
                                 {"message", line}});
    } else {
      ctx.out() << line << "\n";
    }
  }
  if (ctx.json()) {
    if (code != kExitOk) {
      ctx.out() << JsonText(Json{{"ok", false}, {"exit_code", code}, {"groups", json_groups}})
                << "\n";
      return code;
    }
    return ctx.PrintJson(Json{{"dir", dir}, {"groups", json_groups}});
  }
  if (seen.empty()) ctx.out() << "no bundles in " << dir << "; nothing to do\n";
  return code;
}

}  // namespace

void AddLoadCommand(CLI::App& app, Runner* run) {
  auto load = std::make_shared<LoadOptions>();
  CLI::App* cmd = app.add_subcommand(
      "load",
      "Load a bundle into troupd and make it its group's active version: GROUP (newest in "
      "TROUPE_DIR/bundles), GROUP-VERSION or FILE. Waits up to 60 s + drain_timeout_seconds");
  AddSocketOption(cmd, &load->socket);
  cmd->add_option("BUNDLE", load->target, "GROUP, GROUP-VERSION, or a bundle file")->required();
  cmd->add_flag("--by-path", load->by_path,
                "Have troupd read the file itself: send its path (absolute, readable by troupd) "
                "instead of its bytes; useful when director and troupd share the file system "
                "and the bundle is large");
  cmd->callback([load, run] { *run = [load](Context& ctx) { return LoadCommand(ctx, *load); }; });
}

void AddUnloadCommand(CLI::App& app, Runner* run) {
  auto unload = std::make_shared<UnloadOptions>();
  CLI::App* cmd = app.add_subcommand(
      "unload",
      "Unload bundles from troupd: by hash (or 8+ digit prefix), GROUP or GROUP-VERSION. Waits "
      "up to drain_timeout_seconds + 15 s");
  AddSocketOption(cmd, &unload->socket);
  cmd->add_option("TARGET", unload->target, "HASH, GROUP or GROUP-VERSION")->required();
  cmd->callback(
      [unload, run] { *run = [unload](Context& ctx) { return UnloadCommand(ctx, *unload); }; });
}

void AddRefreshCommand(CLI::App& app, Runner* run) {
  auto refresh = std::make_shared<RefreshOptions>();
  CLI::App* cmd = app.add_subcommand(
      "refresh",
      "Load the newest bundle of every group in TROUPE_DIR/bundles unless troupd already runs "
      "it (or a newer one); each load waits up to 60 s + drain_timeout_seconds");
  AddSocketOption(cmd, &refresh->socket);
  cmd->callback(
      [refresh, run] { *run = [refresh](Context& ctx) { return RefreshCommand(ctx, *refresh); }; });
}

}  // namespace troupe::director
