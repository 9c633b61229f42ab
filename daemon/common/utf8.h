// utf8.h - IsValidUtf8: the check protobuf applies to proto3 `string` fields,
// so a service can refuse bad text with its own error naming the field
// instead of failing the whole call inside the gRPC deserializer.
#pragma once

#include <string>
#include <string_view>

namespace troupe {

// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// `text` with each byte that does not start a well-formed character replaced
// by U+FFFD (text an actor logged, to fit a proto3 string).
std::string ToValidUtf8(std::string_view text);

}  // namespace troupe
