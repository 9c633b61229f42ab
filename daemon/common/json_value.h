// json_value.h - JsonValue: a small parsed JSON value (RFC 8259) for daemon
// code that must look inside JSON without protobuf: capability values and
// requirements (daemon/runtime), capability files (daemon/config), the
// capabilities listing (director). Parse errors name the line and column.
//
// Equality is by meaning, as protobuf's google.protobuf.Value compares (which
// daemon/hosting uses for the same requirements): numbers as doubles (4 ==
// 4.0), strings after unescaping, arrays in order, objects as maps (member
// order does not matter; of repeated names the last counts).
//
// A value, thread-compatible (copy it freely; no shared state).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace troupe {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  using Member = std::pair<std::string, JsonValue>;

  JsonValue() = default;  // null

  // Exactly one JSON value (surrounding whitespace allowed), with at most 64
  // levels inside the outermost one (as troupe::json::IsValid). Otherwise
  // InvalidArgument "at line L, column C: <what>", also for a number too
  // large for a double (a too small one becomes 0).
  static absl::StatusOr<JsonValue> Parse(std::string_view text);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_array() const { return kind_ == Kind::kArray; }

  bool boolean() const { return boolean_; }
  double number() const { return number_; }
  // The unescaped text of a string (UTF-8).
  const std::string& string() const { return text_; }
  const std::vector<JsonValue>& array() const { return array_; }
  // An object's members in the order written; repeated names are kept.
  const std::vector<Member>& object() const { return object_; }
  // The last member named `name` of an object, or nullptr.
  const JsonValue* Find(std::string_view name) const;

  // Compact JSON text (no whitespace); numbers as they were written.
  std::string ToJson() const;

  friend bool operator==(const JsonValue& a, const JsonValue& b);
  friend bool operator!=(const JsonValue& a, const JsonValue& b) { return !(a == b); }

 private:
  friend class JsonParser;

  Kind kind_ = Kind::kNull;
  bool boolean_ = false;
  double number_ = 0;
  std::string text_;  // a string's value, or a number's text
  std::vector<JsonValue> array_;
  std::vector<Member> object_;
};

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace troupe
