// completion_command.cc - `director completion bash`: print the bash
// completion script made from director's own command tree
// (bash_completion.h), so it never falls behind the commands.
#include <memory>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "director/commands/bash_completion.h"
#include "director/commands/commands.h"

namespace troupe::director {

void AddCompletionCommand(CLI::App& app, Runner* run) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "completion",
      "Print a completion script for SHELL (only bash): commands and options at every level. "
      "Load it with `source <(director completion bash)`; the Debian package installs it");
  cmd->add_option("shell", *shell, "The shell: bash")->required()->check(CLI::IsMember({"bash"}));
  // The whole tree is complete once parsing starts, so the root is walked
  // when the command runs.
  const CLI::App* root = &app;
  cmd->callback([shell, root, run] {
    *run = [root](Context& ctx) {
      absl::StatusOr<std::string> script = BashCompletionScript(*root);
      if (!script.ok()) return ctx.Fail(script.status());
      if (ctx.json()) return ctx.PrintJson(Json{{"shell", "bash"}, {"script", *script}});
      ctx.out() << *script;
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace troupe::director
