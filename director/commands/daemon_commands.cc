// daemon_commands.cc - registers the commands that manage a running troupd
// (daemon_commands.h says which file holds which), in the order `director
// --help` lists them. None but `start` ever starts a daemon: when nothing
// answers, they print one line and exit 8.
#include "director/commands/daemon_commands.h"

#include <CLI/CLI.hpp>

namespace troupe::director {

void AddSocketOption(CLI::App* cmd, std::string* socket) {
  cmd->add_option("--socket", *socket, "troupd's unix socket (default: the `socket` setting)");
}

void AddDaemonCommands(CLI::App& app, Runner* run) {
  AddStartCommand(app, run);
  AddShutdownCommand(app, run);
  AddStatusCommand(app, run);
  AddConventionCommand(app, run);
  AddLoadCommand(app, run);
  AddUnloadCommand(app, run);
  AddListCommand(app, run);
  AddRefreshCommand(app, run);
  AddRoleCommand(app, run);
  AddLogsCommand(app, run);
  AddCapabilitiesCommand(app, run);
}

}  // namespace troupe::director
