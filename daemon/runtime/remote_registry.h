// remote_registry.h - private to daemon/runtime (remote.cc, placement.cc):
// the table of one system's remote cells and the constants of the id space.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "daemon/common/mutex.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/cell.h"
#include "daemon/runtime/system_internal.h"

namespace troupe::runtime {

// Remote cells take their (local) ids from here up, so a remote cell never
// shares an id with a handle of a local address, and address_compare /
// address_hash (by id) keep telling them apart.
inline constexpr uint64_t kFirstRemoteCellId = kMaxActorId;

inline constexpr std::string_view kNoConvention = "this daemon is in no convention";

// The canonical remote cells of one system by node and remote id, the
// pending placements by the local id they print with, and the undeliverable
// observer. Holds no reference to the cells: a cell removes itself in ~Cell
// (ForgetRemoteCell), and a lookup that finds a cell whose count already
// reached zero makes a new one instead. Shared by the system and every
// remote cell, so a cell may outlive the system. Thread-safe.
class RemoteRegistry {
 public:
  troupe::Mutex mu;
  absl::flat_hash_map<std::string, absl::flat_hash_map<uint64_t, Cell*>> by_node
      ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<uint64_t, Cell*> pending_aliases ABSL_GUARDED_BY(mu);
  size_t count ABSL_GUARDED_BY(mu) = 0;
  uint64_t next_id ABSL_GUARDED_BY(mu) = kFirstRemoteCellId;

  troupe::Mutex observer_mu;
  std::shared_ptr<const ActorSystem::UndeliverableObserver> observer
      ABSL_GUARDED_BY(observer_mu);
};

}  // namespace troupe::runtime
