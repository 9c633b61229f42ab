#include "daemon/runtime/requirements.h"

#include <utility>

#include "daemon/common/json.h"
#include "daemon/common/strings.h"

namespace troupe::runtime {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Whether `r` holds for `value` (nullptr: the capability is absent).
bool Holds(const Requirement& r, const Json* value) {
  switch (r.op) {
    case Requirement::Op::kEquals:
      return value != nullptr && *value == r.operand;
    case Requirement::Op::kAtLeast:
    case Requirement::Op::kAtMost: {
      if (value == nullptr || !value->is_number() || !r.operand.is_number()) return false;
      const double have = value->get<double>();
      const double bound = r.operand.get<double>();
      return r.op == Requirement::Op::kAtLeast ? have >= bound : have <= bound;
    }
    case Requirement::Op::kPresent:
      return r.operand.is_boolean() && (value != nullptr) == r.operand.get<bool>();
    case Requirement::Op::kOneOf:
      if (value == nullptr || !r.operand.is_array()) return false;
      for (const Json& candidate : r.operand) {
        if (*value == candidate) return true;
      }
      return false;
  }
  return false;
}

// The condition named `name`, or false.
bool OpNamed(std::string_view name, Requirement::Op* op) {
  for (Requirement::Op candidate :
       {Requirement::Op::kEquals, Requirement::Op::kOneOf, Requirement::Op::kAtLeast,
        Requirement::Op::kAtMost, Requirement::Op::kPresent}) {
    if (OpName(candidate) == name) {
      *op = candidate;
      return true;
    }
  }
  return false;
}

// Whether `operand` has the type `op` needs.
bool OperandFits(Requirement::Op op, const Json& operand) {
  switch (op) {
    case Requirement::Op::kEquals:
      return true;
    case Requirement::Op::kOneOf:
      return operand.is_array();
    case Requirement::Op::kAtLeast:
    case Requirement::Op::kAtMost:
      return operand.is_number();
    case Requirement::Op::kPresent:
      return operand.is_boolean();
  }
  return false;
}

}  // namespace

std::string_view OpName(Requirement::Op op) {
  switch (op) {
    case Requirement::Op::kEquals:
      return "equals";
    case Requirement::Op::kOneOf:
      return "one_of";
    case Requirement::Op::kAtLeast:
      return "at_least";
    case Requirement::Op::kAtMost:
      return "at_most";
    case Requirement::Op::kPresent:
      return "present";
  }
  return "?";
}

std::string Describe(const Requirement& requirement) {
  if (requirement.op == Requirement::Op::kPresent && requirement.operand.is_boolean()) {
    return troupe::StrCat(requirement.capability,
                          requirement.operand.get<bool>() ? " present" : " absent");
  }
  return troupe::StrCat(requirement.capability, " ", OpName(requirement.op), " ",
                        Dump(requirement.operand));
}

absl::Status CheckRequirements(const Requirements& requirements, const Json& capabilities) {
  if (requirements.empty()) return absl::OkStatus();
  if (!capabilities.is_object()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("capabilities are not a JSON object: ", Dump(capabilities)));
  }
  for (const Requirement& r : requirements) {
    auto found = capabilities.find(r.capability);
    if (!Holds(r, found == capabilities.end() ? nullptr : &*found)) {
      return absl::FailedPreconditionError(
          troupe::StrCat("requirement '", Describe(r), "' does not hold"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRequirementsOnText(const Requirements& requirements,
                                     std::string_view capabilities_json) {
  if (requirements.empty()) return absl::OkStatus();
  const std::string_view text = capabilities_json.empty() ? "{}" : capabilities_json;
  absl::StatusOr<Json> parsed = troupe::ParseJson(text);
  const Json capabilities = parsed.ok() ? *std::move(parsed) : Json();
  if (!capabilities.is_object()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("capabilities are not a JSON object: ", text));
  }
  return CheckRequirements(requirements, capabilities);
}

std::string RequirementsObjectJson(const Requirements& requirements) {
  // Capabilities in order of first mention, each with its conditions.
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const Requirement& r : requirements) {
    object[r.capability][std::string(OpName(r.op))] = nlohmann::ordered_json(r.operand);
  }
  return object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

ActorRequirements ForClassCheck(Requirements requirements) {
  ActorRequirements out;
  if (!requirements.empty()) out.text = RequirementsObjectJson(requirements);
  out.conditions = std::move(requirements);
  return out;
}

absl::StatusOr<ActorRequirements> ParseRequirementsObject(std::string_view text) {
  ActorRequirements out;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;
  // Ordered: the first requirement that fails is the first one written.
  // json.h's depth limit: a plugin's text must not overflow the stack of
  // whoever prints or compares it.
  absl::StatusOr<nlohmann::ordered_json> parsed_or = troupe::ParseOrderedJson(text);
  if (!parsed_or.ok()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("requirements are not valid JSON (", parsed_or.status().message(), ")"));
  }
  nlohmann::ordered_json parsed = *std::move(parsed_or);
  out.text = std::string(text);
  auto leave = [&](std::string why) {
    if (out.opaque.empty()) out.opaque = std::move(why);
  };
  if (!parsed.is_object()) {
    leave("requirements that are not a JSON object of conditions");
    return out;
  }
  for (const auto& [capability, conditions] : parsed.items()) {
    if (!conditions.is_object()) {
      leave(troupe::StrCat("the requirement on '", capability, "' is not an object of conditions"));
      continue;
    }
    for (const auto& [name, operand] : conditions.items()) {
      Requirement::Op op;
      if (!OpNamed(name, &op)) {
        leave(troupe::StrCat("condition '", name, "' on '", capability,
                             "' is not one of equals, at_least, at_most, present, one_of"));
        continue;
      }
      Json value(operand);
      if (!OperandFits(op, value)) {
        leave(troupe::StrCat("the operand of '", capability, " ", name, "' is ", Dump(value),
                             op == Requirement::Op::kOneOf  ? ", not an array"
                             : op == Requirement::Op::kPresent ? ", not a boolean"
                                                               : ", not a number"));
        continue;
      }
      out.conditions.push_back({capability, op, std::move(value)});
    }
  }
  return out;
}

}  // namespace troupe::runtime
