// isolated_load.cc - HostCore: versions whose effective isolation is process
// (bundle::EffectiveIsolation; docs/isolation.md). Their verified libraries
// go to a troupe-host process as sealed memfds; their actors live there and
// are reached through the system's local members; a host that ended is
// replaced when an actor of the version starts again, under the usual
// restart intensity (host_core.h).
#include <unistd.h>

#include "daemon/hosting/host_core.h"
#include "daemon/isolation/library_memfd.h"
#include "daemon/isolation/local_members.h"

namespace troupe::hosting {

namespace {

// What a host applies to itself before it opens a library: the daemon's
// limits, and reads only of what the dynamic linker needs (the libraries
// themselves come as descriptors).
troupe::v1::HostConfinement ConfinementOf(const bundle::IsolatedHostLimits& limits) {
  troupe::v1::HostConfinement confinement;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizer builds (CI's ASan and TSan) map terabytes of shadow memory at
  // start: no address-space limit can hold them.
  confinement.set_memory_bytes(0);
#else
  confinement.set_memory_bytes(limits.memory_bytes);
#endif
  confinement.set_cpu_seconds(limits.cpu_seconds);
  confinement.set_open_files(limits.open_files);
  confinement.set_user(limits.user);
  confinement.add_read_only_paths("/usr/lib");
  confinement.add_read_only_paths("/etc/ld.so.cache");
  return confinement;
}

}  // namespace

absl::Status HostCore::CheckCanIsolate(const bundle::VerifiedBundle& verified,
                                       const bundle::IsolationDecision& isolation) const {
  if (options_.local_members != nullptr && !options_.host_program.empty()) {
    return absl::OkStatus();
  }
  absl::Status refused = absl::UnimplementedError(troupe::StrCat(
      "bundle '", verified.manifest.group(), "' version '", verified.manifest.version(),
      "' must run isolated (", isolation.reason,
      ") but this bundle host runs no isolated hosts (it has no host program)"));
  LogWarning("hosting: ", StatusText(refused));
  return refused;
}

absl::Status HostCore::OpenIsolated(const bundle::VerifiedBundle& verified, Version* v) {
  v->isolated = std::make_unique<IsolatedCode>();
  auto hand_over = [&](const std::string& name, bool dependency) -> absl::Status {
    TROUPE_ASSIGN_OR_RETURN(std::string bytes, verified.ReadEntry(name));
    absl::StatusOr<int> fd = isolation::SealedMemfd(name, bytes);
    if (!fd.ok()) {
      return absl::Status(fd.status().code(), troupe::StrCat(v->Name(), ": library '", name,
                                                             "': ", StatusText(fd.status())));
    }
    v->isolated->libraries.push_back(isolation::HostLibraryFile{name, *fd, dependency});
    return absl::OkStatus();
  };
  // Dependencies first, in bundle order, as the loader preloads them.
  for (const bundle::VerifiedEntry& entry : verified.entries) {
    if (entry.name.rfind("deps/", 0) == 0) TROUPE_RETURN_IF_ERROR(hand_over(entry.name, true));
  }
  for (const std::string& library : verified.manifest.libraries()) {
    TROUPE_RETURN_IF_ERROR(hand_over(library, false));
  }
  TROUPE_RETURN_IF_ERROR(SpawnHost(v));
  if (absl::Status ready = v->isolated->host->WaitReady(options_.load_timeout); !ready.ok()) {
    return absl::Status(ready.code(), troupe::StrCat(v->Name(), ": its isolated host did not start: ",
                                                     StatusText(ready)));
  }
  // Every later host opens the same libraries: this list holds for them too
  // (and while one is starting).
  v->isolated->classes = v->isolated->host->classes();
  return absl::OkStatus();
}

absl::Status HostCore::SpawnHost(Version* v) {
  IsolatedCode& code = *v->isolated;
  isolation::IsolatedHostOptions options;
  options.program = options_.host_program;
  options.name = troupe::StrCat("bundle '", v->group, "' version '", v->version, "'");
  std::tie(options.first_actor_id, options.actor_id_limit) =
      options_.local_members->ReserveRange();
  options.libraries = code.libraries;  // the host gets copies; these stay open here
  options.bundle_hash = v->hash;
  options.group = v->group;
  options.version = v->version;
  options.worker_threads = 1;
  options.actor_log_lines = system_->options().actor_log_lines;
  options.capabilities_json = system_->CapabilitiesJson();
  options.confinement = ConfinementOf(options_.isolated_hosts);
  options.handler_timeout = options_.isolated_hosts.handler_timeout;
  options.members = options_.local_members;
  runtime::ActorSystem* system = system_;
  std::weak_ptr<HostCore> weak = weak_from_this();
  const uint64_t version_id = v->id;
  absl::StatusOr<std::unique_ptr<isolation::IsolatedHost>> host = isolation::IsolatedHost::Spawn(
      system_, std::move(options),
      [system, weak, version_id](isolation::IsolatedHost* ended, const std::string& reason,
                                 const std::vector<std::string>& last_stderr) {
        if (std::shared_ptr<HostCore> core = weak.lock()) {
          core->OnHostEnded(version_id, ended, reason, last_stderr);
        } else {
          system->LocalMemberLost(ended->options().first_actor_id,
                                  ended->options().actor_id_limit, reason);
        }
      });
  if (!host.ok()) {
    return absl::Status(host.status().code(),
                        troupe::StrCat(v->Name(), ": cannot start its isolated host: ",
                                       StatusText(host.status())));
  }
  if (code.host != nullptr) {
    // Hosts whose end was reported are gone for good: destroying them waits
    // for nothing (the one just ended may still be reporting: next time).
    std::erase_if(code.retired, [](const std::unique_ptr<isolation::IsolatedHost>& retired) {
      return retired->finished();
    });
    code.retired.push_back(std::move(code.host));
    ++code.restarts;
  }
  code.host = *std::move(host);
  return absl::OkStatus();
}

absl::StatusOr<isolation::IsolatedHost*> HostCore::LiveHost(Version* v) {
  IsolatedCode& code = *v->isolated;
  if (code.host == nullptr || code.host->ended()) TROUPE_RETURN_IF_ERROR(SpawnHost(v));
  return code.host.get();
}

absl::StatusOr<ActorRef> HostCore::CreateIsolated(Version* v, std::string_view class_name,
                                                  const runtime::CreateOptions& options) {
  if (!options.global_name.empty()) {
    // As inline: a name that is held gives its holder (get-or-create).
    if (absl::StatusOr<ActorRef> holder = system_->Lookup(options.global_name); holder.ok()) {
      return holder;
    }
  }
  TROUPE_ASSIGN_OR_RETURN(isolation::IsolatedHost * host, LiveHost(v));
  TROUPE_ASSIGN_OR_RETURN(ActorRef actor,
                          host->CreateNow(class_name, options.parent, options.global_name));
  if (!options.global_name.empty()) {
    // The daemon's binding is what others look up; the host's exit notice
    // (or its end) releases it.
    if (absl::Status bound = system_->BindGlobalName(options.global_name, actor); !bound.ok()) {
      (void)system_->RequestExit(actor);
      return bound;
    }
  }
  return actor;
}

void HostCore::OnHostEnded(uint64_t version_id, isolation::IsolatedHost* host,
                           const std::string& reason, const std::vector<std::string>& last_stderr) {
  const std::string name = host->options().name;
  std::string wrote;
  for (const std::string& line : last_stderr) troupe::StrAppend(&wrote, "\n  | ", line);
  if (host->stop_requested()) {
    LogInfo("hosting: ", name, ": its isolated host (pid ", host->pid(), ") stopped: ", reason);
  } else {
    LogError("hosting: ", name, ": its isolated host (pid ", host->pid(), ") ended: ", reason,
             wrote.empty() ? "" : "; it last wrote:", wrote);
  }
  {
    // Recorded first: status shows it by the time the restarts happen.
    troupe::MutexLock lock(&mu_);
    Version* v = FindVersion(version_id);
    if (v != nullptr && v->isolated != nullptr) {
      v->isolated->last_end = reason;
      v->isolated->last_stderr = last_stderr;
    }
  }
  // Its actors are gone: parents hear ChildActorExited with the reason (the
  // supervisor then restarts the managed ones), names go, and mail to them
  // becomes dead letters.
  system_->LocalMemberLost(host->options().first_actor_id, host->options().actor_id_limit, reason);
  // A host troupd stopped (a drained version) leaves no ask behind that
  // its end should fail: the names moved on to other versions.
  if (host->stop_requested()) return;
  BundleHost::HostLostFn observer;
  {
    troupe::MutexLock lock(&observer_mu_);
    observer = host_lost_;
  }
  if (observer) {
    observer(host->options().first_actor_id, host->options().actor_id_limit,
             troupe::StrCat(name, ": ", reason));
  }
}

void HostCore::StopHosts(std::vector<std::unique_ptr<IsolatedCode>> hosts) {
  for (std::unique_ptr<IsolatedCode>& code : hosts) {
    // Its managed actors have exited (drained); the rest get a moment.
    if (code->host != nullptr) code->host->Stop(absl::Seconds(1));
  }
  hosts.clear();
}

}  // namespace troupe::hosting
