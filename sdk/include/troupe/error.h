// error.h - what every header of the C++ actor SDK shares: troupe::Error (the
// exception SDK calls throw when the host refuses, and actor code throws to
// fail a handler with a chosen code), ResultName() for troupe_result_t, and the
// byte views between std::string_view and troupe_bytes_t. Header-only, on the
// C++ standard library and abi.h; troupe/actor.h includes it (and says the
// rules actor code follows).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "troupe/abi.h"

namespace troupe {

// Returns the canonical name of a result code, e.g. "NOT_FOUND".
inline const char* ResultName(troupe_result_t result) noexcept {
  switch (result) {
    case TROUPE_OK:
      return "OK";
    case TROUPE_ERROR_UNKNOWN:
      return "UNKNOWN";
    case TROUPE_ERROR_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case TROUPE_ERROR_NOT_FOUND:
      return "NOT_FOUND";
    case TROUPE_ERROR_ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case TROUPE_ERROR_RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case TROUPE_ERROR_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case TROUPE_ERROR_UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case TROUPE_ERROR_INTERNAL:
      return "INTERNAL";
    case TROUPE_ERROR_UNAVAILABLE:
      return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

// The exception SDK calls throw when the host refuses a request. Actor code
// may throw it too, to fail a handler (or a constructor) with a chosen code;
// the trampolines return code() to the host.
class Error : public std::runtime_error {
 public:
  Error(troupe_result_t code, const std::string& what) : std::runtime_error(what), code_(code) {}
  troupe_result_t code() const noexcept { return code_; }

 private:
  troupe_result_t code_;
};

namespace detail {
inline troupe_bytes_t Bytes(std::string_view s) noexcept { return {s.data(), s.size()}; }
inline std::string_view View(troupe_bytes_t b) noexcept {
  return b.size == 0 ? std::string_view() : std::string_view(b.data, b.size);
}
inline void Check(troupe_result_t result, std::string_view what) {
  if (result != TROUPE_OK) {
    throw Error(result, std::string(what) + " failed: " + ResultName(result));
  }
}
}  // namespace detail

}  // namespace troupe
