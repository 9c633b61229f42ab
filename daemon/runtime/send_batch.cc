// send_batch.cc - sends from plugin code batched per target within one call
// into the library (ActorSystem::SendFromCode in actor_system.h).
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/cell.h"

namespace troupe::runtime {

void ActorSystem::BatchSend(Cell* self, Cell* target, Message message) {
  if (self->batch_count_ != 0) {
    if (self->batch_target_ == target) {
      Envelope* e = message.Release();
      e->next = self->batch_newest_;
      self->batch_newest_ = e;
      if (++self->batch_count_ == kSendBatch) FlushSendBatch(self);
      return;
    }
    FlushSendBatch(self);
  }
  // A second send in a row to an ordinary local actor starts a batch; the
  // target is retained, as the code may release its address before the
  // batch leaves. A remote cell or a reply slot never changes into one.
  if (self->last_send_target_ == target && target->state() != CellState::kRemote &&
      !target->is_reply_slot()) {
    target->Retain();
    Envelope* e = message.Release();
    e->next = nullptr;
    self->batch_target_ = target;
    self->batch_newest_ = e;
    self->batch_oldest_ = e;
    self->batch_count_ = 1;
    return;
  }
  self->last_send_target_ = target;
  Deliver(target, std::move(message));
}

void ActorSystem::FlushSendBatch(Cell* self) {
  Cell* target = self->batch_target_;
  Envelope* newest = self->batch_newest_;
  Envelope* oldest = self->batch_oldest_;
  const uint32_t count = self->batch_count_;
  self->batch_target_ = nullptr;
  self->batch_newest_ = nullptr;
  self->batch_oldest_ = nullptr;
  self->batch_count_ = 0;
  switch (target->mailbox_.PushChain(newest, oldest, count)) {
    case Mailbox::PushResult::kQueued:
      break;
    case Mailbox::PushResult::kQueuedAndUnblocked:
      executor_->Schedule(target);
      break;
    case Mailbox::PushResult::kClosed: {
      // The target exited meanwhile: each message, oldest first, takes the
      // path of a single send to a closed mailbox (a dead letter).
      oldest->next = nullptr;  // a failed attempt may have linked it
      Envelope* oldest_first = Mailbox::Reverse(newest);
      while (oldest_first != nullptr) {
        Envelope* next = oldest_first->next;
        oldest_first->next = nullptr;
        Deliver(target, Message::Adopt(oldest_first));
        oldest_first = next;
      }
      break;
    }
  }
  target->Release();
}

}  // namespace troupe::runtime
