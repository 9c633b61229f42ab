// json_check.h - a strict syntax check for JSON text (RFC 8259), enough to
// refuse malformed capability values and requirements with a clear error.
// The runtime does not interpret JSON beyond that.
#pragma once

#include <string>
#include <string_view>

namespace troupe::runtime {

// True when `text` is exactly one JSON value (surrounding whitespace allowed).
bool IsValidJson(std::string_view text);
// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace troupe::runtime
