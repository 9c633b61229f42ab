#include "daemon/runtime/pool.h"

#include <algorithm>
#include <deque>
#include <memory>
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

// Hands `work` to `member` and records the member as busy.
void Assign(PoolState* state, ActorRef member, Message work) {
  work.MarkPoolWork();
  state->manager->system()->Deliver(member.get(), std::move(work));
  state->busy.push_back(std::move(member));
}

// Starts members for queued work while the pool has room.
absl::Status Refill(PoolState* state, const ActorClass* member_class) {
  while (!state->waiting.empty() && state->idle.size() + state->busy.size() < state->max_count) {
    absl::StatusOr<ActorRef> member =
        state->manager->system()->CreatePoolMember(state->manager, member_class);
    if (!member.ok()) return member.status();
    Message work = std::move(state->waiting.front());
    state->waiting.pop_front();
    Assign(state, *std::move(member), std::move(work));
  }
  return absl::OkStatus();
}

void Erase(std::vector<ActorRef>* v, Cell* cell) {
  v->erase(std::remove_if(v->begin(), v->end(), [&](const ActorRef& r) { return r.get() == cell; }),
           v->end());
}

}  // namespace

PoolManagerClass::PoolManagerClass(const ActorClass* member_class)
    : member_class_(member_class), name_(troupe::StrCat(member_class->name(), " (pool)")) {}

absl::StatusOr<void*> PoolManagerClass::Create(Cell* cell) const {
  auto state = std::make_unique<PoolState>(PoolState{
      cell, member_class_->pool_max_count(), member_class_->pool_idle_count(), {}, {}, {}});
  // The warm set exists from the start.
  while (state->idle.size() < state->idle_count) {
    absl::StatusOr<ActorRef> member = cell->system()->CreatePoolMember(cell, member_class_);
    if (!member.ok()) return member.status();
    state->idle.push_back(*std::move(member));
  }
  return state.release();
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
        Message work = std::move(state->waiting.front());
        state->waiting.pop_front();
        Assign(state, ActorRef::Share(member), std::move(work));
      } else if (state->idle.size() >= state->idle_count) {
        (void)system->RequestExit(ActorRef::Share(member));  // beyond the warm set
      } else {
        state->idle.push_back(ActorRef::Share(member));
      }
      return absl::OkStatus();
    }
    case MessageKind::kChildExited:
      // A member is gone (its in-flight work, if any, was dead-lettered when
      // its mailbox closed); queued work may now have room.
      Erase(&state->idle, message.sender());
      Erase(&state->busy, message.sender());
      return Refill(state, member_class_);
    case MessageKind::kExitRequest:  // the runtime exits the members with the pool
    case MessageKind::kWakeup:       // members get their own; the manager asks for none
    case MessageKind::kPoison:       // the pool sends no work of its own
    case MessageKind::kDeadEnvelope:
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
    Assign(state, std::move(member), std::move(message));
    return absl::OkStatus();
  }
  state->waiting.push_back(std::move(message));
  return Refill(state, member_class_);
}

}  // namespace troupe::runtime
