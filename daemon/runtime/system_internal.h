// system_internal.h - private to daemon/runtime: what the files of
// ActorSystem share (the class table, the native actor class, state names,
// the id bound, the thread's current system).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "daemon/common/mutex.h"
#include "daemon/runtime/actor_class.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/cell.h"
#include "daemon/runtime/pool.h"

namespace troupe::runtime {

// The class of actors spawned with a C++ handler: the instance is the
// handler itself, set before the first turn.
class NativeClass final : public ActorClass {
 public:
  explicit NativeClass(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  absl::StatusOr<void*> Create(Cell*) const override {
    return absl::InternalError("native actors are made by SpawnNative");
  }
  absl::Status Receive(void* instance, Cell* cell, Message& message) const override {
    (*static_cast<NativeHandler*>(instance))(cell, message);
    return absl::OkStatus();
  }
  void Destroy(void* instance) const override { delete static_cast<NativeHandler*>(instance); }

 private:
  std::string name_;
};

// What status shows for a state.
inline const char* StateName(CellState s) {
  switch (s) {
    case CellState::kNew:
      return "starting";
    case CellState::kRunning:
      return "running";
    case CellState::kExiting:
      return "exiting";
    case CellState::kExited:
      return "exited";
    case CellState::kTombstone:
      return "exited";
    case CellState::kRemote:
      return "remote";
  }
  return "unknown";
}

// Actor ids of every daemon stay below this, so skipping ahead past a parsed
// id cannot exhaust the id space; remote cells take their (local) ids from
// here up (remote_registry.h).
inline constexpr uint64_t kMaxActorId = kActorIdLimit;

// Starting or running: may still take work, children and names.
inline bool IsLive(const Cell* cell) {
  CellState s = cell->state();
  return s == CellState::kNew || s == CellState::kRunning;
}

struct ActorSystem::ClassTable {
  mutable troupe::Mutex mu;
  absl::flat_hash_map<std::string, const ActorClass*> by_name ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::pair<const void*, std::string>, const ActorClass*> by_library
      ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<const ActorClass*, std::unique_ptr<PoolManagerClass>> pools
      ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, std::unique_ptr<NativeClass>> natives ABSL_GUARDED_BY(mu);
  // Every library table ever registered: whether it still is, and how many
  // of its actors have not finished exiting (see UnregisterLibrary).
  struct LibraryUse {
    bool registered = false;
    uint64_t live = 0;
  };
  absl::flat_hash_map<const void*, LibraryUse> libraries ABSL_GUARDED_BY(mu);
};

}  // namespace troupe::runtime
