// capabilities.cc - ActorSystem's capabilities: the name -> JSON value table,
// read-only names, the change observer, the creation check and the re-check
// of live actors after a change (docs/runtime.md "Capabilities").
#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/common/json.h"
#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/cluster.h"
#include "daemon/runtime/pool.h"
#include "daemon/runtime/requirements.h"
#include "troupe/wire.h"

namespace troupe::runtime {
namespace {

bool IsLiveCell(const Cell* cell) {
  const CellState s = cell->state();
  return s == CellState::kNew || s == CellState::kRunning;
}

std::string Compact(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string ObjectJson(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out = "{";
  for (const auto& [name, value] : members) {
    troupe::StrAppend(&out, out.size() > 1 ? "," : "", Compact(nlohmann::ordered_json(name)), ":",
                      value);
  }
  out += "}";
  return out;
}

// The class whose check and settings apply to `cell`: a pool's manager
// stands for its members' class.
const ActorClass* CheckedClass(const Cell* cell) {
  if (const auto* pool = dynamic_cast<const PoolManagerClass*>(cell->actor_class())) {
    return pool->member_class();
  }
  return cell->actor_class();
}

// Empty when `actor_class` with `requirements` fits `capabilities`;
// otherwise what does not hold.
std::string Unfit(const ActorClass* actor_class, const ActorRequirements& requirements,
                  const nlohmann::json& capabilities, const std::string& capabilities_json) {
  absl::Status holds = CheckRequirements(requirements.conditions, capabilities);
  if (!holds.ok()) return std::string(holds.message());
  if (actor_class->has_capability_check() &&
      !actor_class->CapabilityCheck(capabilities_json,
                                    requirements.text.empty() ? "{}" : requirements.text)) {
    return troupe::StrCat("the capability check of actor class '", actor_class->name(),
                          "' refuses these capabilities");
  }
  return "";
}

// `text` (a JSON value) parsed, keeping the order of object members, with
// json.h's depth limit (a deeply nested value must not overflow the stack of
// whoever prints or compares it). Discarded when it is not such JSON.
nlohmann::ordered_json ParseValue(std::string_view text) {
  absl::StatusOr<nlohmann::ordered_json> parsed = troupe::ParseOrderedJson(text);
  return parsed.ok() ? *std::move(parsed) : nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded);
}

}  // namespace

std::string ActorSystem::CapabilitiesJson() const {
  troupe::MutexLock lock(&caps_mu_);
  return ObjectJson(capabilities_);
}

absl::StatusOr<bool> ActorSystem::UpdateCapability(std::string_view name,
                                                   std::string_view value_json) {
  return ChangeCapability(name, value_json, /*read_only=*/false);
}

absl::StatusOr<bool> ActorSystem::SetReadOnlyCapability(std::string_view name,
                                                        std::string_view value_json) {
  return ChangeCapability(name, value_json, /*read_only=*/true);
}

std::vector<std::string> ActorSystem::ReadOnlyCapabilities() const {
  std::vector<std::string> names;
  {
    troupe::MutexLock lock(&caps_mu_);
    names = read_only_capabilities_;
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<bool> ActorSystem::ChangeCapability(std::string_view name,
                                                   std::string_view value_json, bool read_only) {
  if (name.empty()) return absl::InvalidArgumentError("capability name must not be empty");
  std::string value;  // compact; empty: remove
  if (!value_json.empty()) {
    absl::StatusOr<nlohmann::ordered_json> parsed = troupe::ParseOrderedJson(value_json);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(troupe::StrCat("value of capability '", name,
                                                       "' is not valid JSON (",
                                                       parsed.status().message(), ")"));
    }
    value = Compact(*parsed);
  }
  // Held until the observer and the re-check are done: changes and their
  // consequences go out in order.
  troupe::MutexLock change(&caps_change_mu_);
  std::string capabilities_json;
  {
    troupe::MutexLock lock(&caps_mu_);
    auto marked = std::find(read_only_capabilities_.begin(), read_only_capabilities_.end(), name);
    const bool is_read_only = marked != read_only_capabilities_.end();
    if (!read_only && is_read_only) {
      return absl::FailedPreconditionError(
          troupe::StrCat("capability '", name, "' is read-only"));
    }
    if (read_only && value.empty() && is_read_only) read_only_capabilities_.erase(marked);
    if (read_only && !value.empty() && !is_read_only) {
      read_only_capabilities_.emplace_back(name);
    }
    auto it = std::find_if(capabilities_.begin(), capabilities_.end(),
                           [&](const auto& member) { return member.first == name; });
    bool changed = false;
    if (value.empty()) {
      changed = it != capabilities_.end();
      if (changed) capabilities_.erase(it);
    } else if (it == capabilities_.end()) {
      capabilities_.emplace_back(std::string(name), value);
      changed = true;
    } else if (it->second != value) {
      // Stored values are compact JSON, so they parse; compare by meaning
      // (4 == 4.0, objects as maps).
      changed = nlohmann::json(ParseValue(it->second)) != nlohmann::json(ParseValue(value));
      if (changed) it->second = value;
    }
    if (!changed) return false;
    capabilities_json = ObjectJson(capabilities_);
  }
  {
    ClusterUse cluster(this);
    if (cluster.get() != nullptr) cluster->CapabilitiesChanged(capabilities_json);
  }
  RecheckActors(capabilities_json);
  return true;
}

absl::Status ActorSystem::FitsHere(const ActorClass* actor_class,
                                   const ActorRequirements& requirements) {
  if (requirements.conditions.empty() && !actor_class->has_capability_check()) {
    return absl::OkStatus();
  }
  const std::string capabilities = CapabilitiesJson();
  if (absl::Status holds = CheckRequirementsOnText(requirements.conditions, capabilities);
      !holds.ok()) {
    return absl::FailedPreconditionError(
        troupe::StrCat("actor class '", actor_class->name(), "' cannot run on this node: ",
                       holds.message(), " (this node's capabilities: ", capabilities, ")"));
  }
  if (actor_class->has_capability_check()) {
    const std::string_view text =
        requirements.text.empty() ? std::string_view("{}") : std::string_view(requirements.text);
    if (!actor_class->CapabilityCheck(capabilities, text)) {
      return absl::FailedPreconditionError(
          troupe::StrCat("actor class '", actor_class->name(), "' refuses this node: requirements ",
                         text, " are not met by capabilities ", capabilities));
    }
  }
  return absl::OkStatus();
}

void ActorSystem::NoteRequirements(Cell* cell, const ActorRequirements& requirements) {
  if (requirements.conditions.empty() &&
      (requirements.text.empty() || requirements.text == "{}")) {
    return;
  }
  cell->requirements_ = std::make_unique<ActorRequirements>(requirements);
}

void ActorSystem::RecheckActors(const std::string& capabilities_json) {
  absl::StatusOr<nlohmann::json> parsed = troupe::ParseJson(capabilities_json);
  const nlohmann::json capabilities = parsed.ok() ? *std::move(parsed) : nlohmann::json();
  if (!capabilities.is_object()) {  // made by ObjectJson from parsed values: cannot happen
    LogError("capabilities are not a JSON object: ", capabilities_json);
    return;
  }
  // Who has something to check: requirements or a class check. Pool members
  // are checked through their manager, which holds the pool's requirements.
  std::vector<ActorRef> candidates;
  for (Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) {
      if (!IsLiveCell(cell) || cell->pool_manager_ != nullptr) continue;
      if (cell->requirements_ == nullptr && !CheckedClass(cell)->has_capability_check()) continue;
      candidates.push_back(ActorRef::Share(cell));
    }
  }
  std::string payload;
  for (const ActorRef& actor : candidates) {
    Cell* cell = actor.get();
    const ActorClass* actor_class = CheckedClass(cell);
    static const ActorRequirements kNone;
    const ActorRequirements& requirements =
        cell->requirements_ != nullptr ? *cell->requirements_ : kNone;
    // The class check is library code: hold the library (as CreateInternal
    // does), so an actor exiting meanwhile cannot let it be closed under us.
    const void* library = actor_class->library();
    if (!HoldLibrary(library)) continue;  // unregistered: its actors are gone
    const std::string reason = Unfit(actor_class, requirements, capabilities, capabilities_json);
    ReleaseLibrary(library);
    if (reason.empty()) continue;
    const bool exits = actor_class->exit_when_unfit();
    LogInfo(FormatAddress(cell), " (", actor_class->name(), "): after a capability change, ",
            reason, exits ? "; it exits" : "");
    payload.clear();
    wire::AppendField(&payload, capabilities_json);
    wire::AppendField(&payload, reason);
    if (cell->actor_class() != actor_class) {
      // A pool: its members are the instances of the class; they hear it.
      std::vector<ActorRef> members;
      {
        troupe::MutexLock lock(&cell->children_mu_);
        for (Cell* member : cell->children_) members.push_back(ActorRef::Share(member));
      }
      for (const ActorRef& member : members) {
        Deliver(member.get(), Message::Make(TROUPE_MSG_CAPABILITIES_CHANGED, payload));
      }
    } else {
      Deliver(cell, Message::Make(TROUPE_MSG_CAPABILITIES_CHANGED, payload));
    }
    if (exits) (void)RequestExit(actor);
  }
}

}  // namespace troupe::runtime
