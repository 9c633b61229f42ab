// library_memfd.h - a library's bytes in a sealed memfd: how troupd hands a
// verified bundle's libraries to an isolated host, which opens them through
// /proc/self/fd without reading any file (and so under Landlock with no
// path to TROUPE_DIR).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace troupe::isolation {

// A memfd named `name` (for /proc and error messages) holding `bytes`,
// sealed against any change (F_SEAL_SEAL | SHRINK | GROW | WRITE), close-on-
// exec. The caller owns the descriptor.
absl::StatusOr<int> SealedMemfd(std::string_view name, std::string_view bytes);

// SealedMemfd of the file at `path` (at most `max_bytes`).
absl::StatusOr<int> SealedMemfdOfFile(const std::string& path, size_t max_bytes = 256 << 20);

}  // namespace troupe::isolation
