// utf8.cc - see utf8.h.
#include "daemon/common/utf8.h"

#include <cstdint>

namespace troupe {

namespace {

// The length of the well-formed UTF-8 character at text[i], or 0.
size_t CharLength(std::string_view text, size_t i) {
  const size_t n = text.size();
  const uint8_t c = static_cast<uint8_t>(text[i]);
  if (c < 0x80) return 1;
  int more;
  uint32_t code;
  uint32_t least;
  if ((c & 0xE0) == 0xC0) {
    more = 1, code = c & 0x1F, least = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    more = 2, code = c & 0x0F, least = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    more = 3, code = c & 0x07, least = 0x10000;
  } else {
    return 0;  // a continuation byte first, or 0xF8..0xFF
  }
  if (n - i <= static_cast<size_t>(more)) return 0;
  for (int k = 1; k <= more; ++k) {
    const uint8_t next = static_cast<uint8_t>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code = (code << 6) | (next & 0x3F);
  }
  if (code < least || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return static_cast<size_t>(more) + 1;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = CharLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string ToValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = CharLength(text, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

}  // namespace troupe
