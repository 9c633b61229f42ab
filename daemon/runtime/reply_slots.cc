// reply_slots.cc - one-shot reply addresses (ActorSystem::OpenReplySlot).
//
// A reply slot is a registered cell (so it prints as an address and a reply
// from another daemon finds it by id) whose mailbox is closed from the start:
// Deliver's closed-mailbox branch hands the first message straight to the
// slot's handler on the sender's thread, instead of scheduling a turn of a
// reply actor. Its deadline is a timer entry like a wakeup. Exactly one of
// the reply, the deadline, a shutdown's exit request and CloseReplySlot wins
// `closed`; the winner unregisters the slot and drops its self reference.
#include "daemon/runtime/actor_class.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/system_internal.h"

namespace troupe::runtime {

namespace {
constexpr std::string_view kReplySlotClass = "ask";
}  // namespace

ActorRef ActorSystem::OpenReplySlot(ReplyHandler on_reply, absl::Duration timeout) {
  auto* cell = new Cell(this, NextId(), NativeClassNamed(kReplySlotClass), nullptr);
  cell->notify_parent_ = false;
  cell->in_parent_children_ = false;
  cell->reply_slot_ = std::make_unique<ReplySlot>();
  cell->reply_slot_->handler = std::move(on_reply);
  Message::Adopt(cell->mailbox_.Close()).Reset();  // nothing queued: Close returns null
  cell->state_.store(CellState::kRunning, std::memory_order_release);
  Register(cell);
  ActorRef ref = ActorRef::Share(cell);
  if (shut_down_.load(std::memory_order_acquire)) {
    // No deadline would fire (the timer thread may be gone), and Shutdown's
    // scans may have passed: the ask ends here.
    EndReplySlot(cell, absl::CancelledError("the actor system is shutting down"),
                 /*deadline_queued=*/false);
    return ref;
  }
  AddTimer(clock_->Now() + timeout, cell, Message::Make(TROUPE_MSG_WAKEUP, "", cell));
  return ref;
}

void ActorSystem::AnswerReplySlot(Cell* slot, Message message) {
  if (slot->reply_slot_->closed.load(std::memory_order_acquire)) {
    DeadLetter(slot, std::move(message));
    return;
  }
  if (message.kind() == MessageKind::kExitRequest) {
    EndReplySlot(slot,
                 absl::CancelledError(shut_down_.load(std::memory_order_acquire)
                                          ? "the actor system is shutting down"
                                          : "the reply address was asked to exit"),
                 /*deadline_queued=*/true);
    return;
  }
  EndReplySlot(slot, std::move(message), /*deadline_queued=*/true);
}

void ActorSystem::EndReplySlot(Cell* slot, absl::StatusOr<Message> result, bool deadline_queued) {
  ReplySlot& reply = *slot->reply_slot_;
  if (reply.closed.exchange(true, std::memory_order_acq_rel)) {
    if (result.ok()) DeadLetter(slot, *std::move(result));  // a second reply
    return;
  }
  ReplyHandler handler = std::move(reply.handler);
  ActorRef keep = ActorRef::Share(slot);  // the self reference goes below
  FinishReplySlot(slot, deadline_queued);
  // The handler is daemon code even when a bundle's send runs it inline.
  BundleCodeScope daemon_code(nullptr);
  handler(std::move(result));
}

bool ActorSystem::CloseReplySlot(Cell* slot) {
  if (slot == nullptr || !slot->is_reply_slot()) return false;
  if (slot->reply_slot_->closed.exchange(true, std::memory_order_acq_rel)) return false;
  ReplyHandler handler = std::move(slot->reply_slot_->handler);
  ActorRef keep = ActorRef::Share(slot);
  FinishReplySlot(slot, /*deadline_queued=*/true);
  return true;  // `handler` (and what it holds) goes here, unrun
}

void ActorSystem::FinishReplySlot(Cell* slot, bool deadline_queued) {
  slot->state_.store(CellState::kExited, std::memory_order_release);
  Unregister(slot);
  if (deadline_queued) timers_.NoteStale();  // its entry now waits for nothing
  slot->Release();                           // the self reference
}

}  // namespace troupe::runtime
