// mailbox.h - a lock-free multi-producer, single-consumer mailbox that also
// tells producers when the actor must be scheduled.
//
// Producers push onto an atomic LIFO stack with one compare-and-swap. The
// consumer takes the whole stack at once and reverses it into a private FIFO
// list, so messages from one producer keep their order. When the consumer
// finds nothing it marks the mailbox "blocked"; the next producer sees the
// mark, clears it and learns it must schedule the actor. Closing the mailbox
// makes every later push fail, so a message is either handled or returned to
// its producer as undeliverable, never lost.
#pragma once

#include <atomic>
#include <cstdint>

#include "daemon/runtime/envelope.h"

namespace troupe::runtime {

class Mailbox {
 public:
  enum class PushResult { kQueued, kQueuedAndUnblocked, kClosed };

  // The mailbox starts open and not blocked: the owner is about to run.
  Mailbox() = default;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;
  ~Mailbox();  // frees messages still queued

  // Any thread. On kClosed the caller keeps ownership of `e`.
  PushResult Push(Envelope* e) { return PushChain(e, e, 1); }

  // Any thread. Pushes `count` messages at once: `newest` links through
  // `next` to `oldest` (newest first, as the stack holds them), so they are
  // taken in order oldest to newest. On kClosed the caller keeps the chain.
  PushResult PushChain(Envelope* newest, Envelope* oldest, uint64_t count) {
    Envelope* head = head_.load(std::memory_order_relaxed);
    for (;;) {
      if (head == Closed()) return PushResult::kClosed;
      oldest->next = head == Blocked() ? nullptr : head;
      if (head_.compare_exchange_weak(head, newest, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        pushed_.fetch_add(count, std::memory_order_relaxed);
        return head == Blocked() ? PushResult::kQueuedAndUnblocked : PushResult::kQueued;
      }
    }
  }

  // Consumer only. Returns the oldest message, or nullptr when none is queued.
  Envelope* Pop() {
    if (cache_ == nullptr) {
      if (head_.load(std::memory_order_relaxed) == nullptr) return nullptr;
      cache_ = Reverse(head_.exchange(nullptr, std::memory_order_acquire));
      if (cache_ == nullptr) return nullptr;
    }
    Envelope* e = cache_;
    cache_ = e->next;
    e->next = nullptr;
    popped_.store(popped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return e;
  }

  // Consumer only. Marks the mailbox blocked if it is empty; returns false
  // when a message arrived meanwhile (the consumer must go on).
  bool TryBlock() {
    if (cache_ != nullptr) return false;
    Envelope* expected = nullptr;
    return head_.compare_exchange_strong(expected, Blocked(), std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
  }

  // Consumer only. Closes the mailbox and returns what was still queued, in
  // order, as a linked list (ownership passes to the caller).
  Envelope* Close();

  bool closed() const { return head_.load(std::memory_order_acquire) == Closed(); }
  // Messages pushed and not yet taken; approximate while producers push.
  uint64_t depth() const {
    uint64_t pushed = pushed_.load(std::memory_order_relaxed);
    uint64_t popped = popped_.load(std::memory_order_relaxed);
    return pushed > popped ? pushed - popped : 0;
  }
  uint64_t pushed() const { return pushed_.load(std::memory_order_relaxed); }

  // Reverses a LIFO stack of envelopes (linked through `next`, ending in
  // nullptr) into FIFO order.
  static Envelope* Reverse(Envelope* stack) {
    Envelope* fifo = nullptr;
    while (stack != nullptr) {
      Envelope* next = stack->next;
      stack->next = fifo;
      fifo = stack;
      stack = next;
    }
    return fifo;
  }
 private:
  static Envelope* Blocked() { return reinterpret_cast<Envelope*>(uintptr_t{1}); }
  static Envelope* Closed() { return reinterpret_cast<Envelope*>(uintptr_t{2}); }

  std::atomic<Envelope*> head_{nullptr};
  std::atomic<uint64_t> pushed_{0};
  Envelope* cache_ = nullptr;        // consumer-private FIFO
  std::atomic<uint64_t> popped_{0};  // written by the consumer only
};

}  // namespace troupe::runtime
