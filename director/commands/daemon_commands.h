// daemon_commands.h - the commands that manage a running troupd, one file per
// job: lifecycle_commands.cc (start, shutdown), status_commands.cc (status,
// list, role), convention_commands.cc (convention, convention invite),
// load_commands.cc (load, unload, refresh) and capabilities_command.cc. Each
// takes --socket and talks to troupd through daemon_client.h (CallOrFail).
// daemon_commands.cc registers them, in the order `director --help` lists them.
// Internal to director/commands.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "director/commands/commands.h"

namespace CLI {
class App;
}  // namespace CLI

namespace troupe::director {

// Adds --socket PATH ("troupd's unix socket") to `cmd`.
void AddSocketOption(CLI::App* cmd, std::string* socket);

// The message of `status`, as a string.
inline std::string StatusText(const absl::Status& status) {
  return std::string(status.message().data(), status.message().size());
}

// Each adds one command (or, for convention, the command and its invite
// subcommand) to `app`; the chosen one stores its runner in *run.
void AddStartCommand(CLI::App& app, Runner* run);
void AddShutdownCommand(CLI::App& app, Runner* run);
void AddStatusCommand(CLI::App& app, Runner* run);
void AddConventionCommand(CLI::App& app, Runner* run);
void AddLoadCommand(CLI::App& app, Runner* run);
void AddUnloadCommand(CLI::App& app, Runner* run);
void AddListCommand(CLI::App& app, Runner* run);
void AddRefreshCommand(CLI::App& app, Runner* run);
void AddRoleCommand(CLI::App& app, Runner* run);
void AddLogsCommand(CLI::App& app, Runner* run);
void AddCapabilitiesCommand(CLI::App& app, Runner* run);

}  // namespace troupe::director
