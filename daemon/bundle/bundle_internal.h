// bundle_internal.h - private to daemon/bundle: what bundle.cc (signing and
// verifying), zip_reader.cc (opening a zip and reading its entries safely),
// index.cc (the signed index) and zip_writer.cc share.
#pragma once

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "daemon/bundle/manifest.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/bundle/bundle.h"

namespace troupe::bundle::internal {

inline constexpr std::string_view kIndexHeader = "troupe-bundle-index 1";
inline constexpr std::string_view kIndexHeaderPrefix = "troupe-bundle-index ";
inline constexpr size_t kHashBytes = 32;
inline constexpr size_t kReadChunk = 64 * 1024;

template <typename... Args>
inline absl::Status Reject(std::string_view where, const Args&... args) {
  return absl::FailedPreconditionError(StrCat(where, ": ", args...));
}

// An entry name as shown in errors: non-printable bytes escaped, so a hostile
// name cannot write control sequences to a terminal or log.
inline std::string Shown(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

inline bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// BLAKE2b-256, fed in pieces.
class Blake2b {
 public:
  Blake2b() { crypto_generichash_init(&state_, nullptr, 0, kHashBytes); }
  void Update(const void* data, size_t size) {
    crypto_generichash_update(&state_, static_cast<const unsigned char*>(data), size);
  }
  std::string HexDigest() {
    uint8_t out[kHashBytes];
    crypto_generichash_final(&state_, out, sizeof out);
    return Hex(out, sizeof out);
  }

 private:
  crypto_generichash_state state_;
};

inline std::string HashHex(std::string_view data) {
  Blake2b hash;
  hash.Update(data.data(), data.size());
  return hash.HexDigest();
}

inline uint64_t SaturatingMulAdd(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t product;
  if (__builtin_mul_overflow(a, b, &product)) return UINT64_MAX;
  uint64_t sum;
  if (__builtin_add_overflow(product, c, &sum)) return UINT64_MAX;
  return sum;
}

// The largest index a bundle within `limits` can need.
inline uint64_t MaxIndexBytes(const Limits& limits) {
  return SaturatingMulAdd(limits.max_entries, limits.max_path_bytes + 128, 512);
}

// Why `name` is not an acceptable entry name, or nothing. Entry names are
// relative paths of printable ASCII, with no empty, '.' or '..' components,
// inside the bundle layout (manifest.json, lib/, deps/, data/).
inline std::optional<std::string> PathProblem(std::string_view name, const Limits& limits) {
  if (name.empty()) return "empty name";
  if (name.size() > limits.max_path_bytes) {
    return StrCat("longer than ", limits.max_path_bytes, " bytes");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7f) return std::string("non-printable or non-ASCII character");
  }
  if (name.front() == '/') return std::string("absolute path");
  if (name.find('\\') != std::string_view::npos) return std::string("backslash");
  if (name.back() == '/') return std::string("a directory");
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty()) return std::string("empty path component");
    if (part == "." || part == "..") return StrCat("'", part, "' component");
    start = end + 1;
  }
  if (name == kManifestEntry || name == kIndexEntry) return std::nullopt;
  // lib/ and deps/ hold plain files (the loader writes them out by name);
  // data/ may have subdirectories.
  for (std::string_view dir : {"lib/", "deps/"}) {
    if (name.substr(0, dir.size()) != dir) continue;
    if (name.find('/', dir.size()) != std::string_view::npos) {
      return StrCat("subdirectory under ", dir, " (only plain files belong there)");
    }
    if (dir == "lib/" && (name.size() < 8 || name.substr(name.size() - 3) != ".so")) {
      return std::string("not a lib/<name>.so library");
    }
    return std::nullopt;
  }
  if (name.substr(0, 5) == "data/") return std::nullopt;
  return std::string("outside the bundle layout: manifest.json, lib/, deps/, data/");
}

// ---- zip_reader.cc

uint64_t LoadLe(std::string_view bytes, size_t at, int width);

// libzip builds a record for every central-directory entry before we can
// count them (and grows past the declared count while directory bytes last),
// so a tiny-entry directory could cost gigabytes before any limit applies.
// This reads every end-of-central-directory candidate libzip might pick (the
// signature anywhere in the last 64 KiB + 22 bytes) and its zip64 record,
// and refuses a declared entry count or directory size past the limits.
absl::Status CheckDirectoryBounds(std::string_view bytes, const Limits& limits,
                                  std::string_view where);

struct ZipDiscard {
  void operator()(zip_t* za) const { zip_discard(za); }
};

using ZipPtr = std::unique_ptr<zip_t, ZipDiscard>;
struct ZipFileClose {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

using ZipFilePtr = std::unique_ptr<zip_file_t, ZipFileClose>;

// libzip's messages start with a capital ("Not a zip archive"); ours do not.
// Acronyms ("CRC error") stay as they are.
inline std::string LowerFirst(std::string s) {
  bool acronym = s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z';
  if (!acronym && !s.empty() && s[0] >= 'A' && s[0] <= 'Z') {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

// The error for a zip that libzip refused because two entries share a name:
// reopens it without the consistency checks only to find the name.
absl::Status DuplicateNameError(std::string_view bytes, std::string_view where);

// Opens `bytes` (which must outlive the result) read-only with libzip's
// consistency checks. InvalidArgument when it is not a zip.
absl::StatusOr<ZipPtr> OpenZip(std::string_view bytes, std::string_view where);

struct ZipEntry {
  zip_uint64_t index = 0;
  std::string name;
  uint64_t size = 0;  // declared, uncompressed
};

const char* FileKind(uint32_t type);

// Checks everything the zip's directory declares (count, names, duplicates,
// file types, methods, sizes, ratios) without reading any entry's data.
// Returns the entries sorted by name.
absl::StatusOr<std::vector<ZipEntry>> CheckStructure(zip_t* za, const Limits& limits,
                                                     std::string_view where);

// Reads entry `entry` with a hard cap at its declared size (already checked
// against the limits): a header that lies about the size cannot make us read
// more. Returns the BLAKE2b-256 hex of the content; keeps the content in
// `content` when it is not null.
absl::StatusOr<std::string> ReadAndHash(zip_t* za, const ZipEntry& entry, std::string_view where,
                                        std::string* content);

// ---- index.cc

struct Index {
  std::vector<VerifiedEntry> entries;  // sorted by name
  std::string key_id;
  std::array<uint8_t, 64> signature{};
  size_t signed_bytes = 0;   // everything before the signature line
  size_t content_bytes = 0;  // header and entry lines (the source hash input)
};

bool ParseDecimal(std::string_view s, uint64_t* out);

absl::StatusOr<Index> ParseIndex(std::string_view text, const Limits& limits,
                                 std::string_view where);

// The index text for `entries` (sorted), without its signature line.
std::string UnsignedIndex(const std::vector<VerifiedEntry>& entries, std::string_view key_id);

// ---- zip_writer.cc

// 1980-01-01 00:00 local time: libzip converts to DOS time with localtime(),
// so this is the same DOS timestamp in every time zone.
time_t FixedMtime();

struct ZipInput {
  std::string_view name;
  std::string_view content;
  bool executable = false;
};

absl::StatusOr<std::string> WriteZip(const std::vector<ZipInput>& inputs);

}  // namespace troupe::bundle::internal
