// introspection.cc - ActorSystem's status of one actor, of all actors and of
// the system.
#include "daemon/runtime/actor_system.h"

#include <algorithm>
#include <string>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/cluster.h"
#include "daemon/runtime/system_internal.h"
#include "troupe/wire.h"

namespace troupe::runtime {

// ---------------------------------------------------------------------------
// Introspection

absl::StatusOr<ActorStatus> ActorSystem::GetActorStatus(const ActorRef& actor) const {
  if (!actor) return absl::InvalidArgumentError("status needs an address");
  const Cell* cell = actor.get();
  ActorStatus s;
  s.address = FormatAddress(cell);
  if (cell->state() == CellState::kTombstone) {
    return absl::NotFoundError(troupe::StrCat("no actor at ", s.address));
  }
  if (cell->state() == CellState::kRemote) {
    return absl::NotFoundError(troupe::StrCat(s.address, " is an actor of node '",
                                              cell->remote()->node, "'; ask that daemon"));
  }
  s.class_name = std::string(cell->class_->name());
  if (cell->parent_ != nullptr) s.parent = FormatAddress(cell->parent_);
  if (cell->global_name_ != nullptr) s.global_name = *cell->global_name_;
  s.state = StateName(cell->state());
  {
    troupe::MutexLock lock(&cell->children_mu_);
    for (const Cell* child : cell->children_) {
      if (child->state() != CellState::kExited) s.children.push_back(FormatAddress(child));
    }
  }
  std::sort(s.children.begin(), s.children.end());
  s.mailbox_depth = cell->mailbox_.depth();
  s.received = cell->mailbox_.pushed() - s.mailbox_depth;
  s.sent = cell->sent();
  s.failed = cell->failed();
  s.pending_wakeups = cell->pending_wakeups();
  return s;
}

std::vector<ActorStatus> ActorSystem::ListActors() const {
  std::vector<ActorRef> live;
  for (const Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) {
      if (!cell->is_reply_slot()) live.push_back(ActorRef::Share(cell));  // not actors
    }
  }
  std::vector<ActorStatus> out;
  for (const ActorRef& ref : live) {
    absl::StatusOr<ActorStatus> s = GetActorStatus(ref);
    if (s.ok()) out.push_back(*std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const ActorStatus& a, const ActorStatus& b) { return a.address < b.address; });
  return out;
}

uint64_t ActorSystem::QueuedMessages() const {
  uint64_t queued = 0;
  for (const Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) queued += cell->mailbox_.depth();
  }
  return queued;
}

SystemStatus ActorSystem::GetStatus() const {
  SystemStatus s;
  s.live_actors = live_actors_.load(std::memory_order_relaxed);
  s.dead_letters = dead_letters_.load(std::memory_order_relaxed);
  s.poison_messages = poison_messages_.load(std::memory_order_relaxed);
  s.handler_failures = handler_failures_.load(std::memory_order_relaxed);
  s.pending_wakeups = timers_.size();
  s.parked_actors = parked_actors_.load(std::memory_order_relaxed);
  {
    troupe::MutexLock lock(&dead_letter_mu_);
    s.dead_letter_handler = FormatAddress(dead_letter_handler_);
  }
  troupe::MutexLock lock(&names_mu_);
  for (const auto& [name, cell] : names_) s.global_names.push_back(name);
  std::sort(s.global_names.begin(), s.global_names.end());
  return s;
}

}  // namespace troupe::runtime
