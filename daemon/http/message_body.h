// message_body.h - between HTTP bodies and Troupe messages (bytes + type).
//
// In (POST .../messages, .../ask, .../executions): the payload comes from
// the body by its Content-Type: application/json (must be valid JSON, sent as
// its text), text/plain (must be UTF-8), application/octet-stream (any
// bytes), application/x-www-form-urlencoded (the `message` field, as Abaco
// takes it). Parameters such as "; charset=utf-8" are ignored; no
// Content-Type is taken as application/octet-stream.
//
// Out (a reply): type `json`, or a type ending in `.json` or `+json`, is
// application/json; any other reply whose payload is UTF-8 text (no control
// characters but tab, CR and LF) is text/plain; anything else is
// application/octet-stream. The type itself travels in the
// Troupe-Message-Type header.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace troupe::http {

inline constexpr std::string_view kMessageTypeHeader = "Troupe-Message-Type";

// The payload of a message sent with `body` as `content_type`.
// InvalidArgument for a body that is not what its type says (naming the
// type); Unimplemented for a Content-Type not listed above (the caller
// answers 415).
absl::StatusOr<std::string> PayloadFromBody(std::string_view content_type, std::string body);

// The Content-Type a reply of `type` with `payload` is sent with.
std::string ContentTypeForReply(std::string_view type, std::string_view payload);
// Whether such a reply is text (text/plain or JSON), as opposed to bytes.
bool IsTextReply(std::string_view type, std::string_view payload);

}  // namespace troupe::http
