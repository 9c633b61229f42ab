// class_registry.cc - ActorSystem's class table: libraries and C++ classes
// registered, unregistered and found by name, and the count of live actors per
// library.
#include "daemon/runtime/actor_system.h"

#include <algorithm>
#include <string>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/cluster.h"
#include "daemon/runtime/system_internal.h"
#include "troupe/wire.h"

namespace troupe::runtime {

// ---------------------------------------------------------------------------
// Classes

absl::Status ActorSystem::RegisterLibrary(const troupe_plugin_v1_t* plugin,
                                          std::string_view bundle_hash) {
  if (plugin == nullptr) return absl::InvalidArgumentError("library table is null");
  if (plugin->abi_major != TROUPE_ABI_MAJOR || plugin->abi_minor > TROUPE_ABI_MINOR ||
      plugin->classes == nullptr) {
    return absl::FailedPreconditionError(troupe::StrCat(
        "library table (ABI ", plugin->abi_major, ".", plugin->abi_minor,
        ") is not usable by this host (ABI ", TROUPE_ABI_MAJOR, ".", TROUPE_ABI_MINOR,
        "); open libraries with loader::PluginLibrary, which says why"));
  }
  std::vector<std::unique_ptr<ActorClass>> made;
  for (size_t i = 0; i < plugin->class_count; ++i) {
    const troupe_actor_class_v1_t* c = plugin->classes[i];
    if (c == nullptr || c->struct_size < sizeof(troupe_actor_class_v1_t) || c->name == nullptr ||
        c->create == nullptr || c->destroy == nullptr || c->receive == nullptr) {
      return absl::FailedPreconditionError(
          troupe::StrCat("library '", plugin->library_name == nullptr ? "?" : plugin->library_name,
                         "' has an incomplete description for class #", i));
    }
    made.push_back(std::make_unique<PluginActorClass>(plugin, plugin->classes[i], bundle_hash));
  }
  troupe::MutexLock lock(&classes_->mu);
  for (auto& c : made) {
    auto key = std::make_pair(static_cast<const void*>(plugin), std::string(c->name()));
    if (classes_->by_library.contains(key)) {
      return absl::AlreadyExistsError(troupe::StrCat(
          "library '", plugin->library_name, "' defines actor class '", c->name(), "' twice"));
    }
  }
  for (auto& c : made) {
    classes_->by_library[{plugin, std::string(c->name())}] = c.get();
    classes_->by_name[std::string(c->name())] = c.get();
    owned_classes_.push_back(std::move(c));
  }
  classes_->libraries[plugin].registered = true;
  return absl::OkStatus();
}

absl::Status ActorSystem::UnregisterLibrary(const troupe_plugin_v1_t* plugin) {
  if (plugin == nullptr) return absl::InvalidArgumentError("library table is null");
  troupe::MutexLock lock(&classes_->mu);
  auto use = classes_->libraries.find(plugin);
  const char* library_name = plugin->library_name == nullptr ? "?" : plugin->library_name;
  if (use == classes_->libraries.end() || !use->second.registered) {
    return absl::NotFoundError(
        troupe::StrCat("library '", library_name, "' is not registered with this actor system"));
  }
  if (use->second.live > 0) {
    return absl::FailedPreconditionError(
        troupe::StrCat("library '", library_name, "' still has ", use->second.live,
                       " actors that have not exited; ask them to exit first"));
  }
  use->second.registered = false;
  // Forget its classes. The ActorClass objects stay (owned_classes_): exited
  // cells still point at them.
  absl::flat_hash_set<std::string> names;
  for (auto it = classes_->by_library.begin(); it != classes_->by_library.end();) {
    auto next = std::next(it);
    if (it->first.first == plugin) {
      names.insert(it->first.second);
      classes_->by_library.erase(it);
    }
    it = next;
  }
  // A name it shadowed goes back to the latest registration still present.
  for (const std::string& name : names) {
    auto by_name = classes_->by_name.find(name);
    if (by_name == classes_->by_name.end() || by_name->second->library() != plugin) continue;
    const ActorClass* previous = nullptr;
    for (auto it = owned_classes_.rbegin(); it != owned_classes_.rend() && previous == nullptr;
         ++it) {
      if ((*it)->name() != name) continue;
      auto key = std::make_pair((*it)->library(), name);
      auto registered = classes_->by_library.find(key);
      if (registered != classes_->by_library.end() && registered->second == it->get()) {
        previous = it->get();
      }
    }
    if (previous != nullptr) {
      by_name->second = previous;
    } else {
      classes_->by_name.erase(by_name);
    }
  }
  return absl::OkStatus();
}

std::vector<ActorRef> ActorSystem::LiveActorsOfLibrary(const troupe_plugin_v1_t* plugin) const {
  std::vector<ActorRef> out;
  if (plugin == nullptr) return out;
  for (const Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) {
      if (cell->class_ != nullptr && cell->class_->library() == plugin && IsLive(cell)) {
        out.push_back(ActorRef::Share(cell));
      }
    }
  }
  return out;
}

bool ActorSystem::HoldLibrary(const void* library) {
  if (library == nullptr) return true;
  troupe::MutexLock lock(&classes_->mu);
  auto use = classes_->libraries.find(library);
  if (use == classes_->libraries.end()) return true;  // a C++ class naming no table
  if (!use->second.registered) return false;
  ++use->second.live;
  return true;
}

void ActorSystem::ReleaseLibrary(const void* library) {
  if (library == nullptr) return;
  troupe::MutexLock lock(&classes_->mu);
  auto use = classes_->libraries.find(library);
  if (use != classes_->libraries.end() && use->second.live > 0) --use->second.live;
}

absl::Status ActorSystem::RegisterClass(std::unique_ptr<ActorClass> actor_class) {
  troupe::MutexLock lock(&classes_->mu);
  auto key = std::make_pair(actor_class->library(), std::string(actor_class->name()));
  if (classes_->by_library.contains(key)) {
    return absl::AlreadyExistsError(
        troupe::StrCat("actor class '", actor_class->name(), "' is already registered"));
  }
  classes_->by_library[key] = actor_class.get();
  classes_->by_name[std::string(actor_class->name())] = actor_class.get();
  owned_classes_.push_back(std::move(actor_class));
  return absl::OkStatus();
}

const ActorClass* ActorSystem::FindClass(std::string_view name, const void* library) const {
  troupe::MutexLock lock(&classes_->mu);
  if (library != nullptr) {
    auto it = classes_->by_library.find(std::make_pair(library, std::string(name)));
    if (it != classes_->by_library.end()) return it->second;
  }
  auto it = classes_->by_name.find(std::string(name));
  return it == classes_->by_name.end() ? nullptr : it->second;
}

}  // namespace troupe::runtime
