// commands.h - what every `director` command shares: exit codes (one mapping
// from absl::Status), the global options, output (text or --json) and the
// registration functions of the command groups. main.cc wires them to CLI11.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/common/json.h"
#include "daemon/config/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace troupe::director {

// Process exit codes, one per failure class. Listed in `director --help` and
// director/README.md; scripts rely on them, so never renumber.
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,       // I/O errors, permissions, bugs
  kExitUsage = 2,          // unknown command, bad flag or argument
  kExitNotFound = 3,       // a named file, key, bundle or entry does not exist
  kExitVerifyFailed = 4,   // bad signature, untrusted key, tampered or unsafe bundle;
                           // troupd refused the request (FailedPrecondition)
  kExitInvalidInput = 5,   // bad manifest, version, key file, name
  kExitAlreadyExists = 6,  // refusing to overwrite a key, bundle or directory
  kExitInvalidConfig = 7,  // a setting in TROUPE_DIR/config is invalid
  kExitNotRunning = 8,     // troupd does not answer on its socket
  kExitTimeout = 9,        // troupd, or the actor asked, did not answer in time
  kExitActorFailed = 10,   // the actor asked failed on the message (PoisonMessage)
  kExitNotPermitted = 11,  // bootstart: may not install the service (not root)
};

// The one place statuses become exit codes.
int ExitCodeFor(const absl::Status& status);
// The exit-code table for --help.
std::string ExitCodeHelp();

// Options that apply to every command.
struct GlobalOptions {
  std::string dir;  // --dir; empty: TROUPE_DIR or the default
  bool json = false;
};

// JSON output is built as nlohmann::ordered_json (members print in the order
// added) and printed with troupe::JsonText (daemon/common/json.h).
using Json = nlohmann::ordered_json;

// Everything a running command needs. Output goes through here so that
// --json and the error format are handled once.
class Context {
 public:
  Context(const GlobalOptions& options, std::ostream& out, std::ostream& err)
      : options_(options), out_(out), err_(err) {}

  bool json() const { return options_.json; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  // Loaded on first use.
  const config::Config& config();

  // Prints `status` ("director: <message>" on stderr; with --json also an
  // error object on stdout) and returns its exit code (or `code` when given).
  int Fail(const absl::Status& status, int code = -1);
  // Prints "ok": true and then the members of `object` as one line (for --json).
  int PrintJson(const Json& object);

 private:
  GlobalOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<config::Config> config_;
};

// The command chosen by the command line; set by a subcommand's callback.
using Runner = std::function<int(Context&)>;

// Each adds its subcommands to `app`; the chosen one stores its runner in *run.
void AddKeysCommands(CLI::App& app, Runner* run);
void AddBundleCommands(CLI::App& app, Runner* run);
void AddConfigCommands(CLI::App& app, Runner* run);
void AddNewCommand(CLI::App& app, Runner* run);
void AddBootstartCommand(CLI::App& app, Runner* run);
void AddDaemonCommands(CLI::App& app, Runner* run);
void AddMessageCommands(CLI::App& app, Runner* run);
// `completion bash`; walks `app` (the root, complete by then) when it runs.
void AddCompletionCommand(CLI::App& app, Runner* run);

// File helpers shared by the commands.
// Every file director reads is read whole but bounded: a FIFO or a
// character device (e.g. --data @/dev/stdin) is read to its end, and more
// than `max_bytes` is refused ("<path> is more than N bytes, the limit for
// it") instead of filling the memory. kMaxInputFileBytes is the largest
// input director handles (a bundle file, Limits::max_file_bytes).
inline constexpr uint64_t kMaxInputFileBytes = uint64_t{1} << 30;
absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes);
// The same for a stream already open; `what` names it in errors.
absl::StatusOr<std::string> ReadStream(std::istream& in, const std::string& what,
                                       uint64_t max_bytes);
// Writes `content` to `path` through a temporary file in the same directory,
// with `mode`, so no reader sees a partial file. With `overwrite` false,
// AlreadyExists when `path` exists (checked atomically with link(2)).
absl::Status WriteFileAtomically(const std::string& path, std::string_view content,
                                 unsigned mode = 0644, bool overwrite = true);
// mkdir -p; a created `path` gets `mode`, created parents 0755.
absl::Status MakeDirectories(const std::string& path, unsigned mode = 0755);

}  // namespace troupe::director
