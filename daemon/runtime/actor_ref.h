// actor_ref.h - a counted reference to an actor (a Cell), for C++ code in the
// daemon and in tests. Plugins use troupe_address_t through the host table.
#pragma once

#include <utility>

#include "daemon/runtime/cell.h"

namespace troupe::runtime {

// Copyable value. Null by default. Thread-safe like a shared_ptr.
class ActorRef {
 public:
  ActorRef() = default;
  // Adopts a reference the caller already owns.
  static ActorRef Adopt(Cell* cell) { return ActorRef(cell); }
  // Takes a new reference.
  static ActorRef Share(Cell* cell) {
    if (cell != nullptr) cell->Retain();
    return ActorRef(cell);
  }
  ActorRef(const ActorRef& o) : cell_(o.cell_) {
    if (cell_ != nullptr) cell_->Retain();
  }
  ActorRef(ActorRef&& o) noexcept : cell_(std::exchange(o.cell_, nullptr)) {}
  ActorRef& operator=(ActorRef o) noexcept {
    std::swap(cell_, o.cell_);
    return *this;
  }
  ~ActorRef() {
    if (cell_ != nullptr) cell_->Release();
  }

  Cell* get() const { return cell_; }
  Cell* operator->() const { return cell_; }
  explicit operator bool() const { return cell_ != nullptr; }
  // Gives up the reference without releasing it.
  Cell* Leak() { return std::exchange(cell_, nullptr); }
  bool operator==(const ActorRef& o) const { return cell_ == o.cell_; }

 private:
  explicit ActorRef(Cell* cell) : cell_(cell) {}
  Cell* cell_ = nullptr;
};

}  // namespace troupe::runtime
