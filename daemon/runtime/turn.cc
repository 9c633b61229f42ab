// turn.cc - one actor turn: start, dispatch, the retry/poison rule, the exit
// protocol, parking a sender over a peer's bound, and finalizing an actor.
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
// Turns

namespace {
// The system whose actor is running on this thread (for address_parse,
// which has no context argument). Defined here, next to its only writer: a
// thread_local of another file is reached through a call.
thread_local ActorSystem* current_system = nullptr;

// Runs `fn` with current_system set, restoring the previous value.
struct CurrentSystemScope {
  explicit CurrentSystemScope(ActorSystem* s) : previous(current_system) { current_system = s; }
  ~CurrentSystemScope() { current_system = previous; }
  ActorSystem* previous;
};

// The watch of this thread's client (OutboxPressureWatch), if any.
thread_local OutboxPressureWatch* current_pressure = nullptr;

// What the running turn's sends found (NoteOutboxFull): kept per thread
// rather than made per turn, so a turn pays one store for it.
struct TurnPressure {
  bool full = false;
  std::string node;
};
thread_local TurnPressure turn_pressure;

}  // namespace

OutboxPressureWatch::OutboxPressureWatch() : previous_(current_pressure) {
  current_pressure = this;
}

OutboxPressureWatch::~OutboxPressureWatch() { current_pressure = previous_; }

void ActorSystem::NoteOutboxFull(std::string_view node) {
  if (OutboxPressureWatch* watch = current_pressure; watch != nullptr) {
    if (watch->full_) return;
    watch->full_ = true;
    watch->node_.assign(node.data(), node.size());
    return;
  }
  if (current_system == nullptr || turn_pressure.full) return;  // not in a turn
  turn_pressure.full = true;
  turn_pressure.node.assign(node.data(), node.size());
}

ActorSystem* CurrentSystemForHost() { return current_system; }

// The per-turn logic, kept together: start, dispatch, failure, exit.
class Turn {
 public:
  Turn(ActorSystem* system, Cell* cell) : system_(system), cell_(cell) {}

  // Makes the instance. False when creation failed (the cell is finalized).
  bool Start() {
    absl::StatusOr<void*> instance;
    {
      HandlerWatchScope watched(system_->handler_watch_.get(), "(constructor)");
      instance = cell_->class_->Create(cell_);
    }
    if (!instance.ok()) {
      std::string reason = troupe::StrCat("actor class '", cell_->class_->name(),
                                          "' failed to start: ", instance.status().message());
      LogWarning(system_->FormatAddress(cell_), ": ", reason);
      create_failed_ = true;
      system_->Finalize(cell_, reason);
      return false;
    }
    cell_->instance_ = *instance;
    cell_->state_.store(CellState::kRunning, std::memory_order_release);
    return true;
  }

  void Dispatch(Message& m) {
    switch (m.kind()) {
      case MessageKind::kSync:
        if (m.sender() != nullptr) {
          system_->Deliver(m.sender(), Message::Make(kSyncReplyType, m.payload(), cell_));
        }
        return;
      case MessageKind::kExitRequest:
        HandleExitRequest(m);
        return;
      case MessageKind::kChildExited:
        if (HandleChildExited(m)) return;
        break;
      default:
        if (cell_->state() == CellState::kExiting) {
          // Thespian drops these silently; we keep them visible.
          system_->DeadLetter(cell_, std::move(m));
          return;
        }
        break;
    }
    const bool pool_work = m.pool_work() && cell_->pool_manager_ != nullptr;
    Receive(m);
    if (cell_->exit_after_turn_ && cell_->state() == CellState::kRunning) BeginExit();
    if (pool_work && cell_->state() == CellState::kRunning) {
      system_->Deliver(cell_->pool_manager_,
                       Message::Make("troupe.internal.PoolMemberReady", "", cell_));
    }
  }

 private:
  // Delivers to the handler: on failure retries once (after a restart when
  // the class asks for it), then returns a PoisonMessage to the sender.
  void Receive(Message& m) {
    absl::Status status = Call(m);
    if (status.ok()) return;
    NoteFailure(m, status, /*will_retry=*/true);
    if (cell_->class_->failure_policy() == TROUPE_FAILURE_RESTART) {
      if (!Restart()) {
        // A PoisonMessage is never answered with another one.
        if (m && m.kind() != MessageKind::kPoison) {
          system_->SendPoison(cell_, std::move(m), "actor could not be restarted");
        }
        return;
      }
    }
    status = Call(m);
    if (status.ok()) return;
    NoteFailure(m, status, /*will_retry=*/false);
    if (!m) return;
    if (m.kind() == MessageKind::kPoison) {
      LogWarning(system_->FormatAddress(cell_), " failed twice on a PoisonMessage; dropping it");
      return;
    }
    system_->SendPoison(cell_, std::move(m), std::string(status.message()));
  }

  absl::Status Call(Message& m) {
    cell_->error_.clear();
    HandlerWatchScope watched(system_->handler_watch_.get(), m.type());
    return cell_->class_->Receive(cell_->instance_, cell_, m);
  }

  void NoteFailure(const Message& m, const absl::Status& status, bool will_retry) {
    cell_->failed_.fetch_add(1, std::memory_order_relaxed);
    system_->handler_failures_.fetch_add(1, std::memory_order_relaxed);
    LogWarning(system_->FormatAddress(cell_), " (", cell_->class_->name(), ") failed on '",
               m ? m.type() : std::string_view("?"), "': ", status.message(),
               will_retry ? "; retrying once" : "; returning a PoisonMessage");
  }

  bool Restart() {
    cell_->class_->Destroy(cell_->instance_);
    cell_->EndCodeCall();  // a destructor may send
    cell_->instance_ = nullptr;
    absl::StatusOr<void*> instance = cell_->class_->Create(cell_);
    if (!instance.ok()) {
      system_->Finalize(cell_, troupe::StrCat("restart failed: ", instance.status().message()));
      return false;
    }
    cell_->instance_ = *instance;
    return true;
  }

  void HandleExitRequest(Message& m) {
    if (cell_->state() != CellState::kRunning) return;  // already exiting
    cell_->exit_recursive_ = m.payload().empty() || m.payload()[0] != 0;
    absl::Status status = Call(m);  // the handler may clean up; it cannot refuse
    if (!status.ok()) {
      LogWarning(system_->FormatAddress(cell_),
                 " failed handling ActorExitRequest (exiting anyway): ", status.message());
    }
    BeginExit();
  }

  // True when the notice was consumed by the exit protocol.
  bool HandleChildExited(Message& m) {
    Cell* child = m.sender();
    bool was_child = false;
    if (child != nullptr) {
      troupe::MutexLock lock(&cell_->children_mu_);
      was_child = cell_->children_.erase(child) > 0;
    }
    if (was_child) child->Release();
    if (cell_->state() == CellState::kExiting) {
      if (was_child && --cell_->children_awaited_ == 0) system_->Finalize(cell_, "");
      return true;
    }
    return false;
  }

  void BeginExit() {
    if (cell_->state() != CellState::kRunning) return;
    std::vector<Cell*> children;
    {
      // Under the lock that CreateInternal takes to add a child, so no child
      // can be added after this snapshot without seeing kExiting.
      troupe::MutexLock lock(&cell_->children_mu_);
      if (cell_->exit_recursive_ && !cell_->children_.empty()) {
        children.assign(cell_->children_.begin(), cell_->children_.end());
        cell_->state_.store(CellState::kExiting, std::memory_order_release);
      }
    }
    if (children.empty()) {
      system_->Finalize(cell_, "");
      return;
    }
    cell_->children_awaited_ = static_cast<uint32_t>(children.size());
    for (Cell* child : children) {
      // A child that already exited has its notice on the way: just await it.
      if (child->state() == CellState::kExited) continue;
      system_->Deliver(child, Message::Make(TROUPE_MSG_EXIT_REQUEST, "\x01", cell_));
    }
  }

  ActorSystem* system_;
  Cell* cell_;
  bool create_failed_ = false;
};

bool ActorSystem::RunTurn(Cell* cell) {
  CurrentSystemScope scope(this);
  turn_pressure.full = false;
  Turn turn(this, cell);
  if (cell->state() == CellState::kNew && !turn.Start()) {
    cell->Release();  // the self reference
    return false;
  }
  // Sender references of handled messages are released in runs: one
  // atomic operation per run of messages from the same sender.
  Cell* held_sender = nullptr;
  int64_t held_count = 0;
  auto release_held = [&] {
    if (held_sender != nullptr) held_sender->ReleaseMany(held_count);
    held_sender = nullptr;
    held_count = 0;
  };
  int quota = deterministic_ != nullptr ? 1 : options_.throughput_quota;
  for (int i = 0; i < quota; ++i) {
    Envelope* e = cell->mailbox_.Pop();
    if (e == nullptr) {
      release_held();
      if (cell->mailbox_.TryBlock()) return false;  // another thread may own the cell now
      continue;
    }
    Message m = Message::Adopt(e);
    turn.Dispatch(m);
    if (m) {
      if (Cell* sender = m.DetachSender(); sender != nullptr) {
        if (sender != held_sender) {
          release_held();
          held_sender = sender;
        }
        ++held_count;
      }
    }
    if (cell->state() == CellState::kExited) {
      release_held();
      cell->Release();  // the self reference
      return false;
    }
    if (turn_pressure.full) {
      // The mailbox stays unblocked, so no sender schedules the actor: the
      // transport does once the outbox drains. The cell may run on another
      // worker as soon as ParkUntilRoom returns true: nothing touches it after.
      release_held();
      turn_pressure.full = false;
      if (ParkUntilRoom(cell, turn_pressure.node)) return false;
    }
  }
  release_held();
  return !cell->mailbox_.TryBlock();
}

void ActorSystem::Finalize(Cell* cell, std::string_view reason) {
  bool create_failed = cell->state() == CellState::kNew;
  // Children still listed (left running by a non-recursive exit) no longer
  // report to this cell; drop the references, or parent and child would keep
  // each other alive forever.
  std::vector<Cell*> children;
  {
    troupe::MutexLock lock(&cell->children_mu_);
    cell->state_.store(CellState::kExited, std::memory_order_release);
    children.assign(cell->children_.begin(), cell->children_.end());
    cell->children_.clear();
  }
  for (Cell* child : children) child->Release();
  if (cell->logged_.load(std::memory_order_relaxed)) actor_logs_.Exited(FormatAddress(cell));
  Unregister(cell);
  if (cell->convention_subscribed_.load(std::memory_order_relaxed)) {
    ForgetConventionSubscriber(cell);  // set under children_mu_: see convention_events.cc
  }
  if (cell->pending_wakeups() > 0) {
    cell->pending_wakeups_.store(0, std::memory_order_relaxed);
    timers_.RemoveFor(cell);  // pending wakeups die with the actor
  }
  if (cell->instance_ != nullptr) {
    cell->class_->Destroy(cell->instance_);
    cell->EndCodeCall();  // a destructor may send
    cell->instance_ = nullptr;
  }
  ReleaseLibrary(cell->class_->library());  // no more calls into its code
  // Everything still queued: returned as poison when the actor never
  // started (Thespian's "Child Aborted"), dead letters otherwise.
  Envelope* rest = cell->mailbox_.Close();
  while (rest != nullptr) {
    Envelope* next = rest->next;
    Message m = Message::Adopt(rest);
    if (create_failed && m.kind() != MessageKind::kExitRequest &&
        m.kind() != MessageKind::kPoison) {
      SendPoison(cell, std::move(m), reason);
    } else if (m.kind() != MessageKind::kWakeup) {
      DeadLetter(cell, std::move(m));
    }
    rest = next;
  }
  if (cell->notify_parent_ && cell->parent_ != nullptr) {
    cell->notify_parent_ = false;
    std::string payload;
    wire::AppendField(&payload, FormatAddress(cell));
    wire::AppendField(&payload, reason);
    Deliver(cell->parent_, Message::Make(TROUPE_MSG_CHILD_EXITED, payload, cell));
  }
  if (live_actors_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    troupe::MutexLock lock(&live_mu_);
    live_cv_.SignalAll();
  }
}

}  // namespace troupe::runtime
