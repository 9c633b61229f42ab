// isolation.h - where a bundle version's code runs: inline (inside troupd) or
// in an isolated host process (DESIGN.md decision 14), and the one rule that
// decides it from the manifest, the signer's trust entry and the daemon's
// isolation_default (docs/daemon.md, "Isolated hosts").
//
// The enum, its names and IsolatedHostLimits are header-only so that
// daemon/config can validate and hold the settings without linking the
// bundle library; EffectiveIsolation lives in isolation.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace troupe::bundle {

enum class Isolation {
  kInline,   // the libraries are opened inside troupd
  kProcess,  // the libraries run in a separate host process, one per version
};

inline constexpr std::string_view kIsolationInline = "inline";
inline constexpr std::string_view kIsolationProcess = "process";

// "inline" or "process": the spelling of manifests, settings and the Admin API.
inline std::string_view IsolationName(Isolation isolation) {
  return isolation == Isolation::kProcess ? kIsolationProcess : kIsolationInline;
}

// The Isolation `text` names exactly ("inline" or "process"), else nullopt.
inline std::optional<Isolation> ParseIsolation(std::string_view text) {
  if (text == kIsolationInline) return Isolation::kInline;
  if (text == kIsolationProcess) return Isolation::kProcess;
  return std::nullopt;
}

// How isolated hosts are confined: the settings isolated_memory_bytes,
// isolated_cpu_seconds, isolated_open_files, isolated_user and
// isolated_handler_timeout_ms (daemon/config). The defaults here are the
// settings' defaults.
struct IsolatedHostLimits {
  // RLIMIT_AS of each host process, in bytes; 0: no limit.
  uint64_t memory_bytes = uint64_t{4} << 30;
  // RLIMIT_CPU of each host process, in seconds of CPU over the host's whole
  // life (not per handler); 0: no limit.
  uint64_t cpu_seconds = 0;
  // RLIMIT_NOFILE of each host process (16-65536).
  uint64_t open_files = 256;
  // The user a host runs as when troupd runs as root; a troupd running as
  // another user runs its hosts as itself.
  std::string user = "nobody";
  // A handler running longer than this gets its host killed and restarted.
  absl::Duration handler_timeout = absl::Milliseconds(30000);
};

// The isolation of one bundle version and why, in one line for `director
// status` and the Admin API.
struct IsolationDecision {
  Isolation isolation = Isolation::kInline;
  std::string reason;  // e.g. "the manifest says process"
};

// The one rule, first match wins:
//   1. the signer is trusted --isolated     -> process ("signer <key id> is
//      trusted --isolated", noting a manifest that asked for inline);
//   2. the manifest says inline or process  -> that ("the manifest says ...");
//   3. otherwise                            -> `daemon_default`
//      ("isolation_default is ...").
// `manifest_isolation` is the manifest's `isolation` field, which
// ValidateManifest allows to be "", "inline" or "process" only; any other
// text is treated as "process" (the more confined choice), with a reason
// that quotes it. `signer_key_id` only appears in the reason.
IsolationDecision EffectiveIsolation(std::string_view manifest_isolation,
                                     std::string_view signer_key_id, bool signer_isolated,
                                     Isolation daemon_default);

}  // namespace troupe::bundle
