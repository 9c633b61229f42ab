// convention_events.cc - ActorSystem's convention update subscriptions: who
// subscribed, the "joined" round a new subscriber gets first, and delivery of
// each published update (docs/runtime.md "Convention updates").
//
// Locking: convention_mu_ guards the subscriber table and is taken before a
// cell's children_mu_. A subscription is added only while the cell is live,
// checked under its children_mu_; Finalize marks the cell exited under that
// lock before it reads convention_subscribed_, so either the subscription is
// refused or Finalize sees the flag and removes it. Nothing here waits for an
// actor: Deliver only queues.
#include <string>
#include <utility>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/cluster.h"
#include "troupe/wire.h"

namespace troupe::runtime {
namespace {

Message UpdateMessage(std::string_view node, std::string_view capabilities_json,
                      std::string_view event) {
  std::string payload;
  wire::AppendField(&payload, node);
  wire::AppendField(&payload, capabilities_json);
  wire::AppendField(&payload, event);
  return Message::Make(TROUPE_MSG_CONVENTION_UPDATE, payload);
}

}  // namespace

void ActorSystem::PublishConventionUpdate(std::string_view node,
                                          std::string_view capabilities_json,
                                          std::string_view event) {
  if (event != "joined" && event != "left" && event != "capabilities") {
    LogWarning("convention update for ", node, " has unknown event '", event,
               "' (joined, left or capabilities); not sent");
    return;
  }
  troupe::MutexLock lock(&convention_mu_);
  for (auto& [cell, subscription] : convention_subscribers_) {
    Message update = UpdateMessage(node, capabilities_json, event);
    if (subscription.pending) {
      subscription.held.push_back(std::move(update));
    } else {
      Deliver(cell, std::move(update));  // an exited actor drops it (DeadLetter)
    }
  }
}

absl::Status ActorSystem::SubscribeConventionUpdates(const ActorRef& actor, bool enable) {
  if (!actor) return absl::InvalidArgumentError("a convention subscription needs an actor");
  Cell* cell = actor.get();
  {
    troupe::MutexLock lock(&convention_mu_);
    auto it = convention_subscribers_.find(cell);
    if (!enable) {
      if (it != convention_subscribers_.end()) {
        convention_subscribers_.erase(it);
        cell->convention_subscribed_.store(false, std::memory_order_relaxed);
      }
      return absl::OkStatus();
    }
    if (it != convention_subscribers_.end()) return absl::OkStatus();  // nothing extra
    {
      troupe::MutexLock cell_lock(&cell->children_mu_);
      const CellState state = cell->state();
      if (state != CellState::kNew && state != CellState::kRunning) {
        return absl::FailedPreconditionError(troupe::StrCat(
            FormatAddress(cell), " is not a live actor; it cannot subscribe to convention updates"));
      }
      cell->convention_subscribed_.store(true, std::memory_order_relaxed);
    }
    ConventionSubscription subscription;
    subscription.actor = actor;
    subscription.pending = true;
    convention_subscribers_.emplace(cell, std::move(subscription));
  }
  // Outside the lock: the cluster takes its own locks, which may be held
  // while it publishes.
  std::vector<std::pair<std::string, std::string>> members;
  {
    ClusterUse cluster(this);
    if (cluster.get() != nullptr) members = cluster->Members();
  }
  troupe::MutexLock lock(&convention_mu_);
  auto it = convention_subscribers_.find(cell);
  if (it == convention_subscribers_.end() || !it->second.pending) {
    return absl::OkStatus();  // ended meanwhile (exit or disable), or already served
  }
  for (const auto& [node, capabilities_json] : members) {
    Deliver(cell, UpdateMessage(node, capabilities_json, "joined"));
  }
  for (Message& held : it->second.held) Deliver(cell, std::move(held));
  it->second.held.clear();
  it->second.pending = false;
  return absl::OkStatus();
}

void ActorSystem::ForgetConventionSubscriber(Cell* cell) {
  ActorRef dropped;  // released after the lock
  troupe::MutexLock lock(&convention_mu_);
  auto it = convention_subscribers_.find(cell);
  if (it == convention_subscribers_.end()) return;
  dropped = std::move(it->second.actor);
  convention_subscribers_.erase(it);
  cell->convention_subscribed_.store(false, std::memory_order_relaxed);
}

}  // namespace troupe::runtime
