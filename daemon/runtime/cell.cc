#include "daemon/runtime/cell.h"

namespace troupe::runtime {

void ForgetRemoteCell(Cell* cell);  // remote.cc

Cell::Cell(ActorSystem* system, uint64_t id, const ActorClass* actor_class, Cell* parent)
    : system_(system), id_(id), class_(actor_class), parent_(parent) {
  if (parent_ != nullptr) parent_->Retain();
}

Cell::~Cell() {
  if (remote_ != nullptr) ForgetRemoteCell(this);
  {
    troupe::MutexLock lock(&children_mu_);
    for (Cell* child : children_) child->Release();
    children_.clear();
  }
  if (pool_manager_ != nullptr) pool_manager_->Release();
  if (parent_ != nullptr) parent_->Release();
}

}  // namespace troupe::runtime
