// bootstart_command.cc - `director bootstart`: install troupd as a systemd
// system service. Renders systemd/troupd.service.in (embedded at build time,
// so an installed director needs no source tree) with this host's paths,
// writes it to the unit directory, sets the `socket` setting to the
// service's RuntimeDirectory if it is unset, then runs `systemctl
// daemon-reload`, `enable` and (unless --no-start) `start`.
//
// systemctl runs only for the live unit directory (/etc/systemd/system, the
// default) or with --system: with another --unit-dir the command writes the
// unit and prints the systemctl commands it did not run, so tests and
// packagers can render the unit without root and without touching the
// machine's systemd.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "daemon/common/strings.h"
#include "director/commands/commands.h"
#include "director/troupd_unit_template.h"  // generated: kTroupdUnitTemplate

extern char** environ;

namespace troupe::director {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDefaultUnitDir = "/etc/systemd/system";
constexpr std::string_view kUnitName = "troupd.service";
// RuntimeDirectory=troupe of the unit; the socket lives there.
constexpr std::string_view kServiceSocket = "/run/troupe/troupd.sock";
// StateDirectory=troupe of the unit: writable despite ProtectSystem=strict.
constexpr std::string_view kStateDirectory = "/var/lib/troupe";
// TimeoutStopSec= is drain_timeout_seconds plus this (the 1 s grace for open
// calls, stopping the actor system, exiting).
constexpr uint64_t kStopMarginSeconds = 15;

struct BootstartOptions {
  std::string unit_dir;
  std::string bindir;
  bool no_start = false;
  bool system = false;
};

// What one run did, in order; printed as text lines or a JSON array.
struct Report {
  std::vector<std::string> steps;
  void Add(std::string step) { steps.push_back(std::move(step)); }
};

// Paths go into the unit verbatim: refuse what a unit file would need to
// quote or escape (whitespace, quotes, backslashes, '%' specifiers, '$'
// variables, control characters).
absl::Status CheckUnitPath(std::string_view what, const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError(troupe::StrCat(what, " '", path, "' is not absolute"));
  }
  for (char c : path) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '"' || c == '\'' || c == '\\' || c == '%' || c == '$') {
      return absl::InvalidArgumentError(troupe::StrCat(
          what, " '", path,
          "' holds a character a unit file would have to quote or escape (space, quote, "
          "backslash, % or $); use a plain path"));
    }
  }
  return absl::OkStatus();
}

std::string Normal(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = path;
  std::string normal = absolute.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// --bindir, else the directory this director runs from.
absl::StatusOr<std::string> FindBindir(const std::string& flag) {
  std::string bindir = flag;
  if (bindir.empty()) {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) {
      return absl::InternalError(
          troupe::StrCat("cannot tell where director runs from (/proc/self/exe: ", ec.message(),
                         "); give --bindir DIR"));
    }
    bindir = self.parent_path().string();
  }
  bindir = Normal(bindir);
  if (absl::Status s = CheckUnitPath("bindir", bindir); !s.ok()) return s;
  for (std::string_view program : {"director", "troupd"}) {
    const std::string path = troupe::StrCat(bindir, "/", program);
    if (!IsExecutableFile(path)) {
      return absl::NotFoundError(troupe::StrCat(
          "no executable ", path, " (the unit runs ", program,
          " from there); install director and troupd side by side or give --bindir DIR"));
    }
  }
  return bindir;
}

// Replaces every `@key@` in `text`.
void Fill(std::string* text, std::string_view key, std::string_view value) {
  const std::string marker = troupe::StrCat("@", key, "@");
  for (size_t at = text->find(marker); at != std::string::npos;
       at = text->find(marker, at + value.size())) {
    text->replace(at, marker.size(), value);
  }
}

// `@NAME@` left in `text` (a template placeholder this code does not fill).
std::string LeftoverPlaceholder(const std::string& text) {
  for (size_t at = text.find('@'); at != std::string::npos; at = text.find('@', at + 1)) {
    size_t end = at + 1;
    while (end < text.size() && ((text[end] >= 'A' && text[end] <= 'Z') || text[end] == '_')) {
      ++end;
    }
    if (end > at + 1 && end < text.size() && text[end] == '@') {
      return text.substr(at, end - at + 1);
    }
  }
  return "";
}

// The unit text for `bindir` and `troupe_dir`; TimeoutStopSec= from
// `drain_seconds`.
absl::StatusOr<std::string> RenderTroupdUnit(const std::string& bindir,
                                             const std::string& troupe_dir,
                                             uint64_t drain_seconds) {
  std::string unit(kTroupdUnitTemplate);
  Fill(&unit, "BINDIR", bindir);
  Fill(&unit, "TROUPE_DIR", troupe_dir);
  Fill(&unit, "TIMEOUT_STOP_SEC", troupe::StrCat(drain_seconds + kStopMarginSeconds, "s"));
  // The Debian package's rendering runs the service as the `troupe` user
  // (packaging/); bootstart keeps the files' owner, root.
  Fill(&unit, "SERVICE_USER", "# User= not set: the service runs as root (director bootstart)");
  // ProtectSystem=strict leaves only StateDirectory= and RuntimeDirectory=
  // writable: a TROUPE_DIR elsewhere needs ReadWritePaths=.
  const bool in_state_dir = troupe_dir == kStateDirectory ||
                            troupe_dir.rfind(troupe::StrCat(kStateDirectory, "/"), 0) == 0;
  Fill(&unit, "READ_WRITE_PATHS",
       in_state_dir ? troupe::StrCat("# ReadWritePaths= not needed: TROUPE_DIR is in ",
                                     kStateDirectory, " (StateDirectory=)")
                    : troupe::StrCat("ReadWritePaths=", troupe_dir));
  if (std::string left = LeftoverPlaceholder(unit); !left.empty()) {
    return absl::InternalError(troupe::StrCat(
        "the embedded unit template has a placeholder director does not fill: ", left));
  }
  return unit;
}

// Runs `systemctl args...` with its output on our stderr (stdout stays
// clean for --json); an error unless it exits 0.
absl::Status RunSystemctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"systemctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string command = "systemctl";
  for (const std::string& a : args) troupe::StrAppend(&command, " ", a);
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, "systemctl", &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return absl::InternalError(troupe::StrCat("cannot run ", command, ": ", std::strerror(spawned),
                                              spawned == ENOENT ? " (is systemd installed?)" : ""));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(
          troupe::StrCat("cannot wait for ", command, ": ", std::strerror(errno)));
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  const std::string how = WIFEXITED(status) ? troupe::StrCat("exit status ", WEXITSTATUS(status))
                                            : troupe::StrCat("signal ", WTERMSIG(status));
  return absl::InternalError(troupe::StrCat(
      command, " failed (", how,
      "); is this machine running systemd? The unit file is written; run the remaining "
      "systemctl commands by hand once it is"));
}

// OK when this process may create files in `dir`; else PermissionDenied
// naming `unit_path` (with the sudo hint), NotFound or InvalidArgument.
absl::Status CheckWritable(const std::string& dir, const std::string& unit_path) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) {
      return absl::NotFoundError(troupe::StrCat("unit directory ", dir, " does not exist"));
    }
    if (error != EACCES) {
      return absl::InternalError(
          troupe::StrCat("cannot inspect ", dir, ": ", std::strerror(error)));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        troupe::StrCat("unit directory ", dir, " is not a directory"));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError(
        troupe::StrCat("not permitted to write ", unit_path, " (", std::strerror(errno),
                       "); installing the service needs root: sudo director bootstart"));
  }
  return absl::OkStatus();
}

int Bootstart(Context& ctx, const BootstartOptions& options) {
  absl::StatusOr<std::string> bindir = FindBindir(options.bindir);
  if (!bindir.ok()) return ctx.Fail(bindir.status());

  const config::Config& config = ctx.config();
  const std::string troupe_dir = Normal(config.dir());
  if (absl::Status s = CheckUnitPath("TROUPE_DIR", troupe_dir); !s.ok()) return ctx.Fail(s);
  absl::StatusOr<config::DaemonSettings> settings = config.Daemon();
  if (!settings.ok()) return ctx.Fail(settings.status(), kExitInvalidConfig);

  const std::string unit_dir =
      Normal(options.unit_dir.empty() ? std::string(kDefaultUnitDir) : options.unit_dir);
  const std::string unit_path = troupe::StrCat(unit_dir, "/", kUnitName);
  // systemctl acts on the running system manager, which reads /etc/systemd/system.
  const bool live = options.system || unit_dir == kDefaultUnitDir;
  if (absl::Status s = CheckWritable(unit_dir, unit_path); !s.ok()) {
    return ctx.Fail(s, s.code() == absl::StatusCode::kPermissionDenied ? kExitNotPermitted : -1);
  }

  absl::StatusOr<std::string> unit = RenderTroupdUnit(
      *bindir, troupe_dir, static_cast<uint64_t>(absl::ToInt64Seconds(settings->drain_timeout)));
  if (!unit.ok()) return ctx.Fail(unit.status());
  Report report;
  if (absl::Status s = WriteFileAtomically(unit_path, *unit, 0644); !s.ok()) return ctx.Fail(s);
  report.Add(troupe::StrCat("wrote ", unit_path));

  // The service's socket lives in its RuntimeDirectory; director, run by an
  // admin with the same TROUPE_DIR, reads the same setting and finds it.
  const config::SettingValue* socket = config.Find("socket");
  const std::string socket_file = troupe::StrCat(config.config_dir(), "/socket");
  std::string socket_value = socket != nullptr ? socket->value : "";
  if (socket_value.empty()) {
    if (absl::Status s = MakeDirectories(config.config_dir(), 0755); !s.ok()) return ctx.Fail(s);
    if (absl::Status s =
            WriteFileAtomically(socket_file, troupe::StrCat(kServiceSocket, "\n"), 0644);
        !s.ok()) {
      return ctx.Fail(s);
    }
    socket_value = std::string(kServiceSocket);
    report.Add(troupe::StrCat("wrote ", socket_file, " = ", kServiceSocket));
  } else {
    report.Add(troupe::StrCat("kept ", socket_file, " = ", socket_value, " (already set)"));
    const bool writable = socket_value.rfind("/run/troupe/", 0) == 0 ||
                          socket_value.rfind(troupe::StrCat(troupe_dir, "/"), 0) == 0;
    if (!writable) {
      ctx.err() << "director: warning: socket " << socket_value
                << " is outside /run/troupe and TROUPE_DIR; ProtectSystem=strict will keep "
                   "troupd from creating it\n";
    }
  }

  const std::string unit_name(kUnitName);
  std::vector<std::vector<std::string>> commands = {{"daemon-reload"}, {"enable", unit_name}};
  if (!options.no_start) commands.push_back({"start", unit_name});
  for (const std::vector<std::string>& args : commands) {
    std::string text = "systemctl";
    for (const std::string& a : args) troupe::StrAppend(&text, " ", a);
    if (!live) {
      report.Add(troupe::StrCat("not run (--unit-dir without --system): ", text));
      continue;
    }
    // Print what already happened before a failure.
    if (absl::Status s = RunSystemctl(args); !s.ok()) {
      if (!ctx.json()) {
        for (const std::string& step : report.steps) ctx.out() << step << "\n";
      }
      return ctx.Fail(s);
    }
    report.Add(troupe::StrCat("ran ", text));
  }
  if (options.no_start)
    report.Add(troupe::StrCat("skipped systemctl start ", unit_name, " (--no-start)"));

  if (ctx.json()) {
    return ctx.PrintJson(Json{{"unit", unit_path},
                              {"bindir", *bindir},
                              {"dir", troupe_dir},
                              {"socket", socket_value},
                              {"systemctl", live},
                              {"steps", report.steps}});
  }
  for (const std::string& step : report.steps) ctx.out() << step << "\n";
  return kExitOk;
}

}  // namespace

void AddBootstartCommand(CLI::App& app, Runner* run) {
  auto options = std::make_shared<BootstartOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bootstart",
      "Install troupd as a systemd service: write troupd.service, set the socket setting, "
      "then systemctl daemon-reload, enable and start (needs root)");
  cmd->add_option("--unit-dir", options->unit_dir,
                  "Where to write troupd.service (default: /etc/systemd/system). Any other "
                  "directory: only write the unit, run no systemctl (unless --system)");
  cmd->add_option("--bindir", options->bindir,
                  "Directory holding director and troupd, as the unit will run them (default: "
                  "the directory of this director)");
  cmd->add_flag("--no-start", options->no_start, "Enable the service but do not start it");
  cmd->add_flag("--system", options->system,
                "Run systemctl (daemon-reload, enable, start) even with --unit-dir");
  cmd->callback(
      [options, run] { *run = [options](Context& ctx) { return Bootstart(ctx, *options); }; });
}

}  // namespace troupe::director
