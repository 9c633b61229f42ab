// global_names.cc - see global_names.h.
#include "daemon/convention/global_names.h"

#include <chrono>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "proto/grpc_status.h"

namespace troupe::convention {

namespace {
constexpr std::string_view kClaimMethod = "/troupe.v1.Convention/ClaimName";
constexpr std::string_view kReleaseMethod = "/troupe.v1.Convention/ReleaseName";

// A failed call that may succeed later (the leader is restarting or far).
bool Retryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded ||
         status.code() == absl::StatusCode::kFailedPrecondition;  // not its member yet
}
}  // namespace

GlobalNames::GlobalNames(GlobalNamesOptions options, runtime::ActorSystem* system)
    : options_(std::move(options)), system_(system) {}

GlobalNames::~GlobalNames() { Stop(); }

void GlobalNames::Start() {
  troupe::MutexLock lock(&mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void GlobalNames::Stop() {
  std::thread thread;
  {
    troupe::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

absl::StatusOr<std::string> GlobalNames::Find(const std::string& name) {
  absl::StatusOr<std::string> holder = ClaimAtLeader(name, "");
  if (!holder.ok()) {
    return absl::UnavailableError(troupe::StrCat("cannot look up global name '", name,
                                                 "' at the convention's leader: ",
                                                 holder.status().message()));
  }
  if (holder->empty()) {
    return absl::NotFoundError(troupe::StrCat("no actor is named '", name, "' in the convention"));
  }
  if (!LiveOrElsewhere(*holder)) {
    ActorExited(name, *holder);  // in case its release has not been queued
    return absl::NotFoundError(troupe::StrCat("no actor is named '", name, "' in the convention (",
                                              *holder, " has exited)"));
  }
  return holder;
}

absl::StatusOr<std::string> GlobalNames::CreateNamed(const std::string& name,
                                                     const Create& create) {
  if (name.empty()) return create();
  if (absl::StatusOr<runtime::ActorRef> here = system_->Lookup(name); here.ok()) {
    return system_->FormatAddress(here->get());
  }
  absl::StatusOr<std::string> holder = ClaimAtLeader(name, "");
  if (!holder.ok()) {
    return absl::UnavailableError(troupe::StrCat(
        "global name '", name, "' is arbitrated by the convention's leader, which cannot be "
        "asked now: ", holder.status().message()));
  }
  if (!holder->empty()) {
    if (LiveOrElsewhere(*holder)) return *holder;
    // An actor of this daemon that exited; its release may still be on its
    // way to the leader.
    if (absl::StatusOr<std::string> released = ReleaseAtLeader(name, *holder); !released.ok()) {
      return absl::UnavailableError(troupe::StrCat("cannot release global name '", name,
                                                   "' of exited actor ", *holder,
                                                   " at the convention's leader: ",
                                                   released.status().message()));
    }
  }
  absl::StatusOr<std::string> created = create();
  if (!created.ok()) return created.status();
  // Placed on another member: that member claimed the name for it.
  if (NodeOfAddress(*created) != options_.self) return created;
  absl::StatusOr<std::string> won = ClaimAtLeader(name, *created);
  if (won.ok() && *won == *created) {
    Hold(name, *created);
    return created;
  }
  // Another daemon's actor got the name first (or the leader went away):
  // this one goes, as a local create of a taken name makes no actor. (Only
  // an actor given the name at creation: one a bundle bound the name to
  // meanwhile is not ours to end.)
  if (absl::StatusOr<runtime::ActorRef> actor = system_->ParseExternalAddress(*created);
      actor.ok()) {
    absl::StatusOr<runtime::ActorStatus> status = system_->GetActorStatus(*actor);
    if (status.ok() && status->global_name == name) (void)system_->RequestExit(*actor);
  }
  if (!won.ok()) {
    return absl::UnavailableError(troupe::StrCat(
        "cannot claim global name '", name, "' at the convention's leader: ",
        won.status().message()));
  }
  LogInfo("convention: global name '", name, "' went to ", *won, " first; ", *created,
          " was asked to exit");
  return won;
}

void GlobalNames::Hold(const std::string& name, const std::string& address) {
  {
    troupe::MutexLock lock(&mu_);
    held_[name] = address;
  }
  // The actor may have exited before the claim was answered: its observer
  // call found nothing to release then.
  if (!LiveOrElsewhere(address)) ActorExited(name, address);
}

bool GlobalNames::LiveOrElsewhere(const std::string& address) {
  if (NodeOfAddress(address) != options_.self) return true;
  absl::StatusOr<runtime::ActorRef> actor = system_->ParseExternalAddress(address);
  if (!actor.ok()) return false;
  const runtime::CellState state = (*actor)->state();
  return state != runtime::CellState::kExited && state != runtime::CellState::kTombstone;
}

void GlobalNames::ActorExited(std::string_view name, std::string_view address) {
  troupe::MutexLock lock(&mu_);
  auto it = held_.find(std::string(name));
  if (it == held_.end() || it->second != address) return;
  releases_.emplace_back(it->first, it->second);
  held_.erase(it);
  cv_.SignalAll();
}

void GlobalNames::Rejoined() {
  troupe::MutexLock lock(&mu_);
  if (held_.empty()) return;
  reclaim_ = true;
  cv_.SignalAll();
}

void GlobalNames::Run() {
  troupe::MutexLock lock(&mu_);
  bool retry = false;
  while (!stopping_) {
    if (retry) {
      cv_.WaitWithTimeout(&mu_, options_.retry_interval);
    } else if (releases_.empty() && !reclaim_) {
      cv_.Wait(&mu_);
    }
    if (stopping_) break;
    mu_.Unlock();
    retry = SendPending();
    mu_.Lock();
  }
}

bool GlobalNames::SendPending() {
  std::vector<std::pair<std::string, std::string>> claims;
  std::deque<std::pair<std::string, std::string>> releases;
  {
    troupe::MutexLock lock(&mu_);
    if (reclaim_) claims.assign(held_.begin(), held_.end());
    reclaim_ = false;
    releases.swap(releases_);
  }
  bool reclaim_again = false;
  std::vector<std::pair<std::string, std::string>> release_again;
  // Claims first: a release queued meanwhile must reach the leader after
  // the claim of the same name.
  for (const auto& [name, address] : claims) {
    absl::StatusOr<std::string> holder = ClaimAtLeader(name, address);
    if (!holder.ok()) {
      if (Retryable(holder.status())) {
        reclaim_again = true;
      } else {
        LogWarning("convention: cannot claim global name '", name, "' again for ", address,
                   ": ", holder.status().message());
      }
      continue;
    }
    if (*holder == address) continue;
    LogWarning("convention: global name '", name, "' of ", address,
               " is held convention-wide by ", *holder,
               " now (claimed while this daemon was away); it names ", address,
               " on this daemon only");
    troupe::MutexLock lock(&mu_);
    auto it = held_.find(name);
    if (it != held_.end() && it->second == address) held_.erase(it);
  }
  for (auto& release : releases) {
    absl::StatusOr<std::string> holder = ReleaseAtLeader(release.first, release.second);
    if (holder.ok()) continue;
    if (Retryable(holder.status())) {
      release_again.push_back(std::move(release));
    } else {
      LogWarning("convention: cannot release global name '", release.first, "' of ",
                 release.second, ": ", holder.status().message());
    }
  }
  troupe::MutexLock lock(&mu_);
  if (reclaim_again) reclaim_ = true;
  for (auto it = release_again.rbegin(); it != release_again.rend(); ++it) {
    releases_.push_front(std::move(*it));
  }
  return reclaim_again || !release_again.empty();
}

absl::StatusOr<std::string> GlobalNames::ClaimAtLeader(const std::string& name,
                                                       const std::string& address) {
  const std::string leader = options_.leader ? options_.leader() : std::string();
  if (leader.empty()) {
    troupe::MutexLock lock(&table_mu_);
    if (address.empty()) return table_.Holder(name);
    return table_.Claim(name, address);
  }
  return Call(leader, /*release=*/false, name, address);
}

absl::StatusOr<std::string> GlobalNames::ReleaseAtLeader(const std::string& name,
                                                         const std::string& address) {
  const std::string leader = options_.leader ? options_.leader() : std::string();
  if (leader.empty()) {
    troupe::MutexLock lock(&table_mu_);
    if (table_.Release(name, address)) {
      LogInfo("convention: global name '", name, "' is free (", address, " exited)");
    }
    return table_.Holder(name);
  }
  return Call(leader, /*release=*/true, name, address);
}

std::shared_ptr<v1::Convention::Stub> GlobalNames::StubFor(const std::string& leader) {
  troupe::MutexLock lock(&mu_);
  if (stub_ == nullptr || stub_leader_ != leader) {
    // Reconnect soon after the leader comes back, as members do.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(options_.retry_interval)));
    stub_ = v1::Convention::NewStub(
        grpc::CreateCustomChannel(leader, options_.guard->ChannelCredentials(), args));
    stub_leader_ = leader;
  }
  return stub_;
}

absl::StatusOr<std::string> GlobalNames::Call(const std::string& leader, bool release,
                                              const std::string& name,
                                              const std::string& address) {
  if (options_.guard == nullptr) return absl::FailedPreconditionError("no convention key");
  std::shared_ptr<v1::Convention::Stub> stub = StubFor(leader);
  grpc::ClientContext context;
  const peerauth::CallSignature signature =
      options_.guard->Sign(&context, release ? kReleaseMethod : kClaimMethod);
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  v1::ClaimNameRequest request;
  request.set_name(name);
  request.set_address(address);
  v1::ClaimNameResponse response;
  grpc::Status status = release ? stub->ReleaseName(&context, request, &response)
                                : stub->ClaimName(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(FromGrpcStatus(status).code(),
                        troupe::StrCat(leader, ": ", status.error_message()));
  }
  if (absl::Status answer = options_.guard->CheckAnswer(context, signature); !answer.ok()) {
    return answer;
  }
  return response.holder();
}

absl::StatusOr<std::string> GlobalNames::ClaimFor(const std::string& peer, const std::string& name,
                                                  const std::string& address) {
  const std::string leader = options_.leader ? options_.leader() : std::string();
  if (!leader.empty()) {
    return absl::FailedPreconditionError(troupe::StrCat(
        options_.self, " is not the leader; global names are arbitrated by its leader ", leader));
  }
  if (name.empty()) return absl::InvalidArgumentError("a global name cannot be empty");
  if (address.empty()) {
    troupe::MutexLock lock(&table_mu_);
    return table_.Holder(name);
  }
  if (NodeOfAddress(address) != peer) {
    return absl::PermissionDeniedError(troupe::StrCat(
        peer, " may claim global names for its own actors only, not for ", address));
  }
  if (options_.is_member && !options_.is_member(peer)) {
    return absl::FailedPreconditionError(
        troupe::StrCat(peer, " is not a member of this convention; it must register first"));
  }
  troupe::MutexLock lock(&table_mu_);
  std::string holder = table_.Claim(name, address);
  if (holder == address) LogInfo("convention: global name '", name, "' is held by ", address);
  return holder;
}

absl::StatusOr<std::string> GlobalNames::ReleaseFor(const std::string& peer,
                                                    const std::string& name,
                                                    const std::string& address) {
  const std::string leader = options_.leader ? options_.leader() : std::string();
  if (!leader.empty()) {
    return absl::FailedPreconditionError(troupe::StrCat(
        options_.self, " is not the leader; global names are arbitrated by its leader ", leader));
  }
  if (name.empty()) return absl::InvalidArgumentError("a global name cannot be empty");
  if (NodeOfAddress(address) != peer) {
    return absl::PermissionDeniedError(troupe::StrCat(
        peer, " may release global names of its own actors only, not of ", address));
  }
  troupe::MutexLock lock(&table_mu_);
  if (table_.Release(name, address)) {
    LogInfo("convention: global name '", name, "' is free (", address, " exited)");
  }
  return table_.Holder(name);
}

void GlobalNames::NodeLost(const std::string& node) {
  std::vector<std::string> dropped;
  {
    troupe::MutexLock lock(&table_mu_);
    dropped = table_.DropNode(node);
  }
  if (!dropped.empty()) {
    LogInfo("convention: dropped ", dropped.size(), " global name(s) of ", node, " (",
            dropped.front(), dropped.size() > 1 ? ", ..." : "", ")");
  }
}

std::vector<std::pair<std::string, std::string>> GlobalNames::Table() const {
  troupe::MutexLock lock(&table_mu_);
  return table_.List();
}

std::vector<std::pair<std::string, std::string>> GlobalNames::HeldForTest() const {
  troupe::MutexLock lock(&mu_);
  return {held_.begin(), held_.end()};
}

}  // namespace troupe::convention
