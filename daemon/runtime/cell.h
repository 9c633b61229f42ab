// cell.h - the runtime's record of one actor: mailbox, lifecycle state,
// family, counters. A Cell is also the troupe_address_t handed to plugins, so
// sending to an address is a pointer dereference, not a lookup.
//
// Lifetime: reference-counted. A live actor holds one reference to itself,
// dropped after its final turn; address handles, envelopes (their sender),
// children lists, timers and the parent link hold the others. Only the actor's
// own turn (one worker at a time) touches the fields marked "turn-only".
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "daemon/common/mutex.h"
#include "daemon/runtime/envelope.h"
#include "daemon/runtime/mailbox.h"
#include "daemon/runtime/requirements.h"
#include "troupe/abi.h"

struct troupe_address_s {};    // the opaque ABI handle type is a Cell
struct troupe_actor_ctx_s {};  // so is the actor context

namespace troupe::runtime {

class ActorClass;
class ActorSystem;

enum class CellState : uint8_t {
  kNew,       // created, instance not made yet; messages queue
  kRunning,   // handling messages
  kExiting,   // exit handled; waiting for children to exit
  kExited,    // mailbox closed; every later message is a dead letter
  kTombstone,  // a handle to an address that no longer (or never) existed here
  kRemote      // stands for an actor of another node: its (closed) mailbox forwards (remote.cc)
};

class RemoteRegistry;  // remote.cc

// A child being placed on another daemon (placement.cc): until it is placed,
// the remote cell standing for it prints as an address of this node
// (troupe://<this node>/<alias_id>) and keeps the mail sent to it, in order.
struct PendingPlacement {
  enum class State : uint8_t { kPlacing, kFlushing, kPlaced, kFailed };
  uint64_t alias_id = 0;
  // RemoteIdentity's node and remote_id are set (release): print those.
  std::atomic<bool> placed{false};
  // Placed and every kept message sent on: sends go straight out.
  std::atomic<bool> settled{false};
  troupe::Mutex mu;
  State state ABSL_GUARDED_BY(mu) = State::kPlacing;
  std::string failure ABSL_GUARDED_BY(mu);  // why, once kFailed
  std::vector<Message> kept ABSL_GUARDED_BY(mu);
};

// What a remote cell stands for: actor `remote_id` of daemon `node`. Set
// before the cell is shared, except for a pending placement's, which are set
// once under the registry's mutex before `pending->placed`; only the mutable
// fields change otherwise.
struct RemoteIdentity {
  std::string node;
  uint64_t remote_id = 0;
  // Set for a child being placed (ActorSystem::CreateChild); null otherwise.
  std::unique_ptr<PendingPlacement> pending;
  // Keeps the registry alive for ~Cell, which removes the cell from it.
  std::shared_ptr<RemoteRegistry> registry;
  // Set once the local parent was told that the remote actor exited (by its
  // own ChildActorExited or by ActorSystem::NodeLost): exactly one notice.
  mutable std::atomic<bool> exit_noticed{false};
  // The local parent that adopted it (ActorSystem::AdoptRemoteChild), retained;
  // guarded by the registry's mutex.
  mutable Cell* adopted_by = nullptr;
};

// Called once for a reply slot (ActorSystem::OpenReplySlot): with the first
// message sent to it, or DeadlineExceeded, or Cancelled when the system asked
// it to exit (shutdown). Runs on the sender's thread: it must not block.
using ReplyHandler = absl::AnyInvocable<void(absl::StatusOr<Message>)>;

// A one-shot reply address (reply_slots.cc). Whoever sets `closed` owns
// `handler`: it runs it (a reply, the deadline) or drops it (CloseReplySlot).
struct ReplySlot {
  std::atomic<bool> closed{false};
  ReplyHandler handler;
};

class Cell final : public troupe_address_s, public troupe_actor_ctx_s {
 public:
  Cell(ActorSystem* system, uint64_t id, const ActorClass* actor_class, Cell* parent);
  ~Cell();
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;

  void Retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Release() { ReleaseMany(1); }
  // Retains unless the count already reached zero (the cell is being
  // destroyed): for registries that hold a cell without a reference.
  bool TryRetain() {
    int64_t n = refs_.load(std::memory_order_relaxed);
    while (n > 0) {
      if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  // Drops `n` references at once (a turn batches the releases of its
  // messages' senders, so a busy sender's count does not bounce between cores).
  void ReleaseMany(int64_t n) {
    if (refs_.fetch_sub(n, std::memory_order_acq_rel) == n) delete this;
  }

  static Cell* FromAddress(troupe_address_t a) { return static_cast<Cell*>(a); }
  static Cell* FromContext(troupe_actor_ctx_t* c) { return static_cast<Cell*>(c); }
  troupe_address_t address() { return this; }
  troupe_actor_ctx_t* context() { return this; }

  uint64_t id() const { return id_; }
  ActorSystem* system() const { return system_; }
  const ActorClass* actor_class() const { return class_; }
  Cell* parent() const { return parent_; }
  CellState state() const { return state_.load(std::memory_order_acquire); }
  const std::string* global_name() const { return global_name_.get(); }
  // Non-null for a remote cell (state kRemote).
  const RemoteIdentity* remote() const { return remote_.get(); }
  // True for a reply slot (ActorSystem::OpenReplySlot), open or closed.
  bool is_reply_slot() const { return reply_slot_ != nullptr; }

  Mailbox& mailbox() { return mailbox_; }
  const Mailbox& mailbox() const { return mailbox_; }

  // Counters, readable from any thread.
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  uint32_t pending_wakeups() const { return pending_wakeups_.load(std::memory_order_relaxed); }

  // Turn-only: the text a plugin attached to its current failure.
  void ClearError() { error_.clear(); }
  void SetError(std::string_view text) { error_.assign(text); }
  // Turn-only (the turn is the only writer, so no read-modify-write).
  void NoteSent() { sent_.store(sent_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  // Turn-only: a call into the actor's plugin code ended; sends it batched
  // leave now (ActorSystem::SendFromCode, send_batch.cc).
  inline void EndCodeCall();
  // Turn-only: the sends batched so far leave now (a host call that may
  // deliver on the actor's behalf comes first).
  inline void FlushBatchedSends();
  void RequestExitAfterTurn() { exit_after_turn_ = true; }
  void KeepChildrenOnExit() { exit_recursive_ = false; }
  const std::string& error() const { return error_; }

  // The actor wrote a log line (actor_logs.h).
  void MarkLogged() { logged_.store(true, std::memory_order_relaxed); }

 private:
  friend class ActorSystem;
  friend class Turn;

  // Hot fields first: the mailbox is written by every sender.
  Mailbox mailbox_;
  std::atomic<int64_t> refs_{1};
  ActorSystem* const system_;
  const uint64_t id_;
  const ActorClass* class_;   // not owned; outlives the cell
  Cell* const parent_;        // retained until ~Cell, or nullptr
  void* instance_ = nullptr;  // turn-only
  std::atomic<CellState> state_{CellState::kNew};
  bool exit_after_turn_ = false;    // turn-only: exit_self was called
  bool exit_recursive_ = true;      // turn-only
  bool notify_parent_ = true;       // ChildActorExited not sent yet
  bool in_parent_children_ = true;  // named actors are not
  uint32_t children_awaited_ = 0;   // turn-only, while kExiting
  Cell* pool_manager_ = nullptr;    // retained when this is a pool member
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint32_t> pending_wakeups_{0};
  mutable troupe::Mutex children_mu_;  // writers: the actor's turn; readers: status
  absl::flat_hash_set<Cell*> children_ ABSL_GUARDED_BY(children_mu_);  // each retained
  std::unique_ptr<std::string> global_name_;  // set before the cell is shared
  std::atomic<bool> has_bound_names_{false};  // BindGlobalName named it (under names_mu_)
  std::string error_;                         // turn-only: report_error text
  // Turn-only, within one call into plugin code (send_batch.cc): the target
  // of the last send (compared, never dereferenced), and the batch of sends
  // to `batch_target_` (retained while the batch is not empty), a chain from
  // the newest message to the oldest.
  Cell* last_send_target_ = nullptr;
  Cell* batch_target_ = nullptr;
  Envelope* batch_newest_ = nullptr;
  Envelope* batch_oldest_ = nullptr;
  uint32_t batch_count_ = 0;
  std::unique_ptr<RemoteIdentity> remote_;    // set before the cell is shared
  std::unique_ptr<ReplySlot> reply_slot_;     // set before the cell is shared
  // Capabilities (capabilities.cc): the requirements it was created with, when
  // any (set before the cell is shared), re-checked after capability changes.
  std::unique_ptr<ActorRequirements> requirements_;
  // In ActorSystem's convention subscribers (convention_events.cc); set under
  // children_mu_ while live, so Finalize sees it (as has_bound_names_).
  std::atomic<bool> convention_subscribed_{false};
  // Set by its first log line (MarkLogged): Finalize then keeps the actor's
  // log ring among the exited ones.
  std::atomic<bool> logged_{false};
};

}  // namespace troupe::runtime
