// config_commands.cc - `director config` (every setting, its value and where
// it came from) and `director config check` (exit 7 on any invalid value or
// directory others could change, the same checks troupd makes at start).
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "daemon/bundle/keys.h"
#include "daemon/common/strings.h"
#include "director/commands/commands.h"

namespace troupe::director {
namespace {

int ShowConfig(Context& ctx) {
  const config::Config& config = ctx.config();
  struct Row {
    std::string name, value, source, problem;
  };
  std::vector<Row> rows = {
      {"dir", config.dir(), config.dir_source(), ""},
      {"keys_dir", config.keys_dir(), "derived from dir", ""},
      {"trusted_keys_dir", config.trusted_keys_dir(), "derived from dir", ""},
      {"bundles_dir", config.bundles_dir(), "derived from dir", ""},
  };
  for (const config::SettingValue& value : config.values()) {
    rows.push_back({value.name, value.value, value.source, value.problem});
  }
  if (ctx.json()) {
    Json items = Json::array();
    for (const Row& row : rows) {
      Json item = {{"name", row.name}, {"value", row.value}, {"source", row.source}};
      if (!row.problem.empty()) item["problem"] = row.problem;
      items.push_back(std::move(item));
    }
    return ctx.PrintJson(Json{{"settings", items}});
  }
  size_t width = 0;
  for (const Row& row : rows) width = std::max(width, row.name.size());
  for (const Row& row : rows) {
    ctx.out() << row.name << std::string(width - row.name.size(), ' ') << " = " << row.value
              << "  (" << row.source << ")";
    if (!row.problem.empty()) ctx.out() << "  INVALID: " << row.problem;
    ctx.out() << "\n";
  }
  return kExitOk;
}

int CheckConfig(Context& ctx) {
  const config::Config& config = ctx.config();
  std::vector<std::string> problems = config.problems();
  // The daemon reads every trusted key on each load; a malformed one is a
  // configuration error too.
  if (absl::Status s = bundle::InitSodium(); !s.ok()) return ctx.Fail(s);
  absl::StatusOr<std::vector<bundle::TrustedKey>> keys =
      bundle::TrustStore(config.trusted_keys_dir()).List();
  if (!keys.ok()) problems.push_back(std::string(keys.status().message()));
  if (ctx.json()) {
    Json listed = Json::array();
    for (const std::string& problem : problems) listed.push_back(Json{{"problem", problem}});
    ctx.out() << JsonText(Json{{"ok", problems.empty()},
                               {"exit_code", problems.empty() ? 0 : int{kExitInvalidConfig}},
                               {"dir", config.dir()},
                               {"problems", listed}})
              << "\n";
  } else if (problems.empty()) {
    ctx.out() << "configuration in " << config.dir() << " is valid\n";
  } else {
    for (const std::string& problem : problems) ctx.err() << "invalid: " << problem << "\n";
    ctx.err() << "director: configuration in " << config.dir() << " has " << problems.size()
              << (problems.size() == 1 ? " problem" : " problems") << "\n";
  }
  return problems.empty() ? kExitOk : kExitInvalidConfig;
}

}  // namespace

void AddConfigCommands(CLI::App& app, Runner* run) {
  CLI::App* config = app.add_subcommand(
      "config",
      "Print every setting, its value and where it came from (default, a file in "
      "TROUPE_DIR/config/, --dir or env TROUPE_DIR). Values are one per file, never evaluated.");
  config->require_subcommand(0, 1);
  CLI::App* check = config->add_subcommand(
      "check",
      "Check every setting and trusted key, and that TROUPE_DIR, keys/, config/, "
      "capabilities/ and the socket directory are the daemon user's and not writable by "
      "others; print each problem with its file and fix and exit 7 if there is any (the "
      "systemd unit runs it before troupd)");
  config->callback([run] {
    if (!*run) *run = ShowConfig;
  });
  check->callback([run] { *run = CheckConfig; });
}

}  // namespace troupe::director
