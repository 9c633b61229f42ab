// local_members.cc - routing by id slot to isolated hosts (local_members.h).
#include "daemon/isolation/local_members.h"

#include "daemon/common/strings.h"
#include "daemon/isolation/isolated_host.h"
#include "daemon/runtime/actor_system.h"

namespace troupe::isolation {
namespace {

// The host whose queue this thread's last Forward found full (the runtime
// parks the sender on the same thread right after: ResumeWhenRoom).
thread_local uint64_t last_full_slot = 0;

}  // namespace

std::pair<uint64_t, uint64_t> LocalMembers::ReserveRange() {
  std::unique_lock lock(mu_);
  const uint64_t slot = next_slot_++;
  return {slot << kSlotBits, (slot + 1) << kSlotBits};
}

void LocalMembers::Add(IsolatedHost* host) {
  std::unique_lock lock(mu_);
  hosts_[host->options().first_actor_id >> kSlotBits] = host;
}

void LocalMembers::Remove(IsolatedHost* host) {
  std::unique_lock lock(mu_);
  auto it = hosts_.find(host->options().first_actor_id >> kSlotBits);
  if (it != hosts_.end() && it->second == host) hosts_.erase(it);
}

bool LocalMembers::Forward(std::string_view node, uint64_t remote_id, runtime::Message message) {
  const uint64_t slot = remote_id >> kSlotBits;
  {
    std::shared_lock lock(mu_);
    auto it = hosts_.find(slot);
    if (it != hosts_.end()) {
      // Queuing never waits, so it may happen under the lock (Remove waits
      // for it: a host is never used after it was removed).
      if (it->second->Forward(remote_id, std::move(message))) return true;
      last_full_slot = slot;
      return false;
    }
  }
  system_->Undeliverable(node, remote_id, std::move(message),
                         "no running isolated host serves this address");
  return true;
}

bool LocalMembers::ResumeWhenRoom(std::string_view, std::function<void()> resume) {
  std::shared_lock lock(mu_);
  auto it = hosts_.find(last_full_slot);
  return it != hosts_.end() && it->second->ResumeWhenRoom(std::move(resume));
}

absl::Status LocalMembers::Place(runtime::PlaceRequest, Placed) {
  return absl::FailedPreconditionError("isolated hosts take no placements");
}

}  // namespace troupe::isolation
