// bundle_host.cc - see bundle_host.h: the thread-safe front over HostCore
// (host_core.h), and HostCore's queries.
#include "daemon/hosting/bundle_host.h"

#include "daemon/hosting/host_core.h"

namespace troupe::hosting {

// ---------------------------------------------------------------------------
// Queries

std::vector<BundleInfo> HostCore::List(std::string_view group) const {
  std::vector<const Version*> chosen;
  troupe::MutexLock lock(&mu_);
  for (const auto& v : versions_) {
    if (v->state == VersionState::kLoading) continue;
    if (!group.empty() && v->group != group) continue;
    chosen.push_back(v.get());
  }
  std::sort(chosen.begin(), chosen.end(), [](const Version* a, const Version* b) {
    if (a->group != b->group) return a->group < b->group;
    int order = bundle::CompareVersions(a->version, b->version);
    if (order != 0) return order < 0;
    return a->id < b->id;
  });
  std::vector<BundleInfo> out;
  for (const Version* v : chosen) out.push_back(Info(*v));
  return out;
}

absl::StatusOr<std::vector<ManagedActor>> HostCore::Role(std::string_view role,
                                                         std::string_view group) const {
  std::vector<ManagedActor> out;
  troupe::MutexLock lock(&mu_);
  std::vector<const Version*> active;
  for (const auto& v : versions_) {
    if (v->state == VersionState::kActive && (group.empty() || v->group == group)) {
      active.push_back(v.get());
    }
  }
  std::sort(active.begin(), active.end(),
            [](const Version* a, const Version* b) { return a->group < b->group; });
  for (const Version* v : active) {
    for (const Slot& slot : v->slots) {
      if (slot.spec.role() == role) out.push_back(Managed(slot));
    }
  }
  if (out.empty()) {
    return absl::NotFoundError(
        group.empty() ? troupe::StrCat("no actor plays role '", role, "' in any active bundle")
                      : troupe::StrCat("no actor plays role '", role,
                                       "' in the active version of group '", group, "'"));
  }
  return out;
}

absl::StatusOr<ActorRef> HostCore::CreateActor(std::string_view group, std::string_view class_name,
                                               const runtime::CreateOptions& options) {
  troupe::MutexLock lock(&mu_);
  if (shut_down_) return absl::FailedPreconditionError("the bundle host has shut down");
  Version* v = ActiveOf(group);
  if (v == nullptr) {
    for (const auto& other : versions_) {
      if (other->group == group && other->state != VersionState::kLoading) {
        return absl::FailedPreconditionError(
            troupe::StrCat("group '", group, "' has no active version (it is being unloaded)"));
      }
    }
    return absl::NotFoundError(troupe::StrCat("no bundle of group '", group, "' is loaded"));
  }
  if (!v->Exports(class_name)) {
    return absl::NotFoundError(troupe::StrCat(v->Name(), " has no actor class '", class_name,
                                              "' (its libraries export: ", v->ExportedClasses(),
                                              ")"));
  }
  // Checked here too, so the refusal names the version; the runtime checks
  // them again and hands them to the class's own check.
  if (absl::Status fits = CheckOnThisNode(options.requirements, system_->CapabilitiesJson());
      !fits.ok()) {
    return absl::Status(fits.code(),
                        troupe::StrCat(v->Name(), ": actor class '", class_name,
                                       "' cannot run on this node: ", StatusText(fits)));
  }
  runtime::CreateOptions create = options;
  if (!create.parent) create.parent = v->supervisor;  // so it drains with the version
  if (v->isolated != nullptr) return CreateIsolated(v, class_name, create);
  create.library = v->LibraryFor(class_name);
  return system_->CreateActor(class_name, create);
}

BundleHost::ActorOrigin HostCore::OriginOf(std::string_view address) const {
  BundleHost::ActorOrigin origin;
  if (address.empty()) return origin;
  troupe::MutexLock lock(&mu_);
  for (const auto& v : versions_) {
    for (const Slot& slot : v->slots) {
      if (slot.address == address) {
        origin.bundle = v->Name();
        origin.role = slot.spec.role();
        origin.restarts = slot.restarts;
        return origin;
      }
    }
  }
  if (absl::StatusOr<runtime::AddressParts> parts = runtime::SplitAddress(address);
      parts.ok() && parts->node == system_->options().node_name) {
    for (const auto& v : versions_) {
      const isolation::IsolatedHost* host =
          v->isolated != nullptr ? v->isolated->host.get() : nullptr;
      if (host != nullptr && parts->id >= host->options().first_actor_id &&
          parts->id < host->options().actor_id_limit) {
        origin.bundle = v->Name();
        return origin;
      }
    }
  }
  absl::StatusOr<ActorRef> actor = system_->ParseAddress(address);
  if (!actor.ok() || (*actor)->actor_class() == nullptr) return origin;
  const void* library = (*actor)->actor_class()->library();
  if (library == nullptr) return origin;
  for (const auto& v : versions_) {
    if (v->code == nullptr) continue;
    for (const auto& lib : v->code->libraries()) {
      if (&lib->plugin() == library) {
        origin.bundle = v->Name();
        return origin;
      }
    }
  }
  return origin;
}

// ---------------------------------------------------------------------------
// BundleHost

struct BundleHost::Impl {
  std::shared_ptr<HostCore> core;
  troupe::Mutex observer_mu;
  std::function<void()> bundles_observer ABSL_GUARDED_BY(observer_mu);

  // Tells the observer; returns `result`.
  template <typename T>
  T Changed(T result) {
    troupe::MutexLock lock(&observer_mu);
    if (bundles_observer) bundles_observer();
    return result;
  }
};

BundleHost::BundleHost(runtime::ActorSystem* system, HostOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->core = std::make_shared<HostCore>(system, std::move(options));
}

BundleHost::~BundleHost() { Shutdown(); }

std::vector<std::string> BundleHost::Restore() { return impl_->Changed(impl_->core->Restore()); }

std::vector<std::string> BundleHost::RestoreCleanup() const {
  return impl_->core->RestoreCleanup();
}

std::vector<BundleInfo> BundleHost::NotRestored(std::string_view group) const {
  return impl_->core->NotRestored(group);
}

void BundleHost::CrashForTest() { impl_->core->CrashForTest(); }

void BundleHost::SetHostLostObserver(HostLostFn observer) {
  impl_->core->SetHostLostObserver(std::move(observer));
}

absl::StatusOr<LoadOutcome> BundleHost::LoadFile(const std::string& path) {
  const HostCore& core = *impl_->core;
  return impl_->Changed(
      impl_->core->Load(bundle::VerifyBundleFile(path, core.trust(), core.limits())));
}

absl::StatusOr<LoadOutcome> BundleHost::LoadBytes(std::string bytes) {
  const HostCore& core = *impl_->core;
  return impl_->Changed(impl_->core->Load(
      bundle::VerifyBundle(std::move(bytes), "uploaded bundle", core.trust(), core.limits())));
}

absl::StatusOr<UnloadOutcome> BundleHost::Unload(std::string_view target) {
  return impl_->Changed(impl_->core->Unload(target));
}

void BundleHost::SetBundlesObserver(std::function<void()> observer) {
  troupe::MutexLock lock(&impl_->observer_mu);
  impl_->bundles_observer = std::move(observer);
}

std::vector<BundleInfo> BundleHost::List(std::string_view group) const {
  return impl_->core->List(group);
}

absl::StatusOr<std::vector<ManagedActor>> BundleHost::Role(std::string_view role,
                                                           std::string_view group) const {
  return impl_->core->Role(role, group);
}

absl::StatusOr<runtime::ActorRef> BundleHost::CreateActor(std::string_view group,
                                                          std::string_view class_name,
                                                          const runtime::CreateOptions& options) {
  return impl_->core->CreateActor(group, class_name, options);
}

absl::StatusOr<std::string> BundleHost::StoredBundlePath(std::string_view hash) const {
  for (const BundleInfo& info : List()) {
    if (info.hash == hash) return impl_->core->CopyPath(hash);
  }
  return absl::NotFoundError(
      troupe::StrCat("no bundle with source hash ", hash, " is loaded here"));
}

BundleHost::ActorOrigin BundleHost::OriginOf(std::string_view address) const {
  return impl_->core->OriginOf(address);
}

void BundleHost::Shutdown() { impl_->core->Shutdown(); }

}  // namespace troupe::hosting
