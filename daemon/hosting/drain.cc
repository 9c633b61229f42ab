// drain.cc - HostCore: draining old versions, unregistering their libraries
// once their actors are gone, closing them (host_core.h).
#include "daemon/hosting/host_core.h"

namespace troupe::hosting {

// ---------------------------------------------------------------------------
// Draining

void HostCore::BeginDrain(Version* v) {
  v->state = VersionState::kDraining;
  for (Slot& slot : v->slots) {
    if (!slot.actor || slot.state != ManagedActorState::kRunning) continue;
    slot.exit_requested = true;
    (void)system_->RequestExit(slot.actor);
  }
}

bool HostCore::TryUnregister(Version* v) {
  for (auto it = v->registered.begin(); it != v->registered.end();) {
    if (system_->UnregisterLibrary(*it).ok()) {
      it = v->registered.erase(it);
    } else {
      ++it;
    }
  }
  return v->registered.empty();
}

bool HostCore::WaitForProgress(absl::Time deadline) {
  if (system_->options().deterministic) {
    mu_.Unlock();
    bool ran = system_->RunOne();
    mu_.Lock();
    return ran;
  }
  if (absl::Now() >= deadline) return false;
  cv_.WaitWithDeadline(&mu_, std::min(deadline, absl::Now() + kDrainPoll));
  return true;
}

std::vector<std::string> HostCore::FinishDrains(const std::vector<uint64_t>& ids,
                                                absl::Time deadline) {
  std::vector<std::unique_ptr<Version>> done;
  std::vector<std::string> lines;
  {
    troupe::MutexLock lock(&mu_);
    auto wanted = [&](const Version& v) {
      return v.state == VersionState::kDraining &&
             (ids.empty() || std::find(ids.begin(), ids.end(), v.id) != ids.end());
    };
    for (;;) {
      bool waiting = false;
      for (auto it = versions_.begin(); it != versions_.end();) {
        Version* v = it->get();
        if (v->state != VersionState::kDraining) {
          ++it;
          continue;
        }
        // (An isolated version's actors are cells of its host: their exit
        // is known from the supervisor's notice.)
        bool slots_gone = std::all_of(v->slots.begin(), v->slots.end(), [](const Slot& s) {
          return !s.actor || s.actor->state() == runtime::CellState::kExited ||
                 s.state != ManagedActorState::kRunning;
        });
        if (slots_gone) {
          // Actors of its libraries the host did not create (e.g. named ones
          // its actors made) are asked too, once the managed ones are gone.
          for (const troupe_plugin_v1_t* library : v->registered) {
            for (const ActorRef& actor : system_->LiveActorsOfLibrary(library)) {
              if (v->stragglers_asked.insert(actor->id()).second) {
                (void)system_->RequestExit(actor);
              }
            }
          }
          if (TryUnregister(v)) {
            if (wanted(*v)) {
              lines.push_back(troupe::StrCat("unloaded ", v->Name()));
            } else {
              LogInfo("hosting: unloaded ", v->Name(), " (it had drained meanwhile)");
            }
            done.push_back(std::move(*it));
            it = versions_.erase(it);
            continue;
          }
        }
        if (wanted(*v)) waiting = true;
        ++it;
      }
      if (!waiting || !WaitForProgress(deadline)) break;
    }
    for (const auto& v : versions_) {
      if (ids.empty() || !wanted(*v)) continue;  // a sweep reports only what it closed
      lines.push_back(troupe::StrCat(
          v->Name(), " is still draining: its actors have not all exited within ",
          absl::FormatDuration(options_.drain_timeout), "; it is unloaded once they have"));
    }
  }
  for (const std::string& line : lines) LogInfo("hosting: ", line);
  CloseVersions(std::move(done));
  return lines;
}

void HostCore::CloseVersions(std::vector<std::unique_ptr<Version>> done) {
  std::vector<std::unique_ptr<IsolatedCode>> hosts;
  for (auto& v : done) {
    if (v->isolated != nullptr) hosts.push_back(std::move(v->isolated));
  }
  StopHosts(std::move(hosts));
  for (auto& v : done) {
    if (v->code == nullptr) {
      (void)system_->RequestExit(v->supervisor);
      continue;
    }
    std::vector<std::string> resident;
    {
      // Closing runs the libraries' destructors: their code.
      runtime::BundleCodeScope running_code(v->hash.c_str());
      resident = v->code->Unload();
    }
    if (!resident.empty()) {
      LogWarning("hosting: ", v->Name(), ": ", resident.size(),
                 " libraries stay mapped after the unload (a leak, see PLUGIN-LOADING.md)");
    }
    (void)system_->RequestExit(v->supervisor);
  }
}

}  // namespace troupe::hosting
