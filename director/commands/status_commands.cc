// status_commands.cc - what a running troupd says about itself: `status`
// (listeners, counters, bundles, actors and the convention, or one actor),
// `list` (the loaded bundles, their versions and actors), `role` (the
// actors playing a role) and `logs` (what one actor logged).
#include <algorithm>
#include <memory>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/common/strings.h"
#include "daemon/service/convention_text.h"
#include "director/commands/commands.h"
#include "director/commands/daemon_client.h"
#include "director/commands/daemon_commands.h"

namespace troupe::director {
namespace {

namespace v1 = troupe::v1;
using Admin = v1::Admin::Stub;

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

// "      host pid 4242  rss 12 MiB  restarts 1  last end: host process
// killed by signal 11 (SIGSEGV)", then the lines that host last wrote.
std::string HostLines(const v1::IsolatedHostInfo& host) {
  std::string out = "      host ";
  if (host.pid() != 0) {
    troupe::StrAppend(&out, "pid ", host.pid(), "  rss ", host.resident_bytes() >> 20, " MiB");
  } else {
    troupe::StrAppend(&out, "not running");
  }
  troupe::StrAppend(&out, "  restarts ", host.restarts());
  if (!host.last_end().empty()) troupe::StrAppend(&out, "  last end: ", host.last_end());
  out += "\n";
  for (const std::string& line : host.last_stderr()) {
    troupe::StrAppend(&out, "        | ", line, "\n");
  }
  return out;
}

// ------------------------------------------------------------------ status

struct StatusOptions {
  std::string socket;
  std::string actor;
};

int StatusCommand(Context& ctx, const StatusOptions& options) {
  v1::StatusRequest request;
  request.set_actor(options.actor);
  Answer<v1::StatusResponse> status =
      CallOrFail(ctx, options.socket, &Admin::Status, request,
                 options.actor.empty() ? "status" : troupe::StrCat("status of ", options.actor));
  if (!status.ok()) return status.code;
  const v1::StatusResponse& response = status.response;
  // The convention part (not for one actor). A daemon that cannot say
  // (older, or failing) still gets its status printed, with a note.
  v1::ConventionStatusResponse convention;
  absl::Status convention_problem = absl::OkStatus();
  if (options.actor.empty()) {
    absl::StatusOr<v1::ConventionStatusResponse> answer = status.client->Call(
        &Admin::ConventionStatus, v1::ConventionStatusRequest(), "convention status");
    if (answer.ok()) {
      convention = *std::move(answer);
    } else {
      convention_problem = answer.status();
    }
  }
  if (ctx.json()) {
    Json extra = Json::object();
    if (options.actor.empty()) {
      absl::StatusOr<Json> json = convention_problem.ok()
                                      ? ParseProtoJson(convention)
                                      : absl::StatusOr<Json>(convention_problem);
      if (json.ok()) {
        extra["convention"] = *std::move(json);
      } else {
        extra["convention_error"] = StatusText(json.status());
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
    ctx.out() << "convention: unknown (" << StatusText(convention_problem) << ")\n";
  }
  return kExitOk;
}

// -------------------------------------------------------------------- list

struct ListOptions {
  std::string socket;
  std::string group;
};

int ListCommand(Context& ctx, const ListOptions& options) {
  v1::ListRequest request;
  request.set_group(options.group);
  Answer<v1::ListResponse> list = CallOrFail(ctx, options.socket, &Admin::List, request, "list");
  if (!list.ok()) return list.code;
  v1::ListResponse& response = list.response;
  if (ctx.json()) return PrintProtoJson(ctx, response);
  if (response.bundles().empty()) {
    if (options.group.empty()) {
      ctx.out() << "no bundles loaded in troupd (" << list.client->socket() << ")\n";
    } else {
      ctx.out() << options.group << ": not loaded\n";
    }
    return kExitOk;
  }
  // Bundles that are not running come after the running ones: list them
  // under their group (stable: versions keep their order).
  std::stable_sort(
      response.mutable_bundles()->begin(), response.mutable_bundles()->end(),
      [](const v1::BundleInfo& a, const v1::BundleInfo& b) { return a.group() < b.group(); });
  std::string group;
  for (const v1::BundleInfo& bundle : response.bundles()) {
    if (bundle.group() != group) {
      group = bundle.group();
      ctx.out() << group << ":\n";
    }
    ctx.out() << "  " << bundle.version() << "  "
              << (bundle.failure().empty()
                      ? StateLabel(bundle.state())
                      : troupe::StrCat("[not running: ", bundle.failure(), "]"))
              << "  hash " << bundle.hash();
    if (!bundle.signing_key().empty()) ctx.out() << "  key " << bundle.signing_key();
    if (!bundle.isolation().empty()) ctx.out() << "  isolation " << bundle.isolation();
    ctx.out() << "  loaded " << FormatUnixMillis(bundle.loaded_at_unix_ms()) << "\n";
    if (bundle.has_host()) ctx.out() << HostLines(bundle.host());
    for (const v1::ManagedActor& actor : bundle.actors()) {
      ctx.out() << "      " << ActorLine(actor) << "\n";
    }
  }
  return kExitOk;
}

// -------------------------------------------------------------------- role

struct RoleOptions {
  std::string socket;
  std::string role;
  std::string group;
};

int RoleCommand(Context& ctx, const RoleOptions& options) {
  v1::RoleRequest request;
  request.set_role(options.role);
  request.set_group(options.group);
  Answer<v1::RoleResponse> role =
      CallOrFail(ctx, options.socket, &Admin::Role, request, troupe::StrCat("role ", options.role));
  if (!role.ok()) return role.code;
  if (ctx.json()) return PrintProtoJson(ctx, role.response);
  for (const v1::ManagedActor& actor : role.response.actors()) {
    ctx.out() << ActorLine(actor) << "\n";
  }
  return kExitOk;
}

// -------------------------------------------------------------------- logs

struct LogsOptions {
  std::string socket;
  std::string actor;
  uint32_t lines = 0;
};

int LogsCommand(Context& ctx, const LogsOptions& options) {
  v1::ActorLogsRequest request;
  request.set_actor(options.actor);
  request.set_max_lines(options.lines);
  Answer<v1::ActorLogsResponse> logs = CallOrFail(ctx, options.socket, &Admin::ActorLogs, request,
                                                  troupe::StrCat("logs of ", options.actor));
  if (!logs.ok()) return logs.code;
  if (ctx.json()) return PrintProtoJson(ctx, logs.response);
  const v1::ActorLogsResponse& response = logs.response;
  if (response.dropped() > 0) {
    ctx.out() << "(" << response.dropped() << " older lines dropped)\n";
  }
  for (const v1::ActorLogLine& line : response.lines()) {
    ctx.out() << FormatUnixMillis(line.unix_ms()) << "  " << line.level() << "  " << line.text()
              << "\n";
  }
  if (response.exited()) ctx.out() << "(" << response.address() << " has exited)\n";
  return kExitOk;
}

}  // namespace

void AddLogsCommand(CLI::App& app, Runner* run) {
  auto logs = std::make_shared<LogsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "logs",
      "Show the lines an actor logged, oldest first (the daemon keeps actor_log_lines per actor, "
      "and those of recently exited actors)");
  AddSocketOption(cmd, &logs->socket);
  cmd->add_option("ACTOR", logs->actor, "An address or a global name")->required();
  cmd->add_option("--lines", logs->lines, "Only the newest N lines");
  cmd->callback([logs, run] { *run = [logs](Context& ctx) { return LogsCommand(ctx, *logs); }; });
}

void AddStatusCommand(CLI::App& app, Runner* run) {
  auto status = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "status",
      "Show troupd's state: listeners, counters, bundles (with where each version runs and "
      "why), actors, and the convention (members or leader; --json: under \"convention\")");
  AddSocketOption(cmd, &status->socket);
  cmd->add_option("--actor", status->actor, "One actor instead: an address or a global name");
  cmd->callback(
      [status, run] { *run = [status](Context& ctx) { return StatusCommand(ctx, *status); }; });
}

void AddListCommand(CLI::App& app, Runner* run) {
  auto list = std::make_shared<ListOptions>();
  CLI::App* cmd = app.add_subcommand(
      "list",
      "List the bundles loaded in troupd: versions in order, the active one, where each runs "
      "(inline or process), their actors, and those recorded but not running (with why)");
  AddSocketOption(cmd, &list->socket);
  cmd->add_option("GROUP", list->group, "Only this group");
  cmd->callback([list, run] { *run = [list](Context& ctx) { return ListCommand(ctx, *list); }; });
}

void AddRoleCommand(CLI::App& app, Runner* run) {
  auto role = std::make_shared<RoleOptions>();
  CLI::App* cmd = app.add_subcommand("role", "Show the actors playing ROLE in the active versions");
  AddSocketOption(cmd, &role->socket);
  cmd->add_option("ROLE", role->role, "Role name from a manifest")->required();
  cmd->add_option("--group", role->group, "Only this group");
  cmd->callback([role, run] { *run = [role](Context& ctx) { return RoleCommand(ctx, *role); }; });
}

}  // namespace troupe::director
