// config.h - Troupe's configuration: one value per file in
// <TROUPE_DIR>/config/<name> (DESIGN.md decision 11). Nothing is evaluated;
// a value is the file's text with surrounding whitespace trimmed. Missing
// files mean the default. `director config` prints what this class sees, and
// `director config check` (which the systemd unit will run) fails on any invalid value.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/bundle/isolation.h"  // header-only parts: the enum and IsolatedHostLimits
#include "daemon/bundle/limits.h"
#include "daemon/config/permissions.h"  // troupd checks its socket directory too

namespace troupe::config {

inline constexpr std::string_view kDefaultDir = "/var/lib/troupe";
inline constexpr std::string_view kDirEnv = "TROUPE_DIR";

// What troupd (and director, to find it) reads from the configuration.
struct DaemonSettings {
  std::string socket_path;        // the unix socket (control and messaging)
  std::string listen_tcp;         // "" or host:port for remote clients
  std::string client_token_path;  // <TROUPE_DIR>/keys/client.token: TCP clients' secret
  int worker_threads = 0;         // 0: one per core
  uint64_t max_message_bytes = 0;
  uint32_t restart_limit = 0;  // restarts allowed within restart_window
  absl::Duration restart_window;
  absl::Duration drain_timeout;
  // Conventions (docs/convention.md).
  std::string convention_leader;           // host:port, or "" (a leader of itself)
  std::string allow_remote_actor_sources;  // yes, no or leader-only
  absl::Duration checkin_interval;
  int missed_checkins = 3;
  std::string convention_key_path;  // <TROUPE_DIR>/keys/convention.key
  std::string tls_cert_path;        // all three set, or none
  std::string tls_key_path;
  std::string tls_ca_path;
  size_t actor_log_lines = 1000;  // per actor (runtime/actor_logs.h)
  // The HTTP/JSON API (daemon/http/README.md): served by troupe-http, which
  // troupd starts and supervises when listen_http is set.
  std::string listen_http;  // "" or host:port
  uint64_t http_max_connections = 64;
  absl::Duration http_read_timeout;
  absl::Duration execution_ttl;
  uint64_t executions_kept = 0;
  // Isolated hosts (docs/daemon.md, "Isolated hosts").
  bundle::Isolation isolation_default = bundle::Isolation::kInline;
  bundle::IsolatedHostLimits isolated_hosts;
};

// One known setting.
struct SettingSpec {
  std::string_view name;
  std::string_view default_value;
  std::string_view description;
  // OK or InvalidArgument saying what is wrong with `value` (already trimmed).
  absl::Status (*validate)(std::string_view value);
};

// Every known setting, in display order.
const std::vector<SettingSpec>& Settings();

// The value of one setting as loaded.
struct SettingValue {
  std::string name;
  std::string value;
  std::string source;   // "default" or "file <path>"
  std::string path;     // the file, empty for a default
  std::string problem;  // empty when valid; else what is wrong (no file name)
};

// A loaded configuration. Immutable after Load; thread-compatible.
class Config {
 public:
  // Resolves the directory: `dir_flag` (source "--dir") when non-empty, else
  // the environment variable TROUPE_DIR (source "env TROUPE_DIR") when set and
  // non-empty, else /var/lib/troupe ("default"), then loads it.
  static Config Load(std::string_view dir_flag);
  // Loads the settings files of `dir`; `dir_source` says where `dir` came from.
  // Never fails: unreadable or invalid files are recorded as problems, and so
  // is a TROUPE_DIR, keys/, keys/trusted/, config/, capabilities/, loaded/,
  // loaded/code/ or socket directory that another user than `owner` (or root)
  // owns or that group or others may write (permissions.h), and a setting,
  // trusted key (keys/trusted/*.pub), isolation mark (keys/trusted/*.isolated)
  // or capability file that another user owns or that group or others may
  // write (SmallFileOptions::trusted_owner). When `owner` is root, an
  // isolated_user that does not exist (or has uid 0) is a problem too.
  // `owner` is the daemon's user: the effective uid unless a test says
  // otherwise.
  static Config LoadFrom(std::string dir, std::string dir_source);
  static Config LoadFrom(std::string dir, std::string dir_source, uid_t owner);

  const std::string& dir() const { return dir_; }
  const std::string& dir_source() const { return dir_source_; }
  std::string config_dir() const { return dir_ + "/config"; }
  std::string keys_dir() const { return dir_ + "/keys"; }
  std::string trusted_keys_dir() const { return dir_ + "/keys/trusted"; }
  std::string bundles_dir() const { return dir_ + "/bundles"; }
  std::string capabilities_dir() const { return dir_ + "/capabilities"; }

  // Every known setting, in Settings() order.
  const std::vector<SettingValue>& values() const { return values_; }
  // nullptr for an unknown name.
  const SettingValue* Find(std::string_view name) const;

  // Every problem as "<file>: <name>: <what>", also for files in the config
  // directory that name no setting. Empty when all is well.
  const std::vector<std::string>& problems() const { return problems_; }
  // OK, or InvalidArgument listing every problem (one per line).
  absl::Status Check() const;

  // Typed accessors. InvalidArgument (naming the file) when the value is invalid.
  absl::StatusOr<uint32_t> KeepLimit() const;
  absl::StatusOr<bundle::Limits> BundleLimits() const;
  absl::StatusOr<std::string> AllowRemoteActorSources() const;  // yes, no or leader-only
  absl::StatusOr<std::string> ConventionLeader() const;         // host:port or ""
  // isolation_default: where bundles whose manifest says nothing run.
  absl::StatusOr<bundle::Isolation> IsolationDefault() const;
  // isolated_memory_bytes, isolated_cpu_seconds, isolated_open_files,
  // isolated_user and isolated_handler_timeout_ms.
  absl::StatusOr<bundle::IsolatedHostLimits> IsolatedHosts() const;
  absl::StatusOr<DaemonSettings> Daemon() const;

 private:
  absl::StatusOr<uint64_t> Number(std::string_view name) const;
  absl::StatusOr<std::string> Valid(std::string_view name) const;

  std::string dir_;
  std::string dir_source_;
  std::vector<SettingValue> values_;
  std::vector<std::string> problems_;
};

}  // namespace troupe::config
