// strings.h - absl::StrCat / StrAppend that also take std::string_view.
// Debian's Abseil 20220623 has its own absl::string_view (not an alias of
// std::string_view), so daemon code concatenates through these.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace troupe {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

namespace strings_internal {
template <typename T>
decltype(auto) AlphaNumArg(const T& v) {
  if constexpr (std::is_convertible_v<const T&, std::string_view> &&
                !std::is_convertible_v<const T&, absl::string_view>) {
    return ToAbsl(std::string_view(v));
  } else {
    return (v);
  }
}
}  // namespace strings_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(strings_internal::AlphaNumArg(args)...);
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  absl::StrAppend(out, strings_internal::AlphaNumArg(args)...);
}

// `text` in single quotes for an error message, cut to at most `max` bytes
// (on a UTF-8 character boundary) when longer: 'troupe://ab...' (1048576 bytes).
// Quote a client's input through this, so a long input makes no long error.
inline std::string Quoted(std::string_view text, size_t max = 128) {
  if (text.size() <= max) return StrCat("'", text, "'");
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return StrCat("'", text.substr(0, cut), "...' (", text.size(), " bytes)");
}

}  // namespace troupe
