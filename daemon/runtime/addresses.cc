// addresses.cc - ActorSystem's addresses and names: formatting and parsing
// addresses, global names, the dead-letter handler.
#include "daemon/runtime/actor_system.h"

#include <charconv>
#include <algorithm>
#include <string>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/addresses.h"
#include "daemon/runtime/cluster.h"
#include "daemon/runtime/system_internal.h"
#include "troupe/wire.h"

namespace troupe::runtime {

absl::StatusOr<AddressParts> SplitAddress(std::string_view text) {
  constexpr std::string_view kScheme = "troupe://";
  if (text.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        troupe::StrCat(Quoted(text), " is not an address (expected troupe://NODE/ID)"));
  }
  const std::string_view rest = text.substr(kScheme.size());
  const size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError(troupe::StrCat("address ", Quoted(text), " has no actor id"));
  }
  AddressParts parts;
  parts.node = rest.substr(0, slash);
  const std::string_view id_text = rest.substr(slash + 1);
  const char* const id_end = id_text.data() + id_text.size();
  auto [end, ec] = std::from_chars(id_text.data(), id_end, parts.id);
  if (id_text.empty() || ec != std::errc() || end != id_end) {
    return absl::InvalidArgumentError(
        troupe::StrCat("address ", Quoted(text), " has a bad actor id"));
  }
  if (parts.node.empty()) {
    return absl::InvalidArgumentError(troupe::StrCat("address ", Quoted(text), " has no node"));
  }
  if (parts.id == 0 || parts.id >= kMaxActorId) {
    return absl::InvalidArgumentError(
        troupe::StrCat("address ", Quoted(text), " has an actor id out of range"));
  }
  return parts;
}

// ---------------------------------------------------------------------------
// Addresses, names, dead-letter handler, capabilities

std::string ActorSystem::FormatAddress(const Cell* cell) const {
  if (cell == nullptr) return "";
  if (const RemoteIdentity* remote = cell->remote(); remote != nullptr) {
    if (remote->pending != nullptr && !remote->pending->placed.load(std::memory_order_acquire)) {
      return troupe::StrCat("troupe://", options_.node_name, "/", remote->pending->alias_id);
    }
    return troupe::StrCat("troupe://", remote->node, "/", remote->remote_id);
  }
  return troupe::StrCat("troupe://", options_.node_name, "/", cell->id());
}

absl::StatusOr<ActorRef> ActorSystem::ParseAddress(std::string_view text) {
  return ParseAddressInternal(text, /*from_outside=*/false);
}

absl::StatusOr<ActorRef> ActorSystem::ParseExternalAddress(std::string_view text) {
  return ParseAddressInternal(text, /*from_outside=*/true);
}

absl::StatusOr<ActorRef> ActorSystem::ParseAddressInternal(std::string_view text,
                                                           bool from_outside) {
  absl::StatusOr<AddressParts> parts = SplitAddress(text);
  if (!parts.ok()) return parts.status();
  const std::string_view node = parts->node;
  const uint64_t id = parts->id;
  if (node != options_.node_name) return ParseRemoteAddress(text, node, id);
  if (!OwnsId(id)) {
    if (local_members_.load(std::memory_order_acquire) != nullptr) {
      return CanonicalRemoteCell(node, id);
    }
    if (from_outside) {
      return absl::NotFoundError(
          troupe::StrCat("no actor at ", text, ": no host of this node serves its id"));
    }
    return DeadHandle(id);
  }
  // Ids NextId hands out: below the assigned range (chosen by whoever runs
  // this system, CreateOptions::id), if there is one.
  if (id < HandedOutIdLimit()) {
    if (from_outside && id >= next_id_.load(std::memory_order_relaxed)) {
      return absl::NotFoundError(
          troupe::StrCat("no actor at ", text, ": this node has not created it"));
    }
    // An id this node has not handed out yet is never handed out later, so
    // the dead handle below can never compare equal to a future actor. (Never
    // past the handed-out range: the next ids stay this system's own.)
    for (uint64_t next = next_id_.load(std::memory_order_relaxed); next <= id;) {
      if (next_id_.compare_exchange_weak(next, id + 1, std::memory_order_relaxed)) break;
    }
  }
  {
    const Shard& shard = ShardFor(id);
    troupe::MutexLock lock(&shard.mu);
    auto it = shard.cells.find(id);
    if (it != shard.cells.end() && it->second->state() != CellState::kExited) {
      return ActorRef::Share(it->second);
    }
  }
  if (ActorRef pending = PendingCellByAlias(id)) return pending;
  return DeadHandle(id);
}

ActorRef ActorSystem::DeadHandle(uint64_t id) {
  auto* tombstone = new Cell(this, id, nullptr, nullptr);
  tombstone->state_.store(CellState::kTombstone, std::memory_order_release);
  tombstone->notify_parent_ = false;
  Message::Adopt(tombstone->mailbox_.Close()).Reset();  // nothing queued: Close returns null
  return ActorRef::Adopt(tombstone);
}

absl::StatusOr<ActorRef> ActorSystem::Lookup(std::string_view global_name) {
  troupe::MutexLock lock(&names_mu_);
  auto it = names_.find(ToAbsl(global_name));
  if (it == names_.end() || !CanHoldName(it->second)) {
    return absl::NotFoundError(troupe::StrCat("no actor is named ", Quoted(global_name)));
  }
  return ActorRef::Share(it->second);
}

bool ActorSystem::CanHoldName(const Cell* cell) const {
  if (cell->state() != CellState::kRemote) return IsLive(cell);
  const RemoteIdentity* remote = cell->remote();
  return IsThisNode(remote->node) && !OwnsId(remote->remote_id) &&
         !remote->exit_noticed.load(std::memory_order_seq_cst) &&
         (remote->pending == nullptr || remote->pending->placed.load(std::memory_order_acquire));
}

void ActorSystem::LocalMemberNameReleased(std::string_view global_name,
                                          std::string_view address) {
  absl::StatusOr<AddressParts> parts = SplitAddress(address);
  if (!parts.ok() || !IsThisNode(parts->node) || OwnsId(parts->id)) return;
  Cell* released = nullptr;
  {
    troupe::MutexLock lock(&names_mu_);
    auto it = names_.find(ToAbsl(global_name));
    if (it == names_.end() || it->second->state() != CellState::kRemote ||
        it->second->remote()->remote_id != parts->id || !IsThisNode(it->second->remote()->node)) {
      return;
    }
    released = it->second;
    names_.erase(it);
  }
  released->Release();
  ClusterUse cluster(this);
  if (cluster.get() != nullptr) cluster->NameReleased(global_name, address);
}

void ActorSystem::ReleaseNamesOf(Cell* cell) {
  if (!cell->has_bound_names_.load(std::memory_order_seq_cst)) return;
  std::vector<std::string> released;
  {
    troupe::MutexLock lock(&names_mu_);
    for (auto it = names_.begin(); it != names_.end();) {
      auto next = std::next(it);
      if (it->second == cell) {
        released.push_back(it->first);
        cell->Release();
        names_.erase(it);
      }
      it = next;
    }
  }
  if (released.empty()) return;
  ClusterUse cluster(this);
  if (cluster.get() == nullptr) return;
  const std::string address = FormatAddress(cell);
  for (const std::string& name : released) cluster->NameReleased(name, address);
}

absl::Status ActorSystem::BindGlobalName(std::string_view global_name, const ActorRef& actor) {
  if (global_name.empty()) return absl::InvalidArgumentError("a global name cannot be empty");
  if (!actor || actor->state() == CellState::kTombstone ||
      (actor->state() == CellState::kRemote &&
       (!IsThisNode(actor->remote()->node) || OwnsId(actor->remote()->remote_id)))) {
    return absl::InvalidArgumentError(
        troupe::StrCat("global name '", global_name, "' needs a live actor of this node"));
  }
  Cell* cell = actor.get();
  std::unique_lock<std::shared_mutex> switching(name_switch_mu_);
  troupe::MutexLock lock(&names_mu_);
  if (cell->state() == CellState::kRemote) {
    // An actor of a local member: its exit notice (or the member's end)
    // releases the name (ReleaseNamesOf), as Unregister does for ours. The
    // mark comes before the check, and the notice sets exit_noticed before
    // reading the mark: one of the two sees the other.
    cell->has_bound_names_.store(true, std::memory_order_seq_cst);
    if (!CanHoldName(cell)) {
      return absl::FailedPreconditionError(troupe::StrCat(
          "cannot name ", FormatAddress(cell), " '", global_name, "': the actor has exited"));
    }
  } else {
    // Finalize marks the cell exited under children_mu_ before Unregister
    // reads the flag: either this sees the exit or Unregister sees the flag.
    troupe::MutexLock cell_lock(&cell->children_mu_);
    if (!IsLive(cell)) {
      return absl::FailedPreconditionError(troupe::StrCat(
          "cannot name ", FormatAddress(cell), " '", global_name, "': the actor has exited"));
    }
    cell->has_bound_names_.store(true, std::memory_order_relaxed);
  }
  cell->Retain();
  auto [it, inserted] = names_.try_emplace(std::string(global_name), cell);
  if (!inserted) {
    it->second->Release();
    it->second = cell;
  }
  return absl::OkStatus();
}

absl::Status ActorSystem::SetDeadLetterHandler(const ActorRef& handler) {
  if (handler && !IsLive(handler.get())) {
    return absl::FailedPreconditionError(troupe::StrCat(
        "dead-letter handler ", FormatAddress(handler.get()), " is not a live actor"));
  }
  Cell* old;
  {
    troupe::MutexLock lock(&dead_letter_mu_);
    old = dead_letter_handler_;
    dead_letter_handler_ = handler.get();
    if (dead_letter_handler_ != nullptr) dead_letter_handler_->Retain();
  }
  if (old != nullptr) old->Release();
  return absl::OkStatus();
}

void ActorSystem::SetDeadLetterHandlerFromActor(Cell* cell, bool enable) {
  Cell* old = nullptr;
  {
    troupe::MutexLock lock(&dead_letter_mu_);
    if (enable) {
      old = dead_letter_handler_;
      dead_letter_handler_ = cell;
      cell->Retain();
    } else if (dead_letter_handler_ == cell) {
      old = cell;
      dead_letter_handler_ = nullptr;
    }
  }
  if (old != nullptr) old->Release();
}

// CapabilitiesJson, UpdateCapability and the rest: capabilities.cc.

}  // namespace troupe::runtime
