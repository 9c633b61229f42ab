// placement.cc - children placed on other daemons (docs/runtime.md "Remote
// children"). When an actor's child does not fit this node, CreateChild
// returns at once a pending remote cell, adopted as the parent's child,
// while the cluster places the child elsewhere; mail sent to it meanwhile is
// kept in order and sent on once it is placed. If no member takes it, the
// kept mail goes back to its senders as PoisonMessages and the parent gets
// one ChildActorExited, as for a local child that failed to start.
//
// A pending cell prints as troupe://<this node>/<alias id> until placed, and
// as the placed actor's address afterwards; both texts parse to the same
// cell while it lives, so addresses handed out early keep working.
#include <utility>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/addresses.h"
#include "daemon/runtime/cluster.h"
#include "daemon/runtime/remote_registry.h"
#include "troupe/abi.h"
#include "troupe/wire.h"

namespace troupe::runtime {

ActorRef ActorSystem::NewPendingCell() {
  const uint64_t alias = NextId();
  RemoteRegistry& registry = *remote_registry_;
  auto identity = std::make_unique<RemoteIdentity>();
  identity->registry = remote_registry_;
  identity->pending = std::make_unique<PendingPlacement>();
  identity->pending->alias_id = alias;
  troupe::MutexLock lock(&registry.mu);
  Cell* cell = NewRemoteCellLocked(std::move(identity));
  registry.pending_aliases[alias] = cell;
  return ActorRef::Adopt(cell);
}

ActorRef ActorSystem::PendingCellByAlias(uint64_t id) {
  RemoteRegistry& registry = *remote_registry_;
  troupe::MutexLock lock(&registry.mu);
  auto it = registry.pending_aliases.find(id);
  if (it == registry.pending_aliases.end() || !it->second->TryRetain()) return ActorRef();
  return ActorRef::Adopt(it->second);
}

absl::StatusOr<ActorRef> ActorSystem::PlaceChild(Cell* parent, const ActorClass* actor_class,
                                                 const ActorRequirements& requirements,
                                                 std::string_view global_name,
                                                 const absl::Status& local_problem) {
  ClusterUse cluster(this);
  if (cluster.get() == nullptr) return local_problem;
  ActorRef child = NewPendingCell();
  // Adopted first: the outcome may come before Place returns.
  TROUPE_RETURN_IF_ERROR(AdoptRemoteChild(ActorRef::Share(parent), child));
  PlaceRequest request;
  request.parent = FormatAddress(parent);
  request.actor_class = actor_class;
  request.requirements = requirements;
  request.global_name = std::string(global_name);
  request.local_problem = local_problem;
  absl::Status started =
      cluster->Place(std::move(request), [this, child](absl::StatusOr<std::string> address) {
        Placed(child.get(), std::move(address));
      });
  if (!started.ok()) {
    Disown(parent, child.get());
    return started;
  }
  return child;
}

void ActorSystem::Disown(Cell* parent, Cell* child) {
  const RemoteIdentity* remote = child->remote();
  Cell* adopter;
  {
    troupe::MutexLock lock(&remote_registry_->mu);
    adopter = std::exchange(remote->adopted_by, nullptr);
  }
  if (adopter != nullptr) adopter->Release();
  bool listed = false;
  {
    troupe::MutexLock lock(&parent->children_mu_);
    listed = parent->children_.erase(child) > 0;
  }
  if (listed) child->Release();
  remote->exit_noticed.store(true);
}

bool ActorSystem::KeepUntilPlaced(Cell* target, Message& message) {
  PendingPlacement& pending = *target->remote()->pending;
  std::string failure;
  {
    troupe::MutexLock lock(&pending.mu);
    switch (pending.state) {
      case PendingPlacement::State::kPlacing:
      case PendingPlacement::State::kFlushing:
        pending.kept.push_back(std::move(message));
        return true;
      case PendingPlacement::State::kPlaced:
        return false;
      case PendingPlacement::State::kFailed:
        failure = pending.failure;
        break;
    }
  }
  Undeliverable(options_.node_name, pending.alias_id, std::move(message), failure);
  return true;
}

void ActorSystem::Placed(Cell* child, absl::StatusOr<std::string> address) {
  RemoteIdentity* remote = child->remote_.get();
  PendingPlacement& pending = *remote->pending;
  std::string node;
  uint64_t id = 0;
  if (address.ok()) {
    absl::StatusOr<AddressParts> parts = SplitAddress(*address);
    if (parts.ok() && parts->node != options_.node_name) {
      node = std::string(parts->node);
      id = parts->id;
    } else {
      address = absl::InternalError(troupe::StrCat(
          "the placing member answered with ", Quoted(*address), ", not another node's address"));
    }
  }
  if (!address.ok()) {
    PlacementFailed(child, address.status());
    return;
  }
  {
    RemoteRegistry& registry = *remote_registry_;
    troupe::MutexLock lock(&registry.mu);
    remote->node = node;
    remote->remote_id = id;
    // The canonical cell of the address from now on. A cell made for it
    // before (the child wrote to someone here before the answer came) stays
    // usable, but is no longer the one senders are matched with.
    Cell*& slot = registry.by_node[node][id];
    if (slot == nullptr) ++registry.count;
    slot = child;
  }
  pending.placed.store(true, std::memory_order_release);
  // Send on what was kept, in order; what is sent meanwhile is kept behind it.
  for (;;) {
    std::vector<Message> kept;
    {
      troupe::MutexLock lock(&pending.mu);
      if (pending.kept.empty()) {
        pending.state = PendingPlacement::State::kPlaced;
        pending.settled.store(true, std::memory_order_release);
        return;
      }
      pending.state = PendingPlacement::State::kFlushing;
      kept.swap(pending.kept);
    }
    for (Message& m : kept) {
      ClusterUse cluster(this);
      if (cluster.get() != nullptr) {
        (void)cluster->Forward(node, id, std::move(m));
      } else {
        Undeliverable(node, id, std::move(m), kNoConvention);
      }
    }
  }
}

void ActorSystem::PlacementFailed(Cell* child, const absl::Status& why) {
  RemoteIdentity* remote = child->remote_.get();
  PendingPlacement& pending = *remote->pending;
  const std::string reason(why.message());
  std::vector<Message> kept;
  {
    troupe::MutexLock lock(&pending.mu);
    pending.state = PendingPlacement::State::kFailed;
    pending.failure = reason;
    kept.swap(pending.kept);
  }
  LogWarning(FormatAddress(child), ": no member placed it: ", reason);
  // As for a child that failed to start here: its mail goes back as poison
  // (exit requests and runtime notices are dropped).
  for (Message& m : kept) {
    if (m.kind() == MessageKind::kUser) SendPoison(child, std::move(m), reason);
  }
  if (remote->exit_noticed.exchange(true)) return;
  Cell* parent;
  {
    troupe::MutexLock lock(&remote_registry_->mu);
    parent = std::exchange(remote->adopted_by, nullptr);
  }
  if (parent == nullptr) return;
  std::string payload;
  wire::AppendField(&payload, FormatAddress(child));
  wire::AppendField(&payload, reason);
  Deliver(parent, Message::Make(TROUPE_MSG_CHILD_EXITED, payload, child));
  parent->Release();
}

}  // namespace troupe::runtime
