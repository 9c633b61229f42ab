// daemon_commands.cc - the commands that manage a running troupd: `start`,
// `shutdown`, `status`, `convention` (and `convention invite`), `load`,
// `unload`, `list`, `refresh`, `role` and `capabilities`. Each takes --socket (default: the `socket` setting). None
// but `start` ever starts a daemon: when nothing answers, they print one
// line and exit 8.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "daemon/bundle/bundle.h"
#include "daemon/bundle/store.h"
#include "daemon/bundle/version.h"
#include "daemon/common/json_value.h"
#include "daemon/common/strings.h"
#include "director/commands/commands.h"
#include "daemon/service/convention_text.h"
#include "director/commands/daemon_client.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "troupe/json.h"

extern char** environ;

namespace troupe::director {
namespace {

namespace fs = std::filesystem;
namespace v1 = troupe::v1;

std::string Text(const absl::Status& status) {
  return std::string(status.message().data(), status.message().size());
}

// Seconds as people write them: "15 s", "0.5 s".
std::string Seconds(absl::Duration d) { return troupe::StrCat(absl::ToDoubleSeconds(d), " s"); }

std::string StateLabel(v1::BundleState state) {
  switch (state) {
    case v1::BUNDLE_STATE_ACTIVE:
      return "[ACTIVE]";
    case v1::BUNDLE_STATE_INACTIVE:
      return "[inactive]";
    case v1::BUNDLE_STATE_DRAINING:
      return "[draining]";
    default:
      return "[?]";
  }
}

std::string Describe(const v1::BundleInfo& bundle) {
  return troupe::StrCat(bundle.group(), " ", bundle.version(), " (hash ", bundle.hash(), ")");
}

// "troupe://node/12  hello.Echo  role r  name n  since ...", plus restarts
// and state when they say something.
std::string ActorLine(const v1::ManagedActor& actor) {
  std::string line = actor.address().empty() ? "(no address)" : actor.address();
  troupe::StrAppend(&line, "  ", actor.class_name());
  if (!actor.role().empty()) troupe::StrAppend(&line, "  role ", actor.role());
  if (!actor.global_name().empty()) troupe::StrAppend(&line, "  name ", actor.global_name());
  troupe::StrAppend(&line, "  since ", FormatUnixMillis(actor.started_at_unix_ms()));
  if (actor.restarts() > 0) troupe::StrAppend(&line, "  restarts ", actor.restarts());
  if (actor.state() == v1::MANAGED_ACTOR_STATE_DOWN) {
    troupe::StrAppend(&line, "  DOWN: ", actor.last_exit());
  } else if (actor.state() == v1::MANAGED_ACTOR_STATE_EXITED) {
    troupe::StrAppend(&line, "  exited");
  }
  return line;
}

// ------------------------------------------------------------------ status

struct StatusOptions {
  std::string socket;
  std::string actor;
};

int StatusCommand(Context& ctx, const StatusOptions& options) {
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  v1::StatusRequest request;
  request.set_actor(options.actor);
  v1::StatusResponse response;
  grpc::Status status =
      c.client->admin().Status(DaemonClient::NewContext(kCallDeadline).get(), request, &response);
  if (!status.ok()) {
    return ctx.Fail(c.client->Error(
        status, options.actor.empty() ? "status" : troupe::StrCat("status of ", options.actor)));
  }
  // The convention part (not for one actor). A daemon that cannot say
  // (older, or failing) still gets its status printed, with a note.
  v1::ConventionStatusResponse convention;
  absl::Status convention_problem = absl::OkStatus();
  if (options.actor.empty()) {
    convention_problem = c.client->Error(
        c.client->admin().ConventionStatus(DaemonClient::NewContext(kCallDeadline).get(),
                                           v1::ConventionStatusRequest(), &convention),
        "convention status");
  }
  if (ctx.json()) {
    JsonObject extra;
    if (options.actor.empty()) {
      absl::StatusOr<std::string> json = convention_problem.ok()
                                             ? ProtoToJson(convention)
                                             : absl::StatusOr<std::string>(convention_problem);
      if (json.ok()) {
        extra.AddRaw("convention", *json);
      } else {
        extra.Add("convention_error", Text(json.status()));
      }
    }
    return PrintProtoJson(ctx, response, extra);
  }
  ctx.out() << response.text();
  if (!response.text().empty() && response.text().back() != '\n') ctx.out() << "\n";
  if (!options.actor.empty()) return kExitOk;
  if (convention_problem.ok()) {
    ctx.out() << service::FormatConventionStatus(convention);
  } else {
    ctx.out() << "convention: unknown (" << Text(convention_problem) << ")\n";
  }
  return kExitOk;
}

// -------------------------------------------------------------- convention

struct ConventionOptions {
  std::string socket;
  std::string invite;  // HOST:PORT for `convention invite`
};

// OK when `address` is HOST:PORT with a non-empty host (a name, an IPv4
// address or a bracketed IPv6 one) and a port 1-65535.
absl::Status CheckMemberAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? "" : address.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
  const bool host_ok =
      !host.empty() && host.find_first_of(" /\t") == std::string::npos &&
      (host.front() == '[' ? host.back() == ']' && host.size() > 2
                           : host.find(':') == std::string::npos);
  const bool digits = !port.empty() && port.size() <= 5 &&
                      std::all_of(port.begin(), port.end(),
                                  [](char ch) { return ch >= '0' && ch <= '9'; });
  const unsigned long number = digits ? std::stoul(port) : 0;
  const bool port_ok = number >= 1 && number <= 65535;
  if (host_ok && port_ok) return absl::OkStatus();
  return absl::InvalidArgumentError(troupe::StrCat(
      "'", address, "' is not a daemon address: expected HOST:PORT with a port 1-65535 (the ",
      "member's listen_tcp, e.g. 127.0.0.1:7002)"));
}

int ConventionCommand(Context& ctx, const ConventionOptions& options) {
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  v1::ConventionStatusResponse response;
  grpc::Status status = c.client->admin().ConventionStatus(
      DaemonClient::NewContext(kCallDeadline).get(), v1::ConventionStatusRequest(), &response);
  if (!status.ok()) return ctx.Fail(c.client->Error(status, "convention status"));
  if (ctx.json()) return PrintProtoJson(ctx, response);
  ctx.out() << service::FormatConventionStatus(response);
  return kExitOk;
}

int InviteCommand(Context& ctx, const ConventionOptions& options) {
  if (absl::Status valid = CheckMemberAddress(options.invite); !valid.ok()) {
    return ctx.Fail(valid, kExitUsage);
  }
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  v1::InviteMemberRequest request;
  request.set_address(options.invite);
  v1::InviteMemberResponse response;
  // The daemon tries to reach the invited one for up to a check-in period.
  grpc::Status status = c.client->admin().InviteMember(
      DaemonClient::NewContext(kCallDeadline).get(), request, &response);
  if (!status.ok()) {
    // FAILED_PRECONDITION (not a leader, no convention) exits 4: the daemon
    // refused the request; its message says why.
    return ctx.Fail(c.client->Error(status, troupe::StrCat("invite ", options.invite)));
  }
  if (ctx.json()) return PrintProtoJson(ctx, response);
  ctx.out() << response.result() << "\n";
  return kExitOk;
}

// -------------------------------------------------------------------- list

struct ListOptions {
  std::string socket;
  std::string group;
};

int ListCommand(Context& ctx, const ListOptions& options) {
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  v1::ListRequest request;
  request.set_group(options.group);
  v1::ListResponse response;
  grpc::Status status =
      c.client->admin().List(DaemonClient::NewContext(kCallDeadline).get(), request, &response);
  if (!status.ok()) return ctx.Fail(c.client->Error(status, "list"));
  if (ctx.json()) return PrintProtoJson(ctx, response);
  if (response.bundles().empty()) {
    if (options.group.empty()) {
      ctx.out() << "no bundles loaded in troupd (" << c.client->socket() << ")\n";
    } else {
      ctx.out() << options.group << ": not loaded\n";
    }
    return kExitOk;
  }
  // Bundles that are not running come after the running ones: list them
  // under their group (stable: versions keep their order).
  std::stable_sort(response.mutable_bundles()->begin(), response.mutable_bundles()->end(),
                   [](const v1::BundleInfo& a, const v1::BundleInfo& b) {
                     return a.group() < b.group();
                   });
  std::string group;
  for (const v1::BundleInfo& bundle : response.bundles()) {
    if (bundle.group() != group) {
      group = bundle.group();
      ctx.out() << group << ":\n";
    }
    ctx.out() << "  " << bundle.version() << "  "
              << (bundle.failure().empty() ? StateLabel(bundle.state())
                                           : troupe::StrCat("[not running: ", bundle.failure(), "]"))
              << "  hash " << bundle.hash();
    if (!bundle.signing_key().empty()) ctx.out() << "  key " << bundle.signing_key();
    ctx.out() << "  loaded " << FormatUnixMillis(bundle.loaded_at_unix_ms()) << "\n";
    for (const v1::ManagedActor& actor : bundle.actors()) {
      ctx.out() << "      " << ActorLine(actor) << "\n";
    }
  }
  return kExitOk;
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
    absl::StatusOr<std::string> bytes = ReadFile(path);
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
  if (ctx.json()) return PrintProtoJson(ctx, *response, JsonObject().Add("file", *path));
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
  v1::UnloadResponse response;
  const absl::Duration deadline = UnloadDeadline(ctx);
  grpc::Status status =
      c.client->admin().Unload(DaemonClient::NewContext(deadline).get(), request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return ctx.Fail(absl::NotFoundError(troupe::StrCat("cannot unload ", options.target, ": ",
                                                       OneLine(status.error_message()),
                                                       " (see `director list`)")));
  }
  if (!status.ok()) {
    return ctx.Fail(c.client->Error(status, troupe::StrCat("unload ", options.target), deadline));
  }
  if (ctx.json()) return PrintProtoJson(ctx, response);
  for (const v1::BundleInfo& b : response.unloaded())
    ctx.out() << "unloaded " << Describe(b) << "\n";
  for (const std::string& change : response.changes()) ctx.out() << "  " << change << "\n";
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
  v1::ListResponse loaded;
  grpc::Status status = c.client->admin().List(DaemonClient::NewContext(kCallDeadline).get(),
                                               v1::ListRequest(), &loaded);
  if (!status.ok()) return ctx.Fail(c.client->Error(status, "list"));
  std::map<std::string, std::string> active;              // group -> version
  std::map<std::string, std::set<std::string>> versions;  // group -> loaded versions
  for (const v1::BundleInfo& b : loaded.bundles()) {
    if (!b.failure().empty()) continue;  // recorded but not running: loading it again retries
    if (b.state() == v1::BUNDLE_STATE_ACTIVE) active[b.group()] = b.version();
    versions[b.group()].insert(b.version());
  }

  const absl::Duration load_deadline = LoadDeadline(ctx);
  int code = kExitOk;
  std::vector<std::string> json_groups;
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
                  << " failed: " << Text(response.status()) << "\n";
        if (response.status().code() == absl::StatusCode::kUnavailable) {
          return code;  // the daemon went away; the other groups would fail too
        }
        json_groups.push_back(JsonObject()
                                  .Add("group", group)
                                  .Add("action", action)
                                  .Add("version", newest.version)
                                  .Add("error", Text(response.status()))
                                  .str());
        continue;
      }
      action = response->already_loaded() ? "none" : "loaded";
      line = response->already_loaded()
                 ? troupe::StrCat(group, ": ", newest.version, " is already loaded")
                 : troupe::StrCat(group, ": loaded ", newest.version, " (was ",
                                  was == active.end() ? "not loaded" : was->second, ")");
    }
    if (ctx.json()) {
      JsonObject item;
      item.Add("group", group).Add("action", action).Add("version", newest.version);
      item.Add("was", was == active.end() ? "" : was->second).Add("message", line);
      json_groups.push_back(item.str());
    } else {
      ctx.out() << line << "\n";
    }
  }
  if (ctx.json()) {
    if (code != kExitOk) {
      ctx.out() << JsonObject()
                       .Add("ok", false)
                       .Add("exit_code", code)
                       .AddRaw("groups", JsonArray(json_groups))
                       .str()
                << "\n";
      return code;
    }
    return ctx.PrintJson(JsonObject().Add("dir", dir).AddRaw("groups", JsonArray(json_groups)));
  }
  if (seen.empty()) ctx.out() << "no bundles in " << dir << "; nothing to do\n";
  return code;
}

// -------------------------------------------------------------------- role

struct RoleOptions {
  std::string socket;
  std::string role;
  std::string group;
};

int RoleCommand(Context& ctx, const RoleOptions& options) {
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  v1::RoleRequest request;
  request.set_role(options.role);
  request.set_group(options.group);
  v1::RoleResponse response;
  grpc::Status status =
      c.client->admin().Role(DaemonClient::NewContext(kCallDeadline).get(), request, &response);
  if (!status.ok()) {
    return ctx.Fail(c.client->Error(status, troupe::StrCat("role ", options.role)));
  }
  if (ctx.json()) return PrintProtoJson(ctx, response);
  for (const v1::ManagedActor& actor : response.actors()) ctx.out() << ActorLine(actor) << "\n";
  return kExitOk;
}

// ------------------------------------------------------------ capabilities

struct CapabilityOptions {
  std::string socket;
  std::string name;
  std::string value;
  bool unset = false;
};

// The value of field `name` of `object` as JSON, or NotFound. Goes through
// reflection (code inside libprotobuf) rather than Struct::fields(): the
// inline protobuf Map code, compiled with -fsanitize=thread, crashes on a map
// the uninstrumented library built.
absl::StatusOr<std::string> StructFieldJson(const google::protobuf::Struct& object,
                                            const std::string& name) {
  const google::protobuf::Reflection* reflection = object.GetReflection();
  const google::protobuf::FieldDescriptor* fields =
      object.GetDescriptor()->FindFieldByName("fields");
  const int count = reflection->FieldSize(object, fields);
  for (int i = 0; i < count; ++i) {
    const google::protobuf::Message& entry = reflection->GetRepeatedMessage(object, fields, i);
    const google::protobuf::Descriptor* entry_type = entry.GetDescriptor();
    if (entry.GetReflection()->GetString(entry, entry_type->FindFieldByName("key")) != name) {
      continue;
    }
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(
             entry.GetReflection()->GetMessage(entry, entry_type->FindFieldByName("value")), &json)
             .ok()) {
      return absl::InternalError(troupe::StrCat("cannot print capability ", name));
    }
    return json;
  }
  return absl::NotFoundError(name);
}

// One line per capability, sorted by name: `name = value`, the daemon's own
// marked `(read-only)`.
int PrintCapabilities(Context& ctx, const v1::GetCapabilitiesResponse& response) {
  absl::StatusOr<JsonValue> all = JsonValue::Parse(response.json());
  if (!all.ok() || !all->is_object()) {
    return ctx.Fail(absl::InternalError(
        troupe::StrCat("troupd sent capabilities that are not a JSON object: ", response.json())));
  }
  std::map<std::string, std::string> lines;  // sorted; of repeated names the last
  size_t width = 0;
  for (const JsonValue::Member& member : all->object()) {
    lines[member.first] = member.second.ToJson();
    width = std::max(width, member.first.size());
  }
  if (lines.empty()) ctx.out() << "no capabilities\n";
  const std::set<std::string> read_only(response.read_only().begin(), response.read_only().end());
  for (const auto& [name, value] : lines) {
    ctx.out() << name << std::string(width - name.size(), ' ') << " = " << value
              << (read_only.count(name) > 0 ? "  (read-only)" : "") << "\n";
  }
  return kExitOk;
}

int CapabilitiesCommand(Context& ctx, const CapabilityOptions& options) {
  if (options.unset && (options.name.empty() || !options.value.empty())) {
    return ctx.Fail(absl::InvalidArgumentError("--unset takes a NAME and no VALUE_JSON"),
                    kExitUsage);
  }
  if (!options.value.empty() && !json::IsValid(options.value)) {
    return ctx.Fail(absl::InvalidArgumentError(troupe::StrCat(
        "capability value '", options.value,
        "' is not JSON (quote strings: '\"eu-west\"'; numbers, true, false, objects, arrays "
        "as they are)")));
  }
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  std::string json;
  if (!options.value.empty() || options.unset) {
    v1::SetCapabilityRequest request;
    request.set_name(options.name);
    request.set_value_json(options.value);
    v1::SetCapabilityResponse response;
    grpc::Status status = c.client->admin().SetCapability(
        DaemonClient::NewContext(kCallDeadline).get(), request, &response);
    if (!status.ok()) {
      return ctx.Fail(c.client->Error(status, troupe::StrCat("set capability ", options.name)));
    }
    if (ctx.json()) return PrintProtoJson(ctx, response);
    if (options.unset) {
      ctx.out() << "removed capability " << options.name << "\n";
    } else {
      ctx.out() << "set capability " << options.name << " = " << options.value << "\n";
    }
    return kExitOk;
  }
  v1::GetCapabilitiesResponse response;
  grpc::Status status = c.client->admin().GetCapabilities(
      DaemonClient::NewContext(kCallDeadline).get(), v1::GetCapabilitiesRequest(), &response);
  if (!status.ok()) return ctx.Fail(c.client->Error(status, "capabilities"));
  if (options.name.empty()) {
    if (ctx.json()) return PrintProtoJson(ctx, response);
    return PrintCapabilities(ctx, response);
  }
  google::protobuf::Struct all;
  if (!google::protobuf::util::JsonStringToMessage(response.json(), &all).ok()) {
    return ctx.Fail(absl::InternalError(
        troupe::StrCat("troupd sent capabilities that are not a JSON object: ", response.json())));
  }
  absl::StatusOr<std::string> value = StructFieldJson(all, options.name);
  if (!value.ok()) {
    return ctx.Fail(absl::NotFoundError(troupe::StrCat("troupd has no capability '", options.name,
                                                       "' (all: `director capabilities`)")));
  }
  if (ctx.json()) {
    return ctx.PrintJson(JsonObject().Add("name", options.name).AddRaw("value", *value));
  }
  ctx.out() << *value << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------- shutdown

struct ShutdownOptions {
  std::string socket;
};

// A pidfd for `pid` (readable once it exits), or -1. Through syscall(2):
// glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage.
int PidfdOpen(pid_t pid) {
  if (pid <= 0) return -1;
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Waits until the process behind `pidfd` has exited (no polling), or, with
// no pidfd (-1: old kernel, a pid from another namespace), until the socket
// stops answering. False when `bound` passes first.
bool WaitForExit(int pidfd, const std::string& socket, absl::Duration bound) {
  const absl::Time deadline = absl::Now() + bound;
  if (pidfd >= 0) {
    pollfd fd{pidfd, POLLIN, 0};
    int rc = 0;
    do {
      const int64_t left = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
      rc = ::poll(&fd, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
  }
  while (absl::Now() < deadline) {
    absl::StatusOr<pid_t> probe = ProbeSocket(socket);
    if (!probe.ok() && probe.status().code() == absl::StatusCode::kUnavailable) return true;
    ::poll(nullptr, 0, 50);  // bounded polling only without a pidfd
  }
  return false;
}

int ShutdownCommand(Context& ctx, const ShutdownOptions& options) {
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  const pid_t pid = c.client->pid();
  // Opened before asking, so that the pid cannot be reused meanwhile.
  const int pidfd = PidfdOpen(pid);
  absl::Cleanup close_pidfd = [pidfd] {
    if (pidfd >= 0) ::close(pidfd);
  };
  v1::ShutdownResponse response;
  grpc::Status status = c.client->admin().Shutdown(DaemonClient::NewContext(kCallDeadline).get(),
                                                   v1::ShutdownRequest(), &response);
  // UNAVAILABLE or CANCELLED: the daemon closed the call while stopping.
  if (!status.ok() && status.error_code() != grpc::StatusCode::UNAVAILABLE &&
      status.error_code() != grpc::StatusCode::CANCELLED) {
    return ctx.Fail(c.client->Error(status, "shutdown"));
  }
  // troupd gives open calls 1 s, then drains the bundles' actors and then
  // the actor system, each for up to drain_timeout_seconds; the margin
  // covers closing the libraries.
  const absl::Duration drain = DrainTimeout(ctx);
  const absl::Duration bound = 2 * drain + absl::Seconds(15);
  if (!WaitForExit(pidfd, c.client->socket(), bound)) {
    return ctx.Fail(absl::DeadlineExceededError(troupe::StrCat(
        "troupd", pid > 0 ? troupe::StrCat(" (pid ", pid, ")") : "", " on ", c.client->socket(),
        " is still stopping after ", Seconds(bound), " (drain_timeout_seconds is ",
        absl::ToInt64Seconds(drain), "); it goes on stopping by itself, or stop it with kill")));
  }
  if (ctx.json()) {
    return ctx.PrintJson(
        JsonObject().Add("socket", c.client->socket()).Add("pid", static_cast<uint64_t>(pid)));
  }
  ctx.out() << "troupd stopped";
  if (pid > 0) ctx.out() << " (pid " << pid << ")";
  ctx.out() << "\n";
  return kExitOk;
}

// ------------------------------------------------------------------- start

struct StartOptions {
  std::string socket;
  std::string troupd;
  bool foreground = false;
  double wait_seconds = 15;
};

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// --troupd; else next to this executable (also ../sbin for an installed
// tree); else the build tree (build/director/director ->
// build/daemon/troupd/troupd); else $PATH.
absl::StatusOr<std::string> FindTroupd(const std::string& flag) {
  if (!flag.empty()) {
    if (IsExecutableFile(flag)) return flag;
    return absl::NotFoundError(troupe::StrCat("--troupd ", flag, ": not an executable file"));
  }
  std::vector<std::string> looked;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = self.parent_path();
    std::vector<fs::path> candidates = {dir / "troupd", dir.parent_path() / "sbin" / "troupd"};
    if (dir.filename() == "director") {
      candidates.push_back(dir.parent_path() / "daemon" / "troupd" / "troupd");
    }
    for (const fs::path& candidate : candidates) {
      if (IsExecutableFile(candidate.string())) return candidate.string();
      looked.push_back(candidate.string());
    }
  }
  const char* path_env = std::getenv("PATH");
  std::string path_list = path_env != nullptr ? path_env : "";
  size_t start = 0;
  while (start <= path_list.size()) {
    size_t end = path_list.find(':', start);
    if (end == std::string::npos) end = path_list.size();
    const std::string entry = path_list.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;
    const std::string candidate = entry + "/troupd";
    if (IsExecutableFile(candidate)) return candidate;
  }
  looked.push_back("$PATH");
  return absl::NotFoundError(troupe::StrCat("cannot find the troupd program (looked at ",
                                            absl::StrJoin(looked, ", "), "); give --troupd PATH"));
}

// The last `max_lines` lines of `path` from byte `from` on.
std::string LogTail(const std::string& path, uint64_t from, size_t max_lines) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok() || text->size() <= from) return "";
  std::string tail = text->substr(from);
  if (!tail.empty() && tail.back() == '\n') tail.pop_back();
  size_t at = tail.size();
  for (size_t lines = 0; lines < max_lines && at != std::string::npos && at > 0; ++lines) {
    at = tail.rfind('\n', at - 1);
  }
  if (at != std::string::npos && at < tail.size() && tail[at] == '\n') ++at;
  if (at == std::string::npos) at = 0;
  return tail.substr(at) + "\n";
}

// Waits until the troupd with `pid` (our child) answers Admin.Status on
// `socket`: polls with gRPC connect deadlines (250 ms) and waitpid(WNOHANG),
// no fixed sleeps. Aborted with the exit status when the child exits first;
// DeadlineExceeded after `bound`.
absl::Status WaitForDaemon(pid_t pid, const std::string& socket, absl::Duration bound) {
  std::shared_ptr<grpc::Channel> channel = MakeChannel(socket, /*fast_reconnect=*/true);
  std::unique_ptr<v1::Admin::Stub> admin = v1::Admin::NewStub(channel);
  const absl::Time deadline = absl::Now() + bound;
  while (true) {
    int wstatus = 0;
    const pid_t done = ::waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) {
      return absl::AbortedError(
          WIFEXITED(wstatus) ? troupe::StrCat("troupd exited with status ", WEXITSTATUS(wstatus))
          : WIFSIGNALED(wstatus) ? troupe::StrCat("troupd was killed by signal ", WTERMSIG(wstatus))
                                 : std::string("troupd ended"));
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) break;
    const absl::Time step = std::min(deadline, now + absl::Milliseconds(250));
    if (channel->WaitForConnected(absl::ToChronoTime(step))) {
      v1::StatusResponse response;
      grpc::Status status = admin->Status(DaemonClient::NewContext(absl::Seconds(5)).get(),
                                          v1::StatusRequest(), &response);
      // Only our child counts: another troupd started at the same moment
      // may have won the socket (ours then exits, noticed above).
      absl::StatusOr<pid_t> peer = ProbeSocket(socket);
      if (status.ok() && peer.ok() && (*peer == pid || *peer == 0)) return absl::OkStatus();
    }
  }
  return absl::DeadlineExceededError(troupe::StrCat("troupd (pid ", pid, ") does not answer on ",
                                                    socket, " after ", Seconds(bound)));
}

int AlreadyRunning(Context& ctx, const std::string& socket, pid_t pid) {
  if (ctx.json()) {
    return ctx.PrintJson(JsonObject()
                             .Add("already_running", true)
                             .Add("pid", static_cast<uint64_t>(pid))
                             .Add("socket", socket));
  }
  ctx.out() << "troupd is already running on " << socket;
  if (pid > 0) ctx.out() << " (pid " << pid << ")";
  ctx.out() << "\n";
  return kExitOk;
}

int StartCommand(Context& ctx, const StartOptions& options) {
  absl::StatusOr<std::string> socket = ResolveSocketPath(ctx, options.socket);
  if (!socket.ok()) {
    return ctx.Fail(socket.status(),
                    options.socket.empty() ? kExitInvalidConfig : kExitInvalidInput);
  }
  // Idempotent, like systemctl start: a daemon that answers is success.
  absl::StatusOr<pid_t> running = ProbeSocket(*socket);
  if (running.ok()) return AlreadyRunning(ctx, *socket, *running);
  if (running.status().code() != absl::StatusCode::kUnavailable) return ctx.Fail(running.status());
  absl::StatusOr<std::string> troupd = FindTroupd(options.troupd);
  if (!troupd.ok()) return ctx.Fail(troupd.status());

  std::error_code ec;
  fs::path dir = fs::absolute(ctx.config().dir(), ec);
  std::vector<std::string> args = {*troupd, "--dir", dir.lexically_normal().string()};
  if (!options.socket.empty()) args.insert(args.end(), {"--socket", *socket});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  if (options.foreground) {
    ctx.out().flush();
    ::execv(argv[0], argv.data());
    return ctx.Fail(
        absl::UnknownError(troupe::StrCat("cannot run ", *troupd, ": ", std::strerror(errno))));
  }

  const std::string run_dir = fs::path(*socket).parent_path().string();
  if (absl::Status s = MakeDirectories(run_dir, 0700); !s.ok()) return ctx.Fail(s);
  const std::string log = run_dir + "/troupd.log";
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    return ctx.Fail(absl::UnknownError(
        troupe::StrCat("cannot open the log ", log, ": ", std::strerror(errno))));
  }
  struct stat log_stat;
  const uint64_t log_start = ::fstat(log_fd, &log_stat) == 0 ? log_stat.st_size : 0;

  // posix_spawn rather than fork: director has gRPC threads by now, and
  // POSIX_SPAWN_SETSID gives the same new session as fork + setsid.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  posix_spawn_file_actions_addchdir_np(&actions, "/");
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(log_fd);
  if (spawned != 0) {
    return ctx.Fail(
        absl::UnknownError(troupe::StrCat("cannot run ", *troupd, ": ", std::strerror(spawned))));
  }

  const absl::Duration bound = absl::Seconds(options.wait_seconds);
  absl::Status up = WaitForDaemon(pid, *socket, bound);
  if (up.code() == absl::StatusCode::kAborted) {
    // Two `start`s at once: ours lost the socket to the other's daemon.
    if (absl::StatusOr<pid_t> other = ProbeSocket(*socket); other.ok() && *other != pid) {
      ctx.err() << "director: note: the troupd started here (pid " << pid << ") stopped ("
                << Text(up) << "): another one started meanwhile\n";
      return AlreadyRunning(ctx, *socket, *other);
    }
    ctx.err() << "director: " << Text(up) << " before it answered on " << *socket << "; the end of "
              << log << ":\n"
              << LogTail(log, log_start, 20);
    if (ctx.json()) {
      ctx.out() << JsonObject()
                       .Add("ok", false)
                       .Add("exit_code", int{kExitInternal})
                       .Add("error", Text(up))
                       .Add("log", log)
                       .str()
                << "\n";
    }
    return kExitInternal;
  }
  if (!up.ok()) {
    return ctx.Fail(absl::DeadlineExceededError(
        troupe::StrCat(Text(up), "; it keeps running (see ", log,
                       "; stop it with `director shutdown` or kill ", pid, ")")));
  }
  if (ctx.json()) {
    return ctx.PrintJson(JsonObject()
                             .Add("already_running", false)
                             .Add("pid", static_cast<uint64_t>(pid))
                             .Add("socket", *socket)
                             .Add("log", log));
  }
  ctx.out() << "troupd started (pid " << pid << "), socket " << *socket << ", log " << log << "\n";
  return kExitOk;
}

void AddSocketOption(CLI::App* cmd, std::string* socket) {
  cmd->add_option("--socket", *socket, "troupd's unix socket (default: the `socket` setting)");
}

}  // namespace

void AddDaemonCommands(CLI::App& app, Runner* run) {
  auto start = std::make_shared<StartOptions>();
  CLI::App* cmd = app.add_subcommand(
      "start",
      "Start troupd in the background (log in the socket's directory) and wait until it "
      "answers; exit 0 when one already runs");
  AddSocketOption(cmd, &start->socket);
  cmd->add_flag("--foreground", start->foreground,
                "Run troupd in this process instead (exec), logging to stderr");
  cmd->add_option("--troupd", start->troupd,
                  "The troupd program (default: next to director, the build tree, $PATH)");
  cmd->add_option("--wait", start->wait_seconds, "Seconds to wait for troupd to answer (15)")
      ->check(CLI::PositiveNumber);
  cmd->callback(
      [start, run] { *run = [start](Context& ctx) { return StartCommand(ctx, *start); }; });

  auto shutdown = std::make_shared<ShutdownOptions>();
  cmd = app.add_subcommand("shutdown", "Stop troupd: drain its actors, wait until it has exited");
  AddSocketOption(cmd, &shutdown->socket);
  cmd->callback([shutdown, run] {
    *run = [shutdown](Context& ctx) { return ShutdownCommand(ctx, *shutdown); };
  });

  auto status = std::make_shared<StatusOptions>();
  cmd = app.add_subcommand("status", "Show troupd's state: listeners, counters, bundles, actors, and the convention "
                           "(members or leader; --json: under \"convention\")");
  AddSocketOption(cmd, &status->socket);
  cmd->add_option("--actor", status->actor, "One actor instead: an address or a global name");
  cmd->callback(
      [status, run] { *run = [status](Context& ctx) { return StatusCommand(ctx, *status); }; });

  auto convention = std::make_shared<ConventionOptions>();
  cmd = app.add_subcommand(
      "convention",
      "Show the convention as troupd sees it: on the leader every member with capabilities, "
      "bundles, load and last check-in; on a member its leader (--json: the "
      "ConventionStatusResponse)");
  AddSocketOption(cmd, &convention->socket);
  cmd->require_subcommand(0, 1);
  CLI::App* invite = cmd->add_subcommand(
      "invite",
      "Leader only: pre-register the daemon at HOST:PORT and invite it to join (it is invited "
      "again every check-in period until it joins); refused (4) by a daemon that is not a "
      "leader or takes part in no convention");
  AddSocketOption(invite, &convention->socket);
  invite->add_option("HOST:PORT", convention->invite, "The daemon's listen_tcp address")
      ->required();
  invite->callback([convention, run] {
    *run = [convention](Context& ctx) { return InviteCommand(ctx, *convention); };
  });
  cmd->callback([convention, invite, run] {
    if (invite->parsed()) return;  // its own callback chose the runner
    *run = [convention](Context& ctx) { return ConventionCommand(ctx, *convention); };
  });

  auto load = std::make_shared<LoadOptions>();
  cmd = app.add_subcommand(
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

  auto unload = std::make_shared<UnloadOptions>();
  cmd = app.add_subcommand(
      "unload",
      "Unload bundles from troupd: by hash (or 8+ digit prefix), GROUP or GROUP-VERSION. Waits "
      "up to drain_timeout_seconds + 15 s");
  AddSocketOption(cmd, &unload->socket);
  cmd->add_option("TARGET", unload->target, "HASH, GROUP or GROUP-VERSION")->required();
  cmd->callback(
      [unload, run] { *run = [unload](Context& ctx) { return UnloadCommand(ctx, *unload); }; });

  auto list = std::make_shared<ListOptions>();
  cmd = app.add_subcommand(
      "list",
      "List the bundles loaded in troupd: versions in order, the active one, their actors, and "
      "those recorded but not running (with why)");
  AddSocketOption(cmd, &list->socket);
  cmd->add_option("GROUP", list->group, "Only this group");
  cmd->callback([list, run] { *run = [list](Context& ctx) { return ListCommand(ctx, *list); }; });

  auto refresh = std::make_shared<RefreshOptions>();
  cmd = app.add_subcommand(
      "refresh",
      "Load the newest bundle of every group in TROUPE_DIR/bundles unless troupd already runs "
      "it (or a newer one); each load waits up to 60 s + drain_timeout_seconds");
  AddSocketOption(cmd, &refresh->socket);
  cmd->callback(
      [refresh, run] { *run = [refresh](Context& ctx) { return RefreshCommand(ctx, *refresh); }; });

  auto role = std::make_shared<RoleOptions>();
  cmd = app.add_subcommand("role", "Show the actors playing ROLE in the active versions");
  AddSocketOption(cmd, &role->socket);
  cmd->add_option("ROLE", role->role, "Role name from a manifest")->required();
  cmd->add_option("--group", role->group, "Only this group");
  cmd->callback([role, run] { *run = [role](Context& ctx) { return RoleCommand(ctx, *role); }; });

  auto caps = std::make_shared<CapabilityOptions>();
  cmd = app.add_subcommand(
      "capabilities",
      "Show troupd's capabilities (one `name = value` line each, troupd's own marked "
      "read-only), one of them (NAME), or set one (NAME VALUE_JSON; not written to any file)");
  AddSocketOption(cmd, &caps->socket);
  cmd->add_option("NAME", caps->name, "Capability name");
  cmd->add_option("VALUE_JSON", caps->value, "New value as JSON, e.g. 4, true, '\"eu\"'");
  cmd->add_flag("--unset", caps->unset, "Remove capability NAME");
  cmd->callback(
      [caps, run] { *run = [caps](Context& ctx) { return CapabilitiesCommand(ctx, *caps); }; });
}

}  // namespace troupe::director
