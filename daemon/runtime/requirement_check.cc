#include "daemon/runtime/requirement_check.h"

#include <string>

#include "daemon/common/strings.h"

namespace troupe::runtime {
namespace {

absl::Status Unmet(std::string_view capability, std::string_view condition,
                   std::string_view operand) {
  return absl::FailedPreconditionError(troupe::StrCat("requirement '", capability, " ", condition,
                                                      operand.empty() ? "" : " ", operand,
                                                      "' does not hold"));
}

// One condition on `value` (nullptr: the capability is absent). Conditions the
// runtime does not understand hold (the class's own check sees them).
absl::Status CheckCondition(std::string_view capability, std::string_view condition,
                            const JsonValue& operand, const JsonValue* value) {
  if (condition == "equals") {
    if (value == nullptr || *value != operand) return Unmet(capability, condition, operand.ToJson());
  } else if (condition == "at_least" || condition == "at_most") {
    if (!operand.is_number()) return absl::OkStatus();
    const bool holds = value != nullptr && value->is_number() &&
                       (condition == "at_least" ? value->number() >= operand.number()
                                                : value->number() <= operand.number());
    if (!holds) return Unmet(capability, condition, operand.ToJson());
  } else if (condition == "present") {
    if (operand.kind() != JsonValue::Kind::kBool) return absl::OkStatus();
    if ((value != nullptr) != operand.boolean()) {
      return Unmet(capability, operand.boolean() ? "present" : "absent", "");
    }
  } else if (condition == "one_of") {
    if (!operand.is_array()) return absl::OkStatus();
    bool found = false;
    if (value != nullptr) {
      for (const JsonValue& candidate : operand.array()) {
        if (*value == candidate) {
          found = true;
          break;
        }
      }
    }
    if (!found) return Unmet(capability, condition, operand.ToJson());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRequirementsObject(const JsonValue& requirements,
                                     const JsonValue& capabilities) {
  if (!requirements.is_object()) return absl::OkStatus();
  for (const JsonValue::Member& requirement : requirements.object()) {
    if (!requirement.second.is_object()) continue;
    const JsonValue* value = capabilities.Find(requirement.first);
    for (const JsonValue::Member& condition : requirement.second.object()) {
      absl::Status holds = CheckCondition(requirement.first, condition.first, condition.second, value);
      if (!holds.ok()) return holds;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRequirementsObject(std::string_view requirements_json,
                                     std::string_view capabilities_json) {
  if (requirements_json.empty()) return absl::OkStatus();
  absl::StatusOr<JsonValue> requirements = JsonValue::Parse(requirements_json);
  if (!requirements.ok()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("requirements are not JSON: ", requirements.status().message()));
  }
  absl::StatusOr<JsonValue> capabilities =
      JsonValue::Parse(capabilities_json.empty() ? "{}" : capabilities_json);
  if (!capabilities.ok() || !capabilities->is_object()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("capabilities are not a JSON object: ", capabilities_json));
  }
  return CheckRequirementsObject(*requirements, *capabilities);
}

}  // namespace troupe::runtime
