// capabilities_command.cc - `capabilities`: show troupd's capabilities (one
// `name = value` line each, troupd's own marked read-only), one of them, or set
// or remove one (in the running daemon only; no file is written).
#include <algorithm>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/common/strings.h"
#include "director/commands/commands.h"
#include "director/commands/daemon_client.h"
#include "director/commands/daemon_commands.h"

namespace troupe::director {
namespace {

namespace v1 = troupe::v1;
using Admin = v1::Admin::Stub;

struct CapabilityOptions {
  std::string socket;
  std::string name;
  std::string value;
  bool unset = false;
};

// troupd's capabilities, a JSON object of name -> value (members in troupd's
// order; of repeated names the last counts), or Internal.
absl::StatusOr<Json> CapabilitiesObject(const v1::GetCapabilitiesResponse& response) {
  absl::StatusOr<Json> all = ParseOrderedJson(response.json());
  if (!all.ok() || !all->is_object()) {
    return absl::InternalError(
        troupe::StrCat("troupd sent capabilities that are not a JSON object: ", response.json()));
  }
  return all;
}

// One line per capability, sorted by name: `name = value`, the daemon's own
// marked `(read-only)`.
int PrintCapabilities(Context& ctx, const v1::GetCapabilitiesResponse& response) {
  absl::StatusOr<Json> all = CapabilitiesObject(response);
  if (!all.ok()) return ctx.Fail(all.status());
  std::map<std::string, std::string> lines;  // sorted by name
  size_t width = 0;
  for (const auto& [name, value] : all->items()) {
    lines[name] = JsonText(value);
    width = std::max(width, name.size());
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
  if (!options.value.empty() && !ParseJson(options.value).ok()) {
    return ctx.Fail(absl::InvalidArgumentError(troupe::StrCat(
        "capability value '", options.value,
        "' is not JSON (quote strings: '\"eu-west\"'; numbers, true, false, objects, arrays "
        "as they are)")));
  }
  if (!options.value.empty() || options.unset) {
    v1::SetCapabilityRequest request;
    request.set_name(options.name);
    request.set_value_json(options.value);
    Answer<v1::SetCapabilityResponse> set =
        CallOrFail(ctx, options.socket, &Admin::SetCapability, request,
                   troupe::StrCat("set capability ", options.name));
    if (!set.ok()) return set.code;
    if (ctx.json()) return PrintProtoJson(ctx, set.response);
    if (options.unset) {
      ctx.out() << "removed capability " << options.name << "\n";
    } else {
      ctx.out() << "set capability " << options.name << " = " << options.value << "\n";
    }
    return kExitOk;
  }
  Answer<v1::GetCapabilitiesResponse> get = CallOrFail(
      ctx, options.socket, &Admin::GetCapabilities, v1::GetCapabilitiesRequest(), "capabilities");
  if (!get.ok()) return get.code;
  const v1::GetCapabilitiesResponse& response = get.response;
  if (options.name.empty()) {
    if (ctx.json()) return PrintProtoJson(ctx, response);
    return PrintCapabilities(ctx, response);
  }
  absl::StatusOr<Json> all = CapabilitiesObject(response);
  if (!all.ok()) return ctx.Fail(all.status());
  const auto value = all->find(options.name);
  if (value == all->end()) {
    return ctx.Fail(absl::NotFoundError(troupe::StrCat("troupd has no capability '", options.name,
                                                       "' (all: `director capabilities`)")));
  }
  if (ctx.json()) return ctx.PrintJson(Json{{"name", options.name}, {"value", *value}});
  ctx.out() << JsonText(*value) << "\n";
  return kExitOk;
}

}  // namespace

void AddCapabilitiesCommand(CLI::App& app, Runner* run) {
  auto caps = std::make_shared<CapabilityOptions>();
  CLI::App* cmd = app.add_subcommand(
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
