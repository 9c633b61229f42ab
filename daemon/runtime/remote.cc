// remote.cc - addresses of other daemons: canonical remote cells, forwarding
// through the Cluster (and parking a sender it reports over a bound),
// delivery of messages that come from peers,
// undeliverable reports, remote children and lost nodes. The behaviour is
// described in docs/runtime.md, "Remote addresses".
//
// A remote cell is a Cell in state kRemote whose mailbox is closed, so the
// local send path (Deliver) pays nothing for it: only a push that fails
// looks at the state, and hands a remote cell's message to ForwardToNode.
#include "daemon/runtime/cluster.h"
#include "daemon/runtime/remote_registry.h"

#include <array>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "daemon/common/mutex.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/addresses.h"
#include "daemon/runtime/cell.h"
#include "troupe/abi.h"
#include "troupe/wire.h"

namespace troupe::runtime {
namespace {

bool IsLiveState(CellState s) { return s == CellState::kNew || s == CellState::kRunning; }

}  // namespace

// The senders DeliverFromRemote parsed last, by hash of their text: a peer
// link's stream carries few distinct senders, so most messages find theirs
// here and cost one slot lock and one retain instead of a parse. Holds a
// reference to each cached cell (released when replaced or with the system).
class RemoteSenderCache {
 public:
  static constexpr size_t kSlots = 64;
  struct alignas(64) Slot {
    troupe::Mutex mu;
    std::string text ABSL_GUARDED_BY(mu);
    ActorRef cell ABSL_GUARDED_BY(mu);
  };
  Slot& SlotFor(std::string_view text) {
    return slots[absl::Hash<absl::string_view>{}(ToAbsl(text)) % kSlots];
  }
  std::array<Slot, kSlots> slots;
};

std::shared_ptr<RemoteRegistry> ActorSystem::NewRemoteRegistry() {
  return std::make_shared<RemoteRegistry>();
}

std::shared_ptr<RemoteSenderCache> ActorSystem::NewRemoteSenderCache() {
  return std::make_shared<RemoteSenderCache>();
}

// Called by ~Cell for a remote cell: drops its registry entries (unless a
// newer cell replaced it already) and its adopting parent.
void ForgetRemoteCell(Cell* cell) {
  const RemoteIdentity* remote = cell->remote();
  RemoteRegistry& registry = *remote->registry;
  Cell* adopter = nullptr;
  {
    troupe::MutexLock lock(&registry.mu);
    if (remote->pending != nullptr) {
      auto alias = registry.pending_aliases.find(remote->pending->alias_id);
      if (alias != registry.pending_aliases.end() && alias->second == cell) {
        registry.pending_aliases.erase(alias);
      }
    }
    auto node = registry.by_node.find(ToAbsl(remote->node));
    if (node != registry.by_node.end()) {
      auto it = node->second.find(remote->remote_id);
      if (it != node->second.end() && it->second == cell) {
        node->second.erase(it);
        --registry.count;
        if (node->second.empty()) registry.by_node.erase(node);
      }
    }
    adopter = std::exchange(remote->adopted_by, nullptr);
  }
  if (adopter != nullptr) adopter->Release();
}

// ---------------------------------------------------------------------------
// Remote cells and forwarding

ActorRef ActorSystem::CanonicalRemoteCell(std::string_view node, uint64_t remote_id) {
  RemoteRegistry& registry = *remote_registry_;
  troupe::MutexLock lock(&registry.mu);
  auto node_it = registry.by_node.find(ToAbsl(node));
  if (node_it == registry.by_node.end()) {
    node_it = registry.by_node.try_emplace(std::string(node)).first;
  }
  Cell*& slot = node_it->second[remote_id];
  if (slot != nullptr && slot->TryRetain()) return ActorRef::Adopt(slot);
  // None, or one whose count reached zero: its ~Cell finds this entry taken
  // by the new cell and leaves it alone.
  if (slot == nullptr) ++registry.count;
  auto identity = std::make_unique<RemoteIdentity>();
  identity->node = std::string(node);
  identity->remote_id = remote_id;
  identity->registry = remote_registry_;
  slot = NewRemoteCellLocked(std::move(identity));
  return ActorRef::Adopt(slot);
}

Cell* ActorSystem::NewRemoteCellLocked(std::unique_ptr<RemoteIdentity> identity) {
  auto* cell = new Cell(this, remote_registry_->next_id++, nullptr, nullptr);
  cell->state_.store(CellState::kRemote, std::memory_order_release);
  cell->notify_parent_ = false;
  cell->in_parent_children_ = false;
  Message::Adopt(cell->mailbox_.Close()).Reset();  // nothing queued: Close returns null
  cell->remote_ = std::move(identity);
  return cell;
}

absl::StatusOr<ActorRef> ActorSystem::ParseRemoteAddress(std::string_view text,
                                                         std::string_view node, uint64_t id) {
  if (cluster_.load(std::memory_order_acquire) == nullptr) {
    return absl::FailedPreconditionError(troupe::StrCat(
        "address ", Quoted(text), " belongs to node ", Quoted(node), "; ", kNoConvention));
  }
  return CanonicalRemoteCell(node, id);
}

void ActorSystem::SetCluster(Cluster* cluster) {
  SwapCluster(cluster_, cluster_calls_, cluster);
}

void ActorSystem::SetLocalMembers(Cluster* local_members) {
  SwapCluster(local_members_, local_member_calls_, local_members);
}

void ActorSystem::SwapCluster(std::atomic<Cluster*>& slot, std::atomic<uint64_t>& calls,
                              Cluster* cluster) {
  Cluster* old = slot.exchange(cluster, std::memory_order_seq_cst);
  if (old == nullptr || old == cluster) return;
  // A call that read the old pointer counted itself first (ClusterUse), so
  // it is seen here; wait for it to leave the old cluster.
  while (calls.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
}

void ActorSystem::ForwardToNode(Cell* target, Message message) {
  const RemoteIdentity* remote = target->remote();
  if (remote->pending != nullptr && !remote->pending->settled.load(std::memory_order_acquire) &&
      KeepUntilPlaced(target, message)) {
    return;
  }
  bool sent = false;
  {
    ClusterUse cluster(this, IsThisNode(remote->node));
    if (cluster.get() != nullptr) {
      sent = true;
      if (!cluster->Forward(remote->node, remote->remote_id, std::move(message))) {
        NoteOutboxFull(remote->node);
      }
    }
  }
  if (!sent) Undeliverable(remote->node, remote->remote_id, std::move(message), kNoConvention);
}

bool ActorSystem::ResumeWhenRoom(std::string_view node, std::function<void()> resume) {
  ClusterUse cluster(this, IsThisNode(node));
  return cluster.get() != nullptr && cluster->ResumeWhenRoom(node, std::move(resume));
}

bool ActorSystem::ParkUntilRoom(Cell* cell, const std::string& node) {
  ClusterUse cluster(this, IsThisNode(node));
  if (cluster.get() == nullptr) return false;
  parked_actors_.fetch_add(1, std::memory_order_relaxed);
  const bool parked = cluster->ResumeWhenRoom(node, [this, actor = ActorRef::Share(cell)] {
    parked_actors_.fetch_sub(1, std::memory_order_relaxed);
    executor_->Schedule(actor.get());
  });
  if (!parked) parked_actors_.fetch_sub(1, std::memory_order_relaxed);
  return parked;
}

// ---------------------------------------------------------------------------
// Incoming

absl::Status ActorSystem::SetSenderFromRemote(Message& message, std::string_view from_address) {
  RemoteSenderCache::Slot& slot = remote_senders_->SlotFor(from_address);
  {
    troupe::MutexLock lock(&slot.mu);
    if (slot.cell && slot.text == from_address) {
      message.SetSender(slot.cell.get());
      return absl::OkStatus();
    }
  }
  // The local part is ParseExternalAddress's business (an id this node never
  // handed out is refused), a remote one needs no transport.
  absl::StatusOr<AddressParts> parts = SplitAddress(from_address);
  if (!parts.ok()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("bad sender address: ", parts.status().message()));
  }
  ActorRef sender;
  if (parts->node == options_.node_name) {
    absl::StatusOr<ActorRef> local = ParseExternalAddress(from_address);
    if (!local.ok()) {
      return absl::InvalidArgumentError(
          troupe::StrCat("bad sender address: ", local.status().message()));
    }
    sender = *std::move(local);
  } else {
    sender = CanonicalRemoteCell(parts->node, parts->id);
  }
  message.SetSender(sender.get());
  ActorRef replaced;
  {
    troupe::MutexLock lock(&slot.mu);
    slot.text.assign(from_address.data(), from_address.size());
    replaced = std::exchange(slot.cell, std::move(sender));
  }
  return absl::OkStatus();  // `replaced` is released here, outside the slot lock
}

absl::Status ActorSystem::DeliverFromRemote(uint64_t local_id, std::string_view from_address,
                                            std::string_view type, std::string_view payload) {
  if (type.empty()) return absl::InvalidArgumentError("message type must not be empty");
  if (!OwnsId(local_id)) return PassToLocalMember(local_id, from_address, type, payload);
  ActorRef target;
  {
    const Shard& shard = ShardFor(local_id);
    troupe::MutexLock lock(&shard.mu);
    auto it = shard.cells.find(local_id);
    if (it != shard.cells.end() && it->second->state() != CellState::kExited) {
      target = ActorRef::Share(it->second);
    }
  }
  if (!target) {
    return absl::NotFoundError(
        troupe::StrCat("no live actor at troupe://", options_.node_name, "/", local_id));
  }
  Message message = Message::Make(type, payload);
  if (!from_address.empty()) TROUPE_RETURN_IF_ERROR(SetSenderFromRemote(message, from_address));
  if (message.kind() == MessageKind::kChildExited && message.sender() != nullptr &&
      message.sender()->state() == CellState::kRemote) {
    // Exactly one notice per remote child: NodeLost may have sent it already.
    Cell* child = message.sender();
    const RemoteIdentity* remote = child->remote();
    if (remote->exit_noticed.exchange(true)) return absl::OkStatus();
    if (IsThisNode(remote->node)) ReleaseNamesOf(child);
    Cell* adopter;
    {
      troupe::MutexLock lock(&remote_registry_->mu);
      adopter = std::exchange(remote->adopted_by, nullptr);
    }
    if (adopter != nullptr) adopter->Release();
  }
  Deliver(target.get(), std::move(message));
  return absl::OkStatus();
}

absl::Status ActorSystem::PassToLocalMember(uint64_t id, std::string_view from_address,
                                            std::string_view type, std::string_view payload) {
  if (local_members_.load(std::memory_order_acquire) == nullptr) {
    return absl::NotFoundError(
        troupe::StrCat("no live actor at troupe://", options_.node_name, "/", id));
  }
  return SendOnFromRemote(CanonicalRemoteCell(options_.node_name, id), from_address, type,
                          payload);
}

absl::Status ActorSystem::RelayFromLocalMember(std::string_view node, uint64_t id,
                                               std::string_view from_address,
                                               std::string_view type, std::string_view payload) {
  if (IsThisNode(node)) return DeliverFromRemote(id, from_address, type, payload);
  if (type.empty()) return absl::InvalidArgumentError("message type must not be empty");
  if (cluster_.load(std::memory_order_acquire) == nullptr) {
    return absl::FailedPreconditionError(troupe::StrCat(
        "troupe://", node, "/", id, " belongs to node ", Quoted(node), "; ", kNoConvention));
  }
  return SendOnFromRemote(CanonicalRemoteCell(node, id), from_address, type, payload);
}

absl::Status ActorSystem::SendOnFromRemote(const ActorRef& target, std::string_view from_address,
                                           std::string_view type, std::string_view payload) {
  Message message = Message::Make(type, payload);
  if (!from_address.empty()) TROUPE_RETURN_IF_ERROR(SetSenderFromRemote(message, from_address));
  Deliver(target.get(), std::move(message));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Undeliverable messages

void ActorSystem::SetUndeliverableObserver(UndeliverableObserver observer) {
  std::shared_ptr<const UndeliverableObserver> shared;
  if (observer) shared = std::make_shared<const UndeliverableObserver>(std::move(observer));
  RemoteRegistry& registry = *remote_registry_;
  troupe::MutexLock lock(&registry.observer_mu);
  registry.observer.swap(shared);
}

void ActorSystem::Undeliverable(std::string_view node, uint64_t remote_id, Message message,
                                std::string_view reason) {
  if (!message) return;
  // Runtime bookkeeping is not a dead letter (as in DeadLetter).
  const MessageKind kind = message.kind();
  if (kind == MessageKind::kChildExited || kind == MessageKind::kPoolMemberReady ||
      kind == MessageKind::kWakeup) {
    return;
  }
  dead_letters_.fetch_add(1, std::memory_order_relaxed);
  std::string address = troupe::StrCat("troupe://", node, "/", remote_id);
  if (kind != MessageKind::kDeadEnvelope) {  // counted, never wrapped again
    ActorRef handler;
    {
      troupe::MutexLock lock(&dead_letter_mu_);
      handler = ActorRef::Share(dead_letter_handler_);
    }
    if (handler) {
      std::string payload;
      wire::AppendField(&payload, address);
      wire::AppendField(&payload, message.type());
      wire::AppendField(&payload, message.payload());
      Deliver(handler.get(), Message::Make(TROUPE_MSG_DEAD_ENVELOPE, payload, message.sender()));
    }
  }
  if (message.sender() == nullptr) return;
  std::shared_ptr<const UndeliverableObserver> observer;
  {
    RemoteRegistry& registry = *remote_registry_;
    troupe::MutexLock lock(&registry.observer_mu);
    observer = registry.observer;
  }
  if (observer != nullptr) (*observer)(message.sender(), address, reason);
}

// ---------------------------------------------------------------------------
// Remote children and lost nodes

absl::Status ActorSystem::AdoptRemoteChild(const ActorRef& parent, const ActorRef& remote_child) {
  if (!parent || !remote_child) {
    return absl::InvalidArgumentError("adopting a remote child needs a parent and a child");
  }
  Cell* p = parent.get();
  Cell* child = remote_child.get();
  if (child->system() != this || child->state() != CellState::kRemote) {
    return absl::InvalidArgumentError(troupe::StrCat(
        FormatAddress(child), " is not the address of an actor of another node"));
  }
  if (p->system() != this || p->state() == CellState::kRemote ||
      p->state() == CellState::kTombstone) {
    return absl::InvalidArgumentError(
        troupe::StrCat("parent ", FormatAddress(p), " is not an actor of this node"));
  }
  const RemoteIdentity* remote = child->remote();
  RemoteRegistry& registry = *remote_registry_;
  // Index first (NodeLost finds the child through it), then the children
  // list. Both this and the exit notices (DeliverFromRemote, NodeLost) check
  // or claim `exit_noticed` before touching the children list, so a child
  // whose exit was already reported is never added.
  bool indexed = false;
  {
    troupe::MutexLock lock(&registry.mu);
    if (remote->adopted_by != nullptr && remote->adopted_by != p) {
      return absl::AlreadyExistsError(troupe::StrCat(FormatAddress(child), " is already a child of ",
                                                     FormatAddress(remote->adopted_by)));
    }
    if (remote->adopted_by == nullptr) {
      p->Retain();
      remote->adopted_by = p;
      indexed = true;
    }
  }
  std::string refused;
  {
    troupe::MutexLock lock(&p->children_mu_);
    if (!IsLiveState(p->state())) {
      refused = troupe::StrCat("parent ", FormatAddress(p),
                               " has exited or is exiting; ask the remote child to exit");
    } else if (remote->exit_noticed.load()) {
      refused = troupe::StrCat("remote child ", FormatAddress(child), " has already exited");
    } else if (p->children_.insert(child).second) {
      child->Retain();
    }
  }
  if (refused.empty()) return absl::OkStatus();
  if (indexed) {
    Cell* undone = nullptr;
    {
      troupe::MutexLock lock(&registry.mu);
      if (remote->adopted_by == p) undone = std::exchange(remote->adopted_by, nullptr);
    }
    if (undone != nullptr) undone->Release();
  }
  return absl::FailedPreconditionError(refused);
}

void ActorSystem::NodeLost(std::string_view node, std::string_view reason) {
  LoseRemoteCells(node, 0, UINT64_MAX, reason);
}

void ActorSystem::LocalMemberLost(uint64_t first, uint64_t limit, std::string_view reason) {
  LoseRemoteCells(options_.node_name, first, limit, reason);
}

void ActorSystem::LoseRemoteCells(std::string_view node, uint64_t first, uint64_t limit,
                                  std::string_view reason) {
  const auto in_range = [first, limit](const RemoteIdentity* remote) {
    return remote->remote_id >= first && remote->remote_id < limit;
  };
  RemoteRegistry& registry = *remote_registry_;
  std::vector<ActorRef> cells;
  {
    troupe::MutexLock lock(&registry.mu);
    auto node_it = registry.by_node.find(ToAbsl(node));
    if (node_it != registry.by_node.end()) {
      for (const auto& [id, cell] : node_it->second) {
        if (id >= first && id < limit && cell->TryRetain()) cells.push_back(ActorRef::Adopt(cell));
      }
    }
  }
  for (const ActorRef& ref : cells) {
    Cell* child = ref.get();
    const RemoteIdentity* remote = child->remote();
    // Every actor of the node is presumed gone: a later notice from it is
    // not passed on again, and it can no longer be adopted.
    if (remote->exit_noticed.exchange(true)) continue;
    if (IsThisNode(remote->node)) ReleaseNamesOf(child);
    Cell* parent;
    {
      troupe::MutexLock lock(&registry.mu);
      parent = std::exchange(remote->adopted_by, nullptr);
    }
    if (parent == nullptr) continue;
    bool is_child = false;
    {
      troupe::MutexLock lock(&parent->children_mu_);
      CellState s = parent->state();
      is_child = (IsLiveState(s) || s == CellState::kExiting) && parent->children_.contains(child);
    }
    if (is_child) {
      std::string payload;
      wire::AppendField(&payload, FormatAddress(child));
      wire::AppendField(&payload, reason);
      Deliver(parent, Message::Make(TROUPE_MSG_CHILD_EXITED, payload, child));
    }
    parent->Release();
  }
  // Cached senders of the node would keep its cells (and their marks) alive.
  std::vector<ActorRef> dropped;
  for (RemoteSenderCache::Slot& slot : remote_senders_->slots) {
    troupe::MutexLock lock(&slot.mu);
    const RemoteIdentity* remote = slot.cell ? slot.cell->remote() : nullptr;
    const bool placed = remote != nullptr && (remote->pending == nullptr ||
                                              remote->pending->placed.load(std::memory_order_acquire));
    if (placed && remote->node == node && in_range(remote)) {
      slot.text.clear();
      dropped.push_back(std::exchange(slot.cell, ActorRef()));
    }
  }
  // Local actors whose parent was an actor of that node are orphans now: they
  // are asked to exit (recursively), as children are when their parent exits.
  std::vector<ActorRef> orphans;
  for (const Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) {
      const Cell* parent = cell->parent();
      if (parent != nullptr && parent->state() == CellState::kRemote &&
          parent->remote()->node == node && in_range(parent->remote()) &&
          IsLiveState(cell->state())) {
        orphans.push_back(ActorRef::Share(cell));
      }
    }
  }
  for (const ActorRef& orphan : orphans) {
    LogInfo(FormatAddress(orphan.get()), ": its parent ", FormatAddress(orphan->parent()),
            " is gone (", reason, "); asking it to exit");
    (void)RequestExit(orphan);
  }
}

size_t ActorSystem::RemoteCellCountForTest() const {
  troupe::MutexLock lock(&remote_registry_->mu);
  return remote_registry_->count;
}

}  // namespace troupe::runtime
