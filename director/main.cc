// main.cc - `director`, Troupe's command-line tool. Builds the CLI11 command
// tree from the command groups in commands/, parses, and runs the chosen
// command. Usage errors exit 2; see ExitCodeHelp() for the other codes.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "director/commands/commands.h"

int main(int argc, char** argv) {
  using troupe::director::kExitOk;
  using troupe::director::kExitUsage;

  CLI::App app(
      "director - build, sign, verify and list Troupe bundles, manage keys and "
      "configuration, start and stop troupd, load and unload bundles in it, talk to its "
      "actors.\nRun `director COMMAND --help` for a command's options.",
      "director");
  app.set_help_all_flag("--help-all", "Print help for every command");
  app.require_subcommand(0, 1);
  app.fallthrough();  // global options may also follow the command
  app.footer(troupe::director::ExitCodeHelp());

  troupe::director::GlobalOptions options;
  app.add_option("--dir", options.dir,
                 "Troupe directory (default: $TROUPE_DIR, else /var/lib/troupe)");
  app.add_flag("--json", options.json, "Print one JSON object instead of text");

  troupe::director::Runner run;
  troupe::director::AddKeysCommands(app, &run);
  troupe::director::AddBundleCommands(app, &run);
  troupe::director::AddConfigCommands(app, &run);
  troupe::director::AddNewCommand(app, &run);
  troupe::director::AddBootstartCommand(app, &run);
  troupe::director::AddDaemonCommands(app, &run);
  troupe::director::AddMessageCommands(app, &run);
  troupe::director::AddCompletionCommand(app, &run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ExtrasError& e) {
    // Most often an unknown command: say so plainly, never wait for anything.
    std::cerr << "director: " << e.what()
              << "\ndirector: unknown command or extra argument; run `director --help`\n";
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (!run) {
    std::cout << app.help();
    return kExitOk;
  }
  troupe::director::Context context(options, std::cout, std::cerr);
  const int code = run(context);
  std::cout.flush();
  return code;
}
