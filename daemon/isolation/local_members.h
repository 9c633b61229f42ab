// local_members.h - the daemon's runtime::Cluster for the other systems of
// its node (SystemOptions::local_members): each isolated host serves one
// slot of the node's id space, [k << kSlotBits, (k + 1) << kSlotBits) for
// k = 1, 2, ..., never reused while the daemon runs, and the daemon serves
// slot 0 ([1, kDaemonIdLimit)). A message for an id of a slot no running
// host serves is undeliverable at once. Thread-safe; Forward never waits.
#pragma once

#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "daemon/common/mutex.h"
#include "daemon/runtime/cluster.h"

namespace troupe::runtime {
class ActorSystem;
}

namespace troupe::isolation {

class IsolatedHost;

inline constexpr int kSlotBits = 40;
// The daemon's own ids stay below this (its SystemOptions::actor_id_limit).
inline constexpr uint64_t kDaemonIdLimit = uint64_t{1} << kSlotBits;

class LocalMembers final : public runtime::Cluster {
 public:
  explicit LocalMembers(runtime::ActorSystem* system) : system_(system) {}

  // The next unused slot's ids: [first, limit).
  std::pair<uint64_t, uint64_t> ReserveRange();
  // Routes `host`'s range (its options) to it until Remove.
  void Add(IsolatedHost* host);
  void Remove(IsolatedHost* host);

  bool Forward(std::string_view node, uint64_t remote_id, runtime::Message message) override;
  // For the host whose queue a Forward on this thread last found full.
  bool ResumeWhenRoom(std::string_view node, std::function<void()> resume) override;
  // Local members take no placements and have no members or notices: the
  // runtime sends those to its cluster, never here.
  absl::Status Place(runtime::PlaceRequest request, Placed placed) override;
  std::vector<std::pair<std::string, std::string>> Members() override { return {}; }
  void NameReleased(std::string_view, std::string_view) override {}
  void CapabilitiesChanged(const std::string&) override {}

 private:
  runtime::ActorSystem* const system_;
  // Shared by Forward (every message to a host), exclusive for Add/Remove:
  // Remove returns only once no Forward uses the host any more.
  std::shared_mutex mu_;
  uint64_t next_slot_ = 1;                             // under mu_, exclusive
  absl::flat_hash_map<uint64_t, IsolatedHost*> hosts_;  // by slot; under mu_
};

}  // namespace troupe::isolation
