// json.h - reading and writing JSON text with nlohmann::json (Debian's
// nlohmann-json3-dev, header-only), the one JSON library of the daemon and
// director, without exceptions: parsing returns an absl::Status, printing
// never throws. (Plugins link nothing and keep sdk/include/troupe/json.h.)
//
// Parsing is bounded as troupe::json::IsValid is: one value nested at most
// kMaxJsonDepth levels inside the outermost, refused from the first value too
// deep on (linear time, whatever the nesting); strings must be UTF-8 (a lone
// surrogate escape is refused); a number too large for a double is refused.
// Errors name the line and column: "at line 3, column 9: expected ':' after a
// member name".
//
// Which type to parse into: nlohmann::json keeps an object's members sorted
// by name and compares objects as maps (4 == 4.0, member order does not
// matter), for values compared by meaning; nlohmann::ordered_json keeps them
// in the order written, for text shown to people. Of a name given twice, the
// later value counts (unless JsonParseOptions says otherwise).
//
// Functions only; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace troupe {

// Levels allowed inside the outermost value (as troupe::json::IsValid).
inline constexpr int kMaxJsonDepth = 64;

struct JsonParseOptions {
  // A member name as it counts when looking for a name given twice in one
  // object (e.g. "className" counting as "class_name"); unset: the name.
  std::function<std::string(const std::string& name)> same_name;
  // Called for a member name its object already has. `object_path` names the
  // object: "" for the outermost value, else like "actors[0].requirements[1].equals".
  // A non-OK status stops the parse and is its result; OK goes on (the later
  // value replaces the earlier). Unset: names given twice are not looked for.
  std::function<absl::Status(std::string_view object_path, const std::string& name)>
      on_repeated_name;
};

// Exactly one JSON value (RFC 8259; whitespace around it allowed), bounded
// as above. Otherwise InvalidArgument "at line L, column C: <what>", or the
// status on_repeated_name returned.
absl::StatusOr<nlohmann::json> ParseJson(std::string_view text,
                                         const JsonParseOptions& options = {});
absl::StatusOr<nlohmann::ordered_json> ParseOrderedJson(std::string_view text,
                                                        const JsonParseOptions& options = {});

// `value` as compact JSON text (no whitespace, non-ASCII as it is). Never
// throws: bytes that are not UTF-8 in a string become U+FFFD.
std::string JsonText(const nlohmann::json& value);
std::string JsonText(const nlohmann::ordered_json& value);

}  // namespace troupe
