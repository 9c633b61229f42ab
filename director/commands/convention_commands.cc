// convention_commands.cc - `convention` (the convention as troupd sees it) and
// `convention invite HOST:PORT` (the leader pre-registers and invites a
// daemon). docs/convention.md describes conventions.
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
  const bool host_ok = !host.empty() && host.find_first_of(" /\t") == std::string::npos &&
                       (host.front() == '[' ? host.back() == ']' && host.size() > 2
                                            : host.find(':') == std::string::npos);
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  const unsigned long number = digits ? std::stoul(port) : 0;
  const bool port_ok = number >= 1 && number <= 65535;
  if (host_ok && port_ok) return absl::OkStatus();
  return absl::InvalidArgumentError(troupe::StrCat(
      "'", address, "' is not a daemon address: expected HOST:PORT with a port 1-65535 (the ",
      "member's listen_tcp, e.g. 127.0.0.1:7002)"));
}

int ConventionCommand(Context& ctx, const ConventionOptions& options) {
  Answer<v1::ConventionStatusResponse> convention =
      CallOrFail(ctx, options.socket, &Admin::ConventionStatus, v1::ConventionStatusRequest(),
                 "convention status");
  if (!convention.ok()) return convention.code;
  if (ctx.json()) return PrintProtoJson(ctx, convention.response);
  ctx.out() << service::FormatConventionStatus(convention.response);
  return kExitOk;
}

int InviteCommand(Context& ctx, const ConventionOptions& options) {
  if (absl::Status valid = CheckMemberAddress(options.invite); !valid.ok()) {
    return ctx.Fail(valid, kExitUsage);
  }
  v1::InviteMemberRequest request;
  request.set_address(options.invite);
  // The daemon tries to reach the invited one for up to a check-in period.
  // FAILED_PRECONDITION (not a leader, no convention) exits 4: the daemon
  // refused the request; its message says why.
  Answer<v1::InviteMemberResponse> invite =
      CallOrFail(ctx, options.socket, &Admin::InviteMember, request,
                 troupe::StrCat("invite ", options.invite));
  if (!invite.ok()) return invite.code;
  if (ctx.json()) return PrintProtoJson(ctx, invite.response);
  ctx.out() << invite.response.result() << "\n";
  return kExitOk;
}

}  // namespace

void AddConventionCommand(CLI::App& app, Runner* run) {
  auto convention = std::make_shared<ConventionOptions>();
  CLI::App* cmd = app.add_subcommand(
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
}

}  // namespace troupe::director
