// bundle_info.h - what BundleHost reports about its bundles and their managed
// actors (List, NotRestored, Role, the outcomes of loads and unloads): plain
// structs of hosting's own. The services map them to the Admin protos
// (daemon/service/hosting_protos.h); hosting's results carry no protobuf.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "daemon/bundle/isolation.h"

namespace troupe::hosting {

enum class BundleState {
  kNone,      // runs nothing: unloaded and gone, or recorded but not restored
  kActive,    // new work goes here
  kInactive,  // loaded, actors alive, no new work
  kDraining,  // actors finishing their mail, then unloaded
};

enum class ManagedActorState {
  kRunning,
  kExited,  // drained or stopped on purpose
  kDown,    // exceeded its restart intensity
};

// An actor the host created from a manifest ActorSpec (and restarts).
struct ManagedActor {
  std::string class_name;
  std::string address;  // of the current instance; empty before the first
  std::string role;
  std::string global_name;
  std::optional<absl::Time> started_at;  // of the current instance; nullopt: none yet
  uint32_t restarts = 0;
  ManagedActorState state = ManagedActorState::kRunning;
  std::string last_exit;  // why it last exited, empty if never
};

// The host process of a version that runs isolated (docs/isolation.md).
struct IsolatedHostInfo {
  int pid = 0;                  // of the current host; 0 when none runs
  uint64_t resident_bytes = 0;  // its RSS, 0 when unknown
  uint32_t restarts = 0;        // hosts started after the first
  std::string last_end;         // why the last host ended, empty if none did
  std::vector<std::string> last_stderr;  // the last lines that host wrote to stderr
};

// One loaded (or recorded) version of a bundle group.
struct BundleInfo {
  std::string hash;  // source hash
  std::string group;
  std::string version;
  BundleState state = BundleState::kNone;
  std::optional<absl::Time> loaded_at;  // nullopt: not loaded (kNone)
  std::string signing_key;
  // Where its code runs and why (bundle::EffectiveIsolation at load);
  // nullopt for a recorded bundle that runs nothing (kNone).
  std::optional<bundle::Isolation> isolation;
  std::string isolation_reason;
  std::optional<IsolatedHostInfo> host;  // set for versions that run isolated
  std::vector<ManagedActor> actors;  // in manifest order
  // Only for a recorded bundle that runs nothing (kNone): why, e.g. it failed
  // to restore, or is held back after the daemon died with it.
  std::string failure;
};

}  // namespace troupe::hosting
