// strings.h - absl::StrCat / StrAppend that also take std::string_view.
// Debian's Abseil 20220623 has its own absl::string_view (not an alias of
// std::string_view), so daemon code concatenates through these. Also the one
// Trim (white space at both ends) and the one Hex / Unhex of the daemon and
// director.
#pragma once

#include <cstddef>
#include <cstdint>
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

// `text` without the ASCII white space (space, \t, \n, \v, \f, \r) at either
// end; a view into `text`.
inline std::string_view Trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

// The `size` bytes at `data` as lowercase hex digits, two a byte. Its time
// does not depend on the bytes' values (no branch or table lookup on them), as
// with libsodium's sodium_bin2hex, so keys and tokens may go through it.
inline std::string Hex(const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::string out(2 * size, '\0');
  for (size_t i = 0; i < 2 * size; ++i) {
    const unsigned nibble = (i % 2 == 0 ? bytes[i / 2] >> 4 : bytes[i / 2]) & 0xFu;
    // '0' + nibble, and 39 more ('a' - '0' - 10) when nibble > 9: 9 - nibble
    // wraps around then, so its bits above the low 8 are all set.
    out[i] = static_cast<char>('0' + nibble + (((9u - nibble) >> 8) & 39u));
  }
  return out;
}

// Decodes `hex`, exactly 2 * `size` hex digits of either case, into the `size`
// bytes at `out`. False when `hex` has another length or a character that is
// not a hex digit; `out` then holds garbage the caller must not use (and
// should wipe, for a secret). Like sodium_hex2bin, its time does not depend on
// the digits' values.
inline bool Unhex(std::string_view hex, uint8_t* out, size_t size) {
  if (hex.size() != 2 * size) return false;
  unsigned valid = 1;
  unsigned high = 0;
  for (size_t i = 0; i < hex.size(); ++i) {
    const unsigned c = static_cast<unsigned char>(hex[i]);
    // A mask is all ones in its low 8 bits when the character is of its kind
    // (the subtraction wraps around), else 0.
    const unsigned digit = c ^ 48u;  // '0'..'9' -> 0..9
    const unsigned digit_mask = (digit - 10u) >> 8;
    const unsigned letter = (c | 32u) - 87u;  // 'a'..'f', 'A'..'F' -> 10..15
    const unsigned letter_mask = ((letter - 10u) ^ (letter - 16u)) >> 8;
    valid &= (digit_mask | letter_mask) & 1u;
    const unsigned value = ((digit_mask & digit) | (letter_mask & letter)) & 0xFu;
    if (i % 2 == 0) {
      high = value << 4;
    } else {
      out[i / 2] = static_cast<uint8_t>(high | value);
    }
  }
  return valid != 0;
}

}  // namespace troupe
