// message_body.cc - see message_body.h.
#include "daemon/http/message_body.h"

#include "absl/strings/ascii.h"
#include "daemon/common/strings.h"
#include "daemon/common/utf8.h"
#include "httplib.h"
#include "troupe/json.h"

namespace troupe::http {
namespace {

// "Text/Plain; charset=utf-8" -> "text/plain".
std::string MediaType(std::string_view content_type) {
  const size_t semicolon = content_type.find(';');
  if (semicolon != std::string_view::npos) content_type = content_type.substr(0, semicolon);
  std::string media(content_type);
  absl::StripAsciiWhitespace(&media);
  absl::AsciiStrToLower(&media);
  return media;
}

bool IsJsonType(std::string_view type) {
  auto ends_with = [type](std::string_view suffix) {
    return type.size() >= suffix.size() && type.substr(type.size() - suffix.size()) == suffix;
  };
  return type == "json" || ends_with(".json") || ends_with("+json");
}

}  // namespace

absl::StatusOr<std::string> PayloadFromBody(std::string_view content_type, std::string body) {
  const std::string media = MediaType(content_type);
  if (media.empty() || media == "application/octet-stream") return body;
  if (media == "text/plain") {
    if (!IsValidUtf8(body)) {
      return absl::InvalidArgumentError("the text/plain body is not valid UTF-8");
    }
    return body;
  }
  if (media == "application/json") {
    if (!json::IsValid(body)) {
      return absl::InvalidArgumentError("the application/json body is not valid JSON");
    }
    return body;
  }
  if (media == "application/x-www-form-urlencoded") {
    httplib::Params fields;
    httplib::detail::parse_query_text(body, fields);
    auto message = fields.find("message");
    if (message == fields.end()) {
      return absl::InvalidArgumentError(
          "the application/x-www-form-urlencoded body has no 'message' field");
    }
    return message->second;
  }
  return absl::UnimplementedError(troupe::StrCat(
      "unsupported Content-Type ", troupe::Quoted(content_type),
      ": send application/json, text/plain, application/octet-stream or "
      "application/x-www-form-urlencoded (with a 'message' field)"));
}

bool IsTextReply(std::string_view type, std::string_view payload) {
  if (IsJsonType(type)) return IsValidUtf8(payload);
  for (unsigned char c : payload) {
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;
  }
  return IsValidUtf8(payload);
}

std::string ContentTypeForReply(std::string_view type, std::string_view payload) {
  if (IsJsonType(type)) return "application/json";
  if (IsTextReply(type, payload)) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace troupe::http
