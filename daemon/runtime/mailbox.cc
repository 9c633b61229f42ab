#include "daemon/runtime/mailbox.h"

namespace troupe::runtime {

Mailbox::~Mailbox() {
  Envelope* rest = Close();
  while (rest != nullptr) {
    Envelope* next = rest->next;
    Message::Adopt(rest).Reset();
    rest = next;
  }
}

Envelope* Mailbox::Close() {
  Envelope* stack = head_.exchange(Closed(), std::memory_order_acq_rel);
  if (stack == Closed() || stack == Blocked()) stack = nullptr;
  Envelope* fifo = Reverse(stack);
  // Cached (older) messages come first.
  if (cache_ == nullptr) return fifo;
  Envelope* tail = cache_;
  while (tail->next != nullptr) tail = tail->next;
  tail->next = fifo;
  Envelope* all = cache_;
  cache_ = nullptr;
  return all;
}

}  // namespace troupe::runtime
