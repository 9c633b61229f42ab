#include "daemon/runtime/pool.h"

#include <algorithm>
#include <deque>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/actor_system.h"
#include "troupe/wire.h"

namespace troupe::runtime {

struct PoolState {
  Cell* manager;  // not retained: the state dies with it
  uint32_t max_count;
  uint32_t idle_count;
  std::vector<ActorRef> idle;  // most recently idle last
  std::vector<ActorRef> busy;
  std::deque<Message> waiting;  // work queued while every member is busy
};

namespace {

void Erase(std::vector<ActorRef>* v, Cell* cell) {
  v->erase(std::remove_if(v->begin(), v->end(), [&](const ActorRef& r) { return r.get() == cell; }),
           v->end());
}

}  // namespace

PoolManagerClass::PoolManagerClass(const ActorClass* member_class)
    : member_class_(member_class), name_(troupe::StrCat(member_class->name(), " (pool)")) {}

absl::StatusOr<void*> PoolManagerClass::Create(Cell* cell) const {
  return new PoolState{
      cell, member_class_->pool_max_count(), member_class_->pool_idle_count(), {}, {}, {}};
}

void PoolManagerClass::Destroy(void* instance) const {
  auto* state = static_cast<PoolState*>(instance);
  // Queued work still belongs to someone: put it back in the manager's
  // mailbox, which the runtime closes right after this, turning every
  // message in it into a dead letter.
  for (Message& m : state->waiting) state->manager->system()->Deliver(state->manager, std::move(m));
  delete state;
}

absl::Status PoolManagerClass::Receive(void* instance, Cell* cell, Message& message) const {
  auto* state = static_cast<PoolState*>(instance);
  ActorSystem* system = cell->system();
  switch (message.kind()) {
    case MessageKind::kPoolMemberReady: {
      Cell* member = message.sender();
      // A member reports ready after every message it handles, including
      // replies and other non-work messages it gets while idle; only a member
      // we gave work to is becoming free.
      auto busy_it = std::find_if(state->busy.begin(), state->busy.end(),
                                  [&](const ActorRef& r) { return r.get() == member; });
      if (busy_it == state->busy.end()) return absl::OkStatus();
      state->busy.erase(busy_it);
      if (!state->waiting.empty()) {
        state->waiting.front().MarkPoolWork();
        system->Deliver(member, std::move(state->waiting.front()));
        state->waiting.pop_front();
        state->busy.push_back(ActorRef::Share(member));
      } else if (state->idle.size() >= state->idle_count) {
        (void)system->RequestExit(ActorRef::Share(member));  // beyond the warm set
      } else {
        state->idle.push_back(ActorRef::Share(member));
      }
      return absl::OkStatus();
    }
    case MessageKind::kChildExited:
      Erase(&state->idle, message.sender());
      Erase(&state->busy, message.sender());
      return absl::OkStatus();
    case MessageKind::kPoolSettings: {
      std::string_view in = message.payload();
      uint32_t max_count = 0, idle_count = 0;
      if (!wire::ReadU32(&in, &max_count) || !wire::ReadU32(&in, &idle_count) || max_count < 1) {
        return absl::InvalidArgumentError(
            "pool settings need uint32 max_count >= 1 and uint32 idle_count");
      }
      state->max_count = max_count;
      state->idle_count = std::min(idle_count, max_count);
      while (state->idle.size() > state->idle_count) {
        (void)system->RequestExit(state->idle.front());
        state->idle.erase(state->idle.begin());
      }
      if (message.sender() != nullptr) {
        std::string reply;
        wire::AppendU32(&reply, state->max_count);
        wire::AppendU32(&reply, state->idle_count);
        system->Deliver(message.sender(), Message::Make(TROUPE_MSG_POOL_SETTINGS, reply, cell));
      }
      return absl::OkStatus();
    }
    default:
      break;
  }
  // Work: an idle member, else a new member, else the queue.
  if (!state->idle.empty()) {
    ActorRef member = std::move(state->idle.back());
    state->idle.pop_back();
    message.MarkPoolWork();
    system->Deliver(member.get(), std::move(message));
    state->busy.push_back(std::move(member));
    return absl::OkStatus();
  }
  if (state->busy.size() < state->max_count) {
    absl::StatusOr<ActorRef> member = system->CreatePoolMember(cell, member_class_);
    if (!member.ok()) return member.status();
    message.MarkPoolWork();
    system->Deliver(member->get(), std::move(message));
    state->busy.push_back(*std::move(member));
    return absl::OkStatus();
  }
  state->waiting.push_back(std::move(message));
  return absl::OkStatus();
}

}  // namespace troupe::runtime
