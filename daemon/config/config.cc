// config.cc - the settings table and the one-value-per-file loader.
#include "daemon/config/config.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "daemon/common/small_file.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/config/capabilities.h"
#include "daemon/config/permissions.h"

namespace troupe::config {
namespace {

constexpr uint64_t kMaxConfigFileBytes = 64 * 1024;
// As bundle/keys.cc: a key file is one short line.
constexpr uint64_t kMaxTrustedKeyFileBytes = 4096;

absl::StatusOr<uint64_t> ParseUnsigned(std::string_view value) {
  uint64_t number = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, number);
  if (value.empty() || ec != std::errc() || ptr != end) {
    return absl::InvalidArgumentError(
        troupe::StrCat("'", value, "' is not a non-negative decimal integer"));
  }
  return number;
}

absl::Status ValidateUint32(std::string_view value) {
  absl::StatusOr<uint64_t> number = ParseUnsigned(value);
  if (!number.ok()) return number.status();
  if (*number > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(troupe::StrCat("'", value, "' is too large"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePositive(std::string_view value) {
  absl::StatusOr<uint64_t> number = ParseUnsigned(value);
  if (!number.ok()) return number.status();
  if (*number == 0) return absl::InvalidArgumentError("must be greater than 0");
  return absl::OkStatus();
}

absl::Status ValidateRemoteSources(std::string_view value) {
  if (value == "yes" || value == "no" || value == "leader-only") return absl::OkStatus();
  return absl::InvalidArgumentError(
      troupe::StrCat("'", value, "' is not one of yes, no, leader-only"));
}

// "" (no leader), "host:port" or "[ipv6]:port"; port 1-65535. Syntax only.
absl::Status ValidateHostPort(std::string_view value) {
  if (value.empty()) return absl::OkStatus();
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(troupe::StrCat("'", value, "' is not host:port (", why, ")"));
  };
  const size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = value.substr(0, colon);
  const std::string_view port = value.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (host.empty()) return bad("empty host");
    for (char c : host) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
        return bad("bad character in IPv6 address");
      }
    }
  } else {
    if (host.empty()) return bad("empty host");
    if (host.size() > 253) return bad("host name too long");
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
        return bad("bad character in host name");
      }
    }
  }
  absl::StatusOr<uint64_t> number = ParseUnsigned(port);
  if (!number.ok() || *number == 0 || *number > 65535) return bad("port must be 1-65535");
  return absl::OkStatus();
}

// An absolute path of at most 107 bytes (a unix socket address), or empty.
absl::Status ValidateSocketPath(std::string_view value) {
  if (value.empty()) return absl::OkStatus();
  if (value.front() != '/')
    return absl::InvalidArgumentError(troupe::StrCat("'", value, "' is not an absolute path"));
  if (value.size() > 107) {
    return absl::InvalidArgumentError(troupe::StrCat("'", value, "' is ", value.size(),
                                                     " bytes; a unix socket path has at most 107"));
  }
  return absl::OkStatus();
}

absl::Status ValidateWorkerThreads(std::string_view value) {
  absl::StatusOr<uint64_t> number = ParseUnsigned(value);
  if (!number.ok()) return number.status();
  if (*number > 1024) return absl::InvalidArgumentError("must be at most 1024");
  return absl::OkStatus();
}

absl::Status ValidateRange(std::string_view value, uint64_t low, uint64_t high) {
  absl::StatusOr<uint64_t> number = ParseUnsigned(value);
  if (!number.ok()) return number.status();
  if (*number < low || *number > high) {
    return absl::InvalidArgumentError(troupe::StrCat("must be between ", low, " and ", high));
  }
  return absl::OkStatus();
}

absl::Status ValidateCheckinInterval(std::string_view value) {
  return ValidateRange(value, 50, 60000);
}

absl::Status ValidateMissedCheckins(std::string_view value) { return ValidateRange(value, 2, 100); }

// One thread each: a bound on threads, not a tuning knob.
absl::Status ValidateHttpConnections(std::string_view value) {
  return ValidateRange(value, 1, 1024);
}

absl::Status ValidateIsolationDefault(std::string_view value) {
  if (bundle::ParseIsolation(value).has_value()) return absl::OkStatus();
  return absl::InvalidArgumentError(troupe::StrCat(troupe::Quoted(value), " is not one of ",
                                                   bundle::kIsolationInline, ", ",
                                                   bundle::kIsolationProcess));
}

// Below this an isolated host cannot even start (its libraries, threads'
// stacks and heap take more address space).
constexpr uint64_t kMinIsolatedMemoryBytes = uint64_t{64} << 20;

absl::Status ValidateIsolatedMemory(std::string_view value) {
  absl::StatusOr<uint64_t> number = ParseUnsigned(value);
  if (!number.ok()) return number.status();
  if (*number != 0 && *number < kMinIsolatedMemoryBytes) {
    return absl::InvalidArgumentError(troupe::StrCat(
        "must be 0 (no limit) or at least ", kMinIsolatedMemoryBytes,
        " (64 MiB): an isolated host cannot start in less address space"));
  }
  return absl::OkStatus();
}

absl::Status ValidateIsolatedOpenFiles(std::string_view value) {
  return ValidateRange(value, 16, 65536);
}

absl::Status ValidateHandlerTimeout(std::string_view value) {
  return ValidateRange(value, 100, 3600000);
}

// A user name as Debian's adduser accepts it: 1-32 characters, a lowercase
// letter or '_' first, then lowercase letters, digits, '_' and '-', and an
// optional final '$'. Syntax only; LoadFrom checks that it exists when the
// daemon runs as root.
absl::Status ValidateIsolatedUser(std::string_view value) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        troupe::StrCat(troupe::Quoted(value, 64), " is not a user name (", why, ")"));
  };
  if (value.empty()) return bad("it is empty");
  if (value.size() > 32) return bad("more than 32 characters");
  if (!((value[0] >= 'a' && value[0] <= 'z') || value[0] == '_')) {
    return bad("it must start with a lowercase letter or '_'");
  }
  for (size_t i = 1; i < value.size(); ++i) {
    const char c = value[i];
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') continue;
    if (c == '$' && i + 1 == value.size()) continue;
    return bad(troupe::StrCat("character ", troupe::Quoted(value.substr(i, 1)), " at position ",
                              i + 1, "; use lowercase letters, digits, '_' and '-'"));
  }
  if (value == "root") {
    return absl::InvalidArgumentError(
        "'root' is not an unprivileged user: isolated hosts must not run as root");
  }
  return absl::OkStatus();
}

// What is wrong with running isolated hosts as `user` on this host (the
// daemon runs as root): it must exist and must not have uid 0. Empty: fine.
std::string IsolatedUserProblem(const std::string& user) {
  struct passwd entry;
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  int error = ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (error != 0) {
    return troupe::StrCat("cannot look up user ", troupe::Quoted(user), " (",
                          std::strerror(error), ")");
  }
  if (found == nullptr) {
    return troupe::StrCat("user ", troupe::Quoted(user),
                          " does not exist on this host (troupd runs as root, so its isolated "
                          "hosts run as this user): create it (adduser --system ",
                          user, ") or name another");
  }
  if (found->pw_uid == 0) {
    return troupe::StrCat("user ", troupe::Quoted(user),
                          " has uid 0: isolated hosts must run as an unprivileged user");
  }
  return {};
}

absl::Status ValidateOptionalAbsolutePath(std::string_view value) {
  if (value.empty() || value.front() == '/') return absl::OkStatus();
  return absl::InvalidArgumentError(troupe::StrCat("'", value, "' is not an absolute path"));
}

const bundle::Limits kDefaultLimits;
const bundle::IsolatedHostLimits kDefaultIsolatedHosts;

std::string DefaultString(uint64_t n) { return std::to_string(n); }

std::string KnownNames();

// A ReadSmallFile error without the leading "<path> " (and "is "): the
// problem of a setting, whose line names the file already.
std::string WithoutPath(std::string_view message, std::string_view path) {
  if (message.substr(0, path.size()) == path && message.substr(path.size(), 1) == " ") {
    message.remove_prefix(path.size() + 1);
  }
  if (message.substr(0, 3) == "is ") message.remove_prefix(3);
  return std::string(message);
}

}  // namespace

const std::vector<SettingSpec>& Settings() {
  static const auto* const kSettings = [] {
    // The limit defaults are kept as strings with static storage.
    static const std::string max_entries = DefaultString(kDefaultLimits.max_entries);
    static const std::string max_entry_bytes = DefaultString(kDefaultLimits.max_entry_bytes);
    static const std::string max_total_bytes = DefaultString(kDefaultLimits.max_total_bytes);
    static const std::string max_ratio = DefaultString(kDefaultLimits.max_compression_ratio);
    static const std::string isolated_memory = DefaultString(kDefaultIsolatedHosts.memory_bytes);
    static const std::string isolated_cpu = DefaultString(kDefaultIsolatedHosts.cpu_seconds);
    static const std::string isolated_files = DefaultString(kDefaultIsolatedHosts.open_files);
    static const std::string handler_timeout = DefaultString(
        static_cast<uint64_t>(absl::ToInt64Milliseconds(kDefaultIsolatedHosts.handler_timeout)));
    return new std::vector<SettingSpec>{
        {"keep_limit", "0",
         "bundle files kept per group by `director gensrc` when the manifest sets no "
         "keep_limit; 0 keeps all",
         &ValidateUint32},
        {"max_entries", max_entries, "most entries a bundle may hold", &ValidatePositive},
        {"max_entry_bytes", max_entry_bytes, "largest uncompressed bundle entry, in bytes",
         &ValidatePositive},
        {"max_total_bytes", max_total_bytes, "largest uncompressed bundle, in bytes",
         &ValidatePositive},
        {"max_compression_ratio", max_ratio,
         "largest uncompressed/compressed ratio of one bundle entry", &ValidatePositive},
        {"allow_remote_actor_sources", "no",
         "whether bundles fetched from convention peers may be used: yes, no or leader-only",
         &ValidateRemoteSources},
        {"convleader", "", "the convention leader as host:port; empty: join no convention",
         &ValidateHostPort},
        {"socket", "",
         "troupd's unix socket; empty: <TROUPE_DIR>/run/troupd.sock (director finds it the "
         "same way)",
         &ValidateSocketPath},
        {"listen_tcp", "",
         "host:port where troupd also serves remote clients, which must send the token in "
         "keys/client.token; empty: unix socket only",
         &ValidateHostPort},
        {"worker_threads", "0", "actor worker threads; 0: one per core", &ValidateWorkerThreads},
        {"max_message_bytes", "4194304",
         "largest message payload a client may send, in bytes (RESOURCE_EXHAUSTED above)",
         &ValidatePositive},
        {"restart_limit", "5",
         "restarts of one bundle actor allowed within restart_window_seconds before it stays "
         "down",
         &ValidateUint32},
        {"restart_window_seconds", "60", "the window of restart_limit, in seconds",
         &ValidatePositive},
        {"checkin_interval_ms", "1000",
         "how often a convention member checks in with its leader, in milliseconds "
         "(50-60000)",
         &ValidateCheckinInterval},
        {"missed_checkins", "3",
         "check-ins a member may miss before the leader expires it (2-100)",
         &ValidateMissedCheckins},
        {"convention_tls_cert", "",
         "PEM certificate of this daemon for mutual TLS on the TCP listener; empty: no TLS "
         "(all three convention_tls_* or none)",
         &ValidateOptionalAbsolutePath},
        {"convention_tls_key", "", "PEM private key of convention_tls_cert",
         &ValidateOptionalAbsolutePath},
        {"convention_tls_ca", "",
         "PEM certificate authority that signed the convention's certificates",
         &ValidateOptionalAbsolutePath},
        {"drain_timeout_seconds", "30",
         "how long a deactivated version or a stopping daemon waits for actors to finish "
         "their mail",
         &ValidatePositive},
        {"actor_log_lines", "1000",
         "lines of its own log kept per actor for Admin.ActorLogs and the HTTP API; 0: none",
         &ValidateUint32},
        {"listen_http", "",
         "host:port of the HTTP/JSON API (troupd runs troupe-http there, which needs the "
         "token in keys/client.token); empty: no HTTP",
         &ValidateHostPort},
        {"http_max_connections", "64",
         "HTTP connections served at once (1-1024); as many more wait, the rest get 503",
         &ValidateHttpConnections},
        {"http_read_timeout_seconds", "10",
         "how long the HTTP API waits for a client's next bytes before it closes the "
         "connection",
         &ValidatePositive},
        {"execution_ttl_seconds", "3600",
         "how long the HTTP API keeps an execution's result after it ends (then 410)",
         &ValidatePositive},
        {"executions_kept", "10000",
         "most executions the HTTP API keeps at once (the oldest finished go first)",
         &ValidatePositive},
        {"isolation_default", "inline",
         "where bundles whose manifest sets no isolation run: inline (inside troupd) or "
         "process (an isolated host process per version)",
         &ValidateIsolationDefault},
        {"isolated_memory_bytes", isolated_memory,
         "address space (RLIMIT_AS) of each isolated host, in bytes; 0: no limit, else at "
         "least 67108864",
         &ValidateIsolatedMemory},
        {"isolated_cpu_seconds", isolated_cpu,
         "CPU time (RLIMIT_CPU) of each isolated host over its whole life, in seconds; 0: no "
         "limit",
         &ValidateUint32},
        {"isolated_open_files", isolated_files,
         "open files (RLIMIT_NOFILE) of each isolated host (16-65536)",
         &ValidateIsolatedOpenFiles},
        {"isolated_user", kDefaultIsolatedHosts.user,
         "the unprivileged user isolated hosts run as when troupd runs as root (it must "
         "exist then)",
         &ValidateIsolatedUser},
        {"isolated_handler_timeout_ms", handler_timeout,
         "a handler running longer than this gets its isolated host killed and restarted, in "
         "milliseconds (100-3600000)",
         &ValidateHandlerTimeout},
    };
  }();
  return *kSettings;
}

namespace {
std::string KnownNames() {
  std::string names;
  for (const SettingSpec& spec : Settings()) {
    if (!names.empty()) names += ", ";
    names += spec.name;
  }
  return names;
}
}  // namespace

Config Config::Load(std::string_view dir_flag) {
  if (!dir_flag.empty()) return LoadFrom(std::string(dir_flag), "--dir");
  const char* env = std::getenv(std::string(kDirEnv).c_str());
  if (env != nullptr && env[0] != '\0') {
    return LoadFrom(env, troupe::StrCat("env ", kDirEnv));
  }
  return LoadFrom(std::string(kDefaultDir), "default");
}

Config Config::LoadFrom(std::string dir, std::string dir_source) {
  return LoadFrom(std::move(dir), std::move(dir_source), ::geteuid());
}

Config Config::LoadFrom(std::string dir, std::string dir_source, uid_t owner) {
  namespace fs = std::filesystem;
  Config config;
  config.dir_ = std::move(dir);
  config.dir_source_ = std::move(dir_source);
  const std::string config_dir = config.config_dir();
  SmallFileOptions trusted;
  trusted.trusted_owner = true;
  trusted.owner = owner;
  for (const SettingSpec& spec : Settings()) {
    SettingValue value;
    value.name = std::string(spec.name);
    value.value = std::string(spec.default_value);
    value.source = "default";
    const std::string path = troupe::StrCat(config_dir, "/", spec.name);
    // A symbolic link is followed: config/ itself is checked below, so only
    // its owner can have placed one. The file reached must be the daemon's
    // user's (or root's) and writable by nobody else: a setting such as
    // listen_tcp decides who may call.
    absl::StatusOr<std::string> text = ReadSmallFile(path, kMaxConfigFileBytes, trusted);
    if (absl::IsNotFound(text.status())) {
      config.values_.push_back(std::move(value));
      continue;
    }
    value.path = path;
    value.source = troupe::StrCat("file ", path);
    if (!text.ok()) {
      value.problem = WithoutPath(std::string(text.status().message()), path);
    } else {
      value.value = std::string(Trim(*text));
      absl::Status valid = spec.validate(value.value);
      if (!valid.ok()) value.problem = std::string(valid.message());
    }
    if (!value.problem.empty()) {
      config.problems_.push_back(troupe::StrCat(path, ": ", spec.name, ": ", value.problem));
    }
    config.values_.push_back(std::move(value));
  }
  // A daemon running as root runs its isolated hosts as isolated_user: that
  // user must exist here (and not be root under another name).
  auto user = std::find_if(config.values_.begin(), config.values_.end(),
                           [](const SettingValue& value) { return value.name == "isolated_user"; });
  if (owner == 0 && user != config.values_.end() && user->problem.empty()) {
    user->problem = IsolatedUserProblem(user->value);
    if (!user->problem.empty()) {
      config.problems_.push_back(troupe::StrCat(
          user->path.empty() ? troupe::StrCat("isolated_user (default ", user->value, ")")
                             : troupe::StrCat(user->path, ": isolated_user"),
          ": ", user->problem));
    }
  }
  // Who can write these can plant settings, keys or a socket (permissions.h).
  const SettingValue* socket = config.Find("socket");
  const std::string socket_path = socket->problem.empty() && !socket->value.empty()
                                      ? socket->value
                                      : config.dir_ + "/run/troupd.sock";
  // keys/trusted decides what runs (a planted .pub makes troupd run that
  // signer's code), loaded/ what troupd restores at start and loaded/code the
  // libraries it maps; bundles/ holds only signed files and is not listed.
  const std::pair<std::string_view, std::string> directories[] = {
      {"TROUPE_DIR", config.dir_},
      {"keys directory", config.keys_dir()},
      {"trusted keys directory", config.trusted_keys_dir()},
      {"config directory", config_dir},
      {"capabilities directory", config.capabilities_dir()},
      {"loaded bundles directory", config.dir_ + "/loaded"},
      {"bundle code directory", config.dir_ + "/loaded/code"},
      {"socket directory", fs::path(socket_path).parent_path().string()},
  };
  for (const auto& [what, path] : directories) {
    if (path == config.dir_ && what != "TROUPE_DIR") continue;  // checked once
    if (absl::Status ok = CheckPrivateDirectory(what, path, owner); !ok.ok()) {
      config.problems_.emplace_back(ok.message());
    }
  }
  // A trusted key file or isolation mark: whoever can write one decides what
  // runs (and how), like the directory. troupd's trust store refuses the same
  // files (bundle/keys.h); their content is checked there (`director config
  // check` lists the store).
  std::vector<std::string> trusted_files;
  const std::string trusted_dir = config.trusted_keys_dir();
  std::error_code list_error;
  const auto ends_with = [](const std::string& name, std::string_view suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (fs::directory_iterator it(trusted_dir, list_error), end; !list_error && it != end;
       it.increment(list_error)) {
    const std::string name = it->path().filename().string();
    if (ends_with(name, ".pub") || (ends_with(name, ".isolated") && name[0] != '.')) {
      trusted_files.push_back(it->path().string());
    }
  }
  std::sort(trusted_files.begin(), trusted_files.end());
  for (const std::string& path : trusted_files) {
    if (absl::StatusOr<std::string> key = ReadSmallFile(path, kMaxTrustedKeyFileBytes, trusted);
        !key.ok()) {
      config.problems_.push_back(
          troupe::StrCat(ends_with(path, ".pub") ? "trusted key " : "isolation mark ",
                         key.status().message()));
    }
  }
  // A file that names no setting is almost always a typo of one that does.
  std::error_code ec;
  std::vector<std::string> unknown;
  for (fs::directory_iterator it(config_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (config.Find(name) == nullptr) unknown.push_back(it->path().string());
  }
  std::sort(unknown.begin(), unknown.end());
  for (const std::string& path : unknown) {
    config.problems_.push_back(
        troupe::StrCat(path, ": unknown setting (known: ", KnownNames(), ")"));
  }
  // capabilities.json and capabilities/ (capabilities.h): a bad one stops
  // troupd's start and `director config check` like a bad setting.
  if (absl::StatusOr<std::vector<CapabilityValue>> capabilities =
          LoadCapabilities(config.dir_, owner);
      !capabilities.ok()) {
    const std::string all(capabilities.status().message());
    std::string_view problems = all;
    while (!problems.empty()) {
      const size_t end = std::min(problems.find('\n'), problems.size());
      config.problems_.emplace_back(problems.substr(0, end));
      problems.remove_prefix(std::min(end + 1, problems.size()));
    }
  }
  return config;
}

const SettingValue* Config::Find(std::string_view name) const {
  for (const SettingValue& value : values_) {
    if (value.name == name) return &value;
  }
  return nullptr;
}

absl::Status Config::Check() const {
  if (problems_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems_, "\n"));
}

absl::StatusOr<std::string> Config::Valid(std::string_view name) const {
  const SettingValue* value = Find(name);
  if (value == nullptr) {
    return absl::InternalError(troupe::StrCat("unknown setting ", name));
  }
  if (!value->problem.empty()) {
    // A default can be a problem too (isolated_user that does not exist).
    return absl::InvalidArgumentError(troupe::StrCat(
        value->path.empty() ? troupe::StrCat(value->name, " (default ", value->value, ")")
                            : troupe::StrCat(value->path, ": ", value->name),
        ": ", value->problem));
  }
  return value->value;
}

absl::StatusOr<uint64_t> Config::Number(std::string_view name) const {
  absl::StatusOr<std::string> text = Valid(name);
  if (!text.ok()) return text.status();
  return ParseUnsigned(*text);
}

absl::StatusOr<uint32_t> Config::KeepLimit() const {
  absl::StatusOr<uint64_t> keep = Number("keep_limit");
  if (!keep.ok()) return keep.status();
  return static_cast<uint32_t>(*keep);
}

absl::StatusOr<bundle::Limits> Config::BundleLimits() const {
  bundle::Limits limits;
  struct Field {
    std::string_view name;
    uint64_t* target;
  };
  for (const Field& field : {Field{"max_entries", &limits.max_entries},
                             Field{"max_entry_bytes", &limits.max_entry_bytes},
                             Field{"max_total_bytes", &limits.max_total_bytes},
                             Field{"max_compression_ratio", &limits.max_compression_ratio}}) {
    absl::StatusOr<uint64_t> number = Number(field.name);
    if (!number.ok()) return number.status();
    *field.target = *number;
  }
  return limits;
}

absl::StatusOr<std::string> Config::AllowRemoteActorSources() const {
  return Valid("allow_remote_actor_sources");
}

absl::StatusOr<std::string> Config::ConventionLeader() const { return Valid("convleader"); }

absl::StatusOr<bundle::Isolation> Config::IsolationDefault() const {
  TROUPE_ASSIGN_OR_RETURN(std::string text, Valid("isolation_default"));
  std::optional<bundle::Isolation> isolation = bundle::ParseIsolation(text);
  if (!isolation.has_value()) {
    return absl::InternalError(troupe::StrCat("isolation_default ", text, " passed validation"));
  }
  return *isolation;
}

absl::StatusOr<bundle::IsolatedHostLimits> Config::IsolatedHosts() const {
  bundle::IsolatedHostLimits limits;
  TROUPE_ASSIGN_OR_RETURN(limits.memory_bytes, Number("isolated_memory_bytes"));
  TROUPE_ASSIGN_OR_RETURN(limits.cpu_seconds, Number("isolated_cpu_seconds"));
  TROUPE_ASSIGN_OR_RETURN(limits.open_files, Number("isolated_open_files"));
  TROUPE_ASSIGN_OR_RETURN(limits.user, Valid("isolated_user"));
  TROUPE_ASSIGN_OR_RETURN(uint64_t timeout_ms, Number("isolated_handler_timeout_ms"));
  limits.handler_timeout = absl::Milliseconds(static_cast<int64_t>(timeout_ms));
  return limits;
}

absl::StatusOr<DaemonSettings> Config::Daemon() const {
  DaemonSettings d;
  TROUPE_ASSIGN_OR_RETURN(d.socket_path, Valid("socket"));
  if (d.socket_path.empty()) d.socket_path = dir_ + "/run/troupd.sock";
  TROUPE_ASSIGN_OR_RETURN(d.listen_tcp, Valid("listen_tcp"));
  d.client_token_path = keys_dir() + "/client.token";
  TROUPE_ASSIGN_OR_RETURN(uint64_t workers, Number("worker_threads"));
  d.worker_threads = static_cast<int>(workers);
  TROUPE_ASSIGN_OR_RETURN(d.max_message_bytes, Number("max_message_bytes"));
  TROUPE_ASSIGN_OR_RETURN(uint64_t restarts, Number("restart_limit"));
  d.restart_limit = static_cast<uint32_t>(restarts);
  TROUPE_ASSIGN_OR_RETURN(uint64_t window, Number("restart_window_seconds"));
  d.restart_window = absl::Seconds(static_cast<int64_t>(window));
  TROUPE_ASSIGN_OR_RETURN(uint64_t drain, Number("drain_timeout_seconds"));
  d.drain_timeout = absl::Seconds(static_cast<int64_t>(drain));
  TROUPE_ASSIGN_OR_RETURN(uint64_t log_lines, Number("actor_log_lines"));
  d.actor_log_lines = static_cast<size_t>(log_lines);
  TROUPE_ASSIGN_OR_RETURN(d.listen_http, Valid("listen_http"));
  TROUPE_ASSIGN_OR_RETURN(d.http_max_connections, Number("http_max_connections"));
  TROUPE_ASSIGN_OR_RETURN(uint64_t http_read, Number("http_read_timeout_seconds"));
  d.http_read_timeout = absl::Seconds(static_cast<int64_t>(http_read));
  TROUPE_ASSIGN_OR_RETURN(uint64_t ttl, Number("execution_ttl_seconds"));
  d.execution_ttl = absl::Seconds(static_cast<int64_t>(ttl));
  TROUPE_ASSIGN_OR_RETURN(d.executions_kept, Number("executions_kept"));
  TROUPE_ASSIGN_OR_RETURN(d.isolation_default, IsolationDefault());
  TROUPE_ASSIGN_OR_RETURN(d.isolated_hosts, IsolatedHosts());
  TROUPE_ASSIGN_OR_RETURN(d.convention_leader, Valid("convleader"));
  TROUPE_ASSIGN_OR_RETURN(d.allow_remote_actor_sources, Valid("allow_remote_actor_sources"));
  TROUPE_ASSIGN_OR_RETURN(uint64_t checkin_ms, Number("checkin_interval_ms"));
  d.checkin_interval = absl::Milliseconds(static_cast<int64_t>(checkin_ms));
  TROUPE_ASSIGN_OR_RETURN(uint64_t missed, Number("missed_checkins"));
  d.missed_checkins = static_cast<int>(missed);
  d.convention_key_path = keys_dir() + "/convention.key";
  TROUPE_ASSIGN_OR_RETURN(d.tls_cert_path, Valid("convention_tls_cert"));
  TROUPE_ASSIGN_OR_RETURN(d.tls_key_path, Valid("convention_tls_key"));
  TROUPE_ASSIGN_OR_RETURN(d.tls_ca_path, Valid("convention_tls_ca"));
  const int tls_set =
      !d.tls_cert_path.empty() + !d.tls_key_path.empty() + !d.tls_ca_path.empty();
  if (tls_set != 0 && tls_set != 3) {
    return absl::InvalidArgumentError(
        "convention_tls_cert, convention_tls_key and convention_tls_ca: set all three or none");
  }
  return d;
}

}  // namespace troupe::config
