#include "daemon/hosting/requirements.h"

#include <cmath>
#include <cstdint>
#include <utility>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "daemon/common/strings.h"

namespace troupe::hosting {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Value;
using troupe::v1::Requirement;
using Op = runtime::Requirement::Op;

// A message (Value, ListValue) as nlohmann JSON. Through protobuf's JSON
// printer, not field access: that keeps protobuf map fields (Struct) out of
// this code, whose layout differs between a ThreadSanitizer build and the
// distribution's libprotobuf. Integral numbers come out as integers ("4").
nlohmann::json ToJson(const google::protobuf::Message& message) {
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(message, &text).ok()) return nullptr;
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
}

// The inverse of ToJson.
void FromJson(const nlohmann::json& json, google::protobuf::Message* message) {
  const std::string text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  (void)google::protobuf::util::JsonStringToMessage(text, message);
}

// `number` as JSON: an integer when it is one (so it reads "4", not "4.0").
nlohmann::json NumberJson(double number) {
  constexpr double kExact = 9007199254740992.0;  // 2^53
  if (std::trunc(number) == number && std::fabs(number) <= kExact) {
    return static_cast<int64_t>(number);
  }
  return number;
}

}  // namespace

absl::StatusOr<runtime::Requirements> RequirementsFromProto(const ProtoRequirements& requirements,
                                                            std::string_view subject) {
  runtime::Requirements out;
  out.reserve(requirements.size());
  for (int i = 0; i < requirements.size(); ++i) {
    const Requirement& r = requirements.Get(i);
    std::string where = troupe::StrCat(subject, ": requirements[", i, "]");
    if (r.capability().empty()) {
      return absl::InvalidArgumentError(troupe::StrCat(where, " has no capability"));
    }
    where = troupe::StrCat(where, " (capability '", r.capability(), "')");
    runtime::Requirement requirement;
    requirement.capability = r.capability();
    switch (r.condition_case()) {
      case Requirement::kEquals:
        requirement.op = Op::kEquals;
        requirement.operand = ToJson(r.equals());
        break;
      case Requirement::kOneOf:
        requirement.op = Op::kOneOf;
        requirement.operand = ToJson(r.one_of());
        if (!requirement.operand.is_array()) requirement.operand = nlohmann::json::array();
        break;
      case Requirement::kAtLeast:
      case Requirement::kAtMost: {
        const bool at_least = r.condition_case() == Requirement::kAtLeast;
        const double bound = at_least ? r.at_least() : r.at_most();
        if (std::isnan(bound)) {
          return absl::InvalidArgumentError(troupe::StrCat(where, ": its bound is NaN"));
        }
        requirement.op = at_least ? Op::kAtLeast : Op::kAtMost;
        requirement.operand = NumberJson(bound);
        break;
      }
      case Requirement::kPresent:
        requirement.op = Op::kPresent;
        requirement.operand = r.present();
        break;
      case Requirement::CONDITION_NOT_SET:
        return absl::InvalidArgumentError(troupe::StrCat(
            where, " has no condition: set one of equals, at_least, at_most, present, one_of"));
    }
    out.push_back(std::move(requirement));
  }
  return out;
}

void RequirementsToProto(const runtime::Requirements& requirements, ProtoRequirements* out) {
  out->Clear();
  for (const runtime::Requirement& r : requirements) {
    Requirement* proto = out->Add();
    proto->set_capability(r.capability);
    switch (r.op) {
      case Op::kEquals:
        FromJson(r.operand, proto->mutable_equals());
        break;
      case Op::kOneOf:
        FromJson(r.operand, proto->mutable_one_of());
        break;
      case Op::kAtLeast:
        proto->set_at_least(r.operand.is_number() ? r.operand.get<double>() : std::nan(""));
        break;
      case Op::kAtMost:
        proto->set_at_most(r.operand.is_number() ? r.operand.get<double>() : std::nan(""));
        break;
      case Op::kPresent:
        proto->set_present(r.operand.is_boolean() && r.operand.get<bool>());
        break;
    }
  }
}

absl::Status CheckOnThisNode(const runtime::Requirements& requirements,
                             const std::string& capabilities_json) {
  absl::Status holds = runtime::CheckRequirementsOnText(requirements, capabilities_json);
  if (holds.ok()) return holds;
  return absl::Status(holds.code(), troupe::StrCat(holds.message(), " (this node's capabilities: ",
                                                   capabilities_json.empty() ? "{}"
                                                                             : capabilities_json,
                                                   ")"));
}

}  // namespace troupe::hosting
