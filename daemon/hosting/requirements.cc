#include "daemon/hosting/requirements.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include "daemon/common/strings.h"
#include "troupe/json.h"

namespace troupe::hosting {
namespace {

using google::protobuf::Value;
using google::protobuf::util::MessageDifferencer;
using troupe::v1::Requirement;

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out).ok()) return "null";
  return out;
}

std::string NumberJson(double number) {
  Value value;
  value.set_number_value(number);
  return ToJson(value);
}

// The condition of `r` as "name": value (without the capability).
std::pair<std::string, std::string> Condition(const Requirement& r) {
  switch (r.condition_case()) {
    case Requirement::kEquals:
      return {"equals", ToJson(r.equals())};
    case Requirement::kAtLeast:
      return {"at_least", NumberJson(r.at_least())};
    case Requirement::kAtMost:
      return {"at_most", NumberJson(r.at_most())};
    case Requirement::kPresent:
      return {"present", r.present() ? "true" : "false"};
    case Requirement::kOneOf:
      return {"one_of", ToJson(r.one_of())};
    case Requirement::CONDITION_NOT_SET:
      break;
  }
  return {"", ""};
}

// "gpu equals true", "memory_gb at_least 4", "gpu absent", ...
std::string Describe(const Requirement& r) {
  if (r.condition_case() == Requirement::kPresent) {
    return troupe::StrCat(r.capability(), r.present() ? " present" : " absent");
  }
  auto [name, value] = Condition(r);
  return troupe::StrCat(r.capability(), " ", name, " ", value);
}

// The members of a JSON object (valid JSON, checked by the caller): each key
// as written (a JSON string literal) and its value's text. Splitting
// the text here, instead of parsing into google.protobuf.Struct, keeps
// protobuf map fields out of this code: their layout differs between a
// ThreadSanitizer build and the distribution's libprotobuf.
bool SplitObject(std::string_view text,
                 std::vector<std::pair<std::string_view, std::string_view>>* members) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
      ++i;
    }
  };
  // Moves past a string starting at text[i] == '"'.
  auto skip_string = [&] {
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\') ++i;
    }
    ++i;
  };
  skip_space();
  if (i >= text.size() || text[i] != '{') return false;
  ++i;
  for (;;) {
    skip_space();
    if (i >= text.size()) return false;
    if (text[i] == '}') return true;
    if (text[i] == ',') {
      ++i;
      continue;
    }
    if (text[i] != '"') return false;
    const size_t key_start = i;
    skip_string();
    const std::string_view key = text.substr(key_start, i - key_start);
    skip_space();
    if (i >= text.size() || text[i] != ':') return false;
    ++i;
    skip_space();
    const size_t value_start = i;
    int depth = 0;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '"') {
        skip_string();
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      }
      if (c == ',' && depth == 0) break;
      ++i;
    }
    std::string_view value = text.substr(value_start, i - value_start);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\n' ||
                              value.back() == '\r')) {
      value.remove_suffix(1);
    }
    members->emplace_back(key, value);
  }
}

// The JSON text `json` as a google.protobuf.Value.
bool ParseValue(std::string_view json, Value* value) {
  return google::protobuf::util::JsonStringToMessage(std::string(json), value).ok();
}

// `value` is null when the capability is absent.
bool Holds(const Requirement& r, const Value* value) {
  const bool present = value != nullptr;
  switch (r.condition_case()) {
    case Requirement::kEquals:
      return present && MessageDifferencer::Equals(*value, r.equals());
    case Requirement::kAtLeast:
      return present && value->kind_case() == Value::kNumberValue &&
             value->number_value() >= r.at_least();
    case Requirement::kAtMost:
      return present && value->kind_case() == Value::kNumberValue &&
             value->number_value() <= r.at_most();
    case Requirement::kPresent:
      return present == r.present();
    case Requirement::kOneOf:
      if (!present) return false;
      for (const Value& candidate : r.one_of().values()) {
        if (MessageDifferencer::Equals(*value, candidate)) return true;
      }
      return false;
    case Requirement::CONDITION_NOT_SET:
      return true;  // the manifest check refuses these
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

absl::StatusOr<Requirements> ParseRequirementsArray(std::string_view json,
                                                    std::string_view subject) {
  size_t first = 0;
  while (first < json.size() && IsSpace(json[first])) ++first;
  if (first == json.size()) return Requirements();
  // Valid JSON starting with '[' is one array, so the wrapper below holds
  // exactly it (nothing else of ActorSpec can be set).
  if (json[first] != '[' || !json::IsValid(json)) {
    return absl::InvalidArgumentError(
        troupe::StrCat(subject,
                       ": not a JSON array of requirements as in a manifest (e.g. "
                       "[{\"capability\": \"gpu\", \"equals\": true}])"));
  }
  troupe::v1::ActorSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      troupe::StrCat("{\"requirements\": ", json, "}"), &spec, options);
  if (!parsed.ok()) {
    // The parser's text: first line, without a final period.
    std::string why = parsed.message().ToString();
    why.resize(std::min(why.size(), why.find_first_of("\r\n")));
    while (!why.empty() && (why.back() == ' ' || why.back() == '.')) why.pop_back();
    return absl::InvalidArgumentError(
        troupe::StrCat(subject, ": not requirements as in a manifest: ", why));
  }
  for (int i = 0; i < spec.requirements_size(); ++i) {
    const Requirement& r = spec.requirements(i);
    std::string where = troupe::StrCat(subject, ": requirements[", i, "]");
    if (r.capability().empty()) {
      return absl::InvalidArgumentError(troupe::StrCat(where, " has no capability"));
    }
    where = troupe::StrCat(where, " (capability '", r.capability(), "')");
    if (r.condition_case() == Requirement::CONDITION_NOT_SET) {
      return absl::InvalidArgumentError(troupe::StrCat(
          where, " has no condition: set one of equals, at_least, at_most, present, one_of"));
    }
    if ((r.condition_case() == Requirement::kAtLeast && std::isnan(r.at_least())) ||
        (r.condition_case() == Requirement::kAtMost && std::isnan(r.at_most()))) {
      return absl::InvalidArgumentError(troupe::StrCat(where, ": its bound is NaN"));
    }
  }
  return std::move(*spec.mutable_requirements());
}

std::string RequirementsJson(const Requirements& requirements) {
  if (requirements.empty()) return "";
  // Capabilities in order of first mention, each with its conditions.
  std::vector<std::pair<std::string, std::string>> objects;
  for (const Requirement& r : requirements) {
    auto [name, value] = Condition(r);
    if (name.empty()) continue;
    std::string member = troupe::StrCat(json::Quote(name), ":", value);
    auto it = objects.begin();
    while (it != objects.end() && it->first != r.capability()) ++it;
    if (it == objects.end()) {
      objects.emplace_back(r.capability(), member);
    } else {
      troupe::StrAppend(&it->second, ",", member);
    }
  }
  std::string out = "{";
  for (const auto& [capability, members] : objects) {
    troupe::StrAppend(&out, out.size() > 1 ? "," : "", json::Quote(capability), ":{", members, "}");
  }
  out += "}";
  return out;
}

absl::Status CheckRequirements(const Requirements& requirements,
                               std::string_view capabilities_json) {
  if (requirements.empty()) return absl::OkStatus();
  const std::string_view text = capabilities_json.empty() ? "{}" : capabilities_json;
  std::vector<std::pair<std::string_view, std::string_view>> members;
  if (!json::IsValid(text) || !SplitObject(text, &members)) {
    return absl::InternalError(
        troupe::StrCat("this node's capabilities are not a JSON object: ", text));
  }
  // Keys unescaped (a later member wins, as in JSON parsers).
  std::vector<std::pair<std::string, std::string_view>> capabilities;
  for (const auto& [key_json, value_json] : members) {
    Value key;
    if (!ParseValue(key_json, &key) || key.kind_case() != Value::kStringValue) {
      return absl::InternalError(troupe::StrCat("capability name ", key_json, " is not a string"));
    }
    capabilities.emplace_back(key.string_value(), value_json);
  }
  for (const Requirement& r : requirements) {
    std::optional<Value> value;
    for (const auto& [name, value_json] : capabilities) {
      if (name != r.capability()) continue;
      value.emplace();
      if (!ParseValue(value_json, &*value)) {
        return absl::InternalError(
            troupe::StrCat("capability '", name, "' is not a JSON value: ", value_json));
      }
    }
    if (!Holds(r, value.has_value() ? &*value : nullptr)) {
      return absl::FailedPreconditionError(troupe::StrCat("requirement '", Describe(r),
                                                          "' does not hold (this node's "
                                                          "capabilities: ",
                                                          text, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace troupe::hosting
