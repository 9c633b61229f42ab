// pool.h - pools ("troupes" in Thespian): one address fronting up to
// max_count instances of a class, idle_count of them kept warm. Work goes to
// an idle member, or to a new member while fewer than max_count exist, or
// waits in a FIFO queue. Unlike Thespian, no message is dropped for being
// empty, and members receive their own wakeups (they have addresses of their
// own, which is also the sender of their replies).
//
// Settings change at run time with TROUPE_MSG_POOL_SETTINGS; the manager
// answers with the values in effect. A member idle beyond idle_count is told
// to exit at once (Thespian waits 2 s; with no timer there is nothing to
// tune and nothing to race).
#pragma once

#include "daemon/runtime/actor_class.h"

namespace troupe::runtime {

// The class of a pool's manager. One per pooled class; thread-safe.
class PoolManagerClass final : public ActorClass {
 public:
  explicit PoolManagerClass(const ActorClass* member_class);
  std::string_view name() const override { return name_; }
  absl::StatusOr<void*> Create(Cell* cell) const override;
  absl::Status Receive(void* instance, Cell* cell, Message& message) const override;
  void Destroy(void* instance) const override;
  const void* library() const override { return member_class_->library(); }
  const ActorClass* member_class() const { return member_class_; }

 private:
  const ActorClass* member_class_;
  std::string name_;
};

}  // namespace troupe::runtime
