// bundle.cc - writing and verifying signed bundles (see bundle.h and
// docs/bundle-format.md).
#include "daemon/bundle/bundle.h"

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

namespace troupe::bundle {
namespace {

constexpr std::string_view kIndexHeader = "troupe-bundle-index 1";
constexpr std::string_view kIndexHeaderPrefix = "troupe-bundle-index ";
constexpr size_t kHashBytes = 32;
constexpr size_t kReadChunk = 64 * 1024;

// ---------------------------------------------------------------- helpers

template <typename... Args>
absl::Status Reject(std::string_view where, const Args&... args) {
  return absl::FailedPreconditionError(StrCat(where, ": ", args...));
}

// An entry name as shown in errors: non-printable bytes escaped, so a hostile
// name cannot write control sequences to a terminal or log.
std::string Shown(std::string_view name) {
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

std::string Hex(const uint8_t* data, size_t size) {
  std::string out(2 * size + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

bool IsLowerHex(std::string_view s) {
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

std::string HashHex(std::string_view data) {
  Blake2b hash;
  hash.Update(data.data(), data.size());
  return hash.HexDigest();
}

uint64_t SaturatingMulAdd(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t product;
  if (__builtin_mul_overflow(a, b, &product)) return UINT64_MAX;
  uint64_t sum;
  if (__builtin_add_overflow(product, c, &sum)) return UINT64_MAX;
  return sum;
}

// The largest index a bundle within `limits` can need.
uint64_t MaxIndexBytes(const Limits& limits) {
  return SaturatingMulAdd(limits.max_entries, limits.max_path_bytes + 128, 512);
}

// Why `name` is not an acceptable entry name, or nothing. Entry names are
// relative paths of printable ASCII, with no empty, '.' or '..' components,
// inside the bundle layout (manifest.json, lib/, deps/, data/).
std::optional<std::string> PathProblem(std::string_view name, const Limits& limits) {
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

// ---------------------------------------------------------------- libzip

uint64_t LoadLe(std::string_view bytes, size_t at, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// libzip builds a record for every central-directory entry before we can
// count them (and grows past the declared count while directory bytes last),
// so a tiny-entry directory could cost gigabytes before any limit applies.
// This reads every end-of-central-directory candidate libzip might pick (the
// signature anywhere in the last 64 KiB + 22 bytes) and its zip64 record,
// and refuses a declared entry count or directory size past the limits.
absl::Status CheckDirectoryBounds(std::string_view bytes, const Limits& limits,
                                  std::string_view where) {
  constexpr size_t kEocdSize = 22, kZip64LocatorSize = 20, kZip64EocdSize = 56;
  const uint64_t max_entries = limits.max_entries;
  // Per entry: the 46-byte header, the name and a generous allowance for
  // extra fields (our writer adds none).
  const uint64_t max_directory = max_entries * (46 + limits.max_path_bytes + 256);
  if (bytes.size() < kEocdSize) return absl::OkStatus();  // libzip says "not a zip"
  const size_t lowest = bytes.size() > kEocdSize + 0xFFFF ? bytes.size() - kEocdSize - 0xFFFF : 0;
  for (size_t at = bytes.size() - kEocdSize + 1; at-- > lowest;) {
    if (LoadLe(bytes, at, 4) != 0x06054b50) continue;
    uint64_t entries = LoadLe(bytes, at + 10, 2);
    uint64_t directory = LoadLe(bytes, at + 12, 4);
    if ((entries == 0xFFFF || directory == 0xFFFFFFFF) && at >= kZip64LocatorSize &&
        LoadLe(bytes, at - kZip64LocatorSize, 4) == 0x07064b50) {
      uint64_t record = LoadLe(bytes, at - kZip64LocatorSize + 8, 8);
      if (record > bytes.size() - kZip64EocdSize || LoadLe(bytes, record, 4) != 0x06064b50) {
        return Reject(where, "malformed zip64 end record");
      }
      entries = LoadLe(bytes, record + 32, 8);
      directory = LoadLe(bytes, record + 40, 8);
    }
    if (entries > max_entries) {
      return Reject(where, "has ", entries, " entries, over the limit of ", max_entries);
    }
    if (directory > max_directory) {
      return Reject(where, "declares a ", directory, "-byte directory, over the limit of ",
                    max_directory, " bytes for ", max_entries, " entries");
    }
  }
  return absl::OkStatus();
}

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
std::string LowerFirst(std::string s) {
  bool acronym = s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z';
  if (!acronym && !s.empty() && s[0] >= 'A' && s[0] <= 'Z') {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

// The error for a zip that libzip refused because two entries share a name:
// reopens it without the consistency checks only to find the name.
absl::Status DuplicateNameError(std::string_view bytes, std::string_view where) {
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, nullptr);
  zip_t* za = source ? zip_open_from_source(source, ZIP_RDONLY, nullptr) : nullptr;
  if (za == nullptr) {
    if (source != nullptr) zip_source_free(source);
    return Reject(where, "duplicate entry names");
  }
  std::set<std::string> seen;
  std::string duplicate;
  zip_int64_t count = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < count && duplicate.empty(); ++i) {
    const char* name = zip_get_name(za, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (name != nullptr && !seen.insert(name).second) duplicate = name;
  }
  zip_discard(za);
  if (duplicate.empty()) return Reject(where, "duplicate entry names");
  return Reject(where, "duplicate entry '", Shown(duplicate), "'");
}

// Opens `bytes` (which must outlive the result) read-only with libzip's
// consistency checks. InvalidArgument when it is not a zip.
absl::StatusOr<ZipPtr> OpenZip(std::string_view bytes, std::string_view where) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError(StrCat(where, ": not a bundle (empty file)"));
  }
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (source == nullptr) {
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    return absl::InternalError(StrCat(where, ": cannot read (", message, ")"));
  }
  zip_t* za = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (za == nullptr) {
    zip_source_free(source);
    if (zip_error_code_zip(&error) == ZIP_ER_EXISTS) {
      // With ZIP_CHECKCONS libzip refuses duplicate names; say which one.
      zip_error_fini(&error);
      return DuplicateNameError(bytes, where);
    }
    std::string message = LowerFirst(zip_error_strerror(&error));
    zip_error_fini(&error);
    return absl::InvalidArgumentError(
        StrCat(where, ": not a bundle (not a zip file: ", message, ")"));
  }
  zip_error_fini(&error);
  return ZipPtr(za);
}

struct ZipEntry {
  zip_uint64_t index = 0;
  std::string name;
  uint64_t size = 0;  // declared, uncompressed
};

const char* FileKind(uint32_t type) {
  switch (type) {
    case S_IFLNK:
      return "a symlink";
    case S_IFDIR:
      return "a directory";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    case S_IFIFO:
      return "a fifo";
    case S_IFSOCK:
      return "a socket";
    default:
      return "a special file";
  }
}

// Checks everything the zip's directory declares (count, names, duplicates,
// file types, methods, sizes, ratios) without reading any entry's data.
// Returns the entries sorted by name.
absl::StatusOr<std::vector<ZipEntry>> CheckStructure(zip_t* za, const Limits& limits,
                                                     std::string_view where) {
  zip_int64_t count = zip_get_num_entries(za, 0);
  if (count < 0) return Reject(where, "cannot list entries");
  if (static_cast<uint64_t>(count) > limits.max_entries) {
    return Reject(where, "has ", count, " entries, over the limit of ", limits.max_entries);
  }
  std::vector<ZipEntry> entries;
  std::set<std::string> seen;
  uint64_t total = 0;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    const char* raw = zip_get_name(za, i, ZIP_FL_ENC_RAW);
    if (raw == nullptr) return Reject(where, "entry ", i, " has no name");
    std::string name = raw;
    std::string shown = Shown(name);
    if (std::optional<std::string> problem = PathProblem(name, limits)) {
      if (*problem == "a directory") {
        return Reject(where, "entry '", shown, "' is a directory (only regular files are allowed)");
      }
      return Reject(where, "entry '", shown, "' has an unsafe path (", *problem, ")");
    }
    if (!seen.insert(name).second) {
      return Reject(where, "duplicate entry '", shown, "'");
    }
    zip_uint8_t opsys = 0;
    zip_uint32_t attributes = 0;
    if (zip_file_get_external_attributes(za, i, 0, &opsys, &attributes) != 0) {
      return Reject(where, "entry '", shown, "' has unreadable attributes");
    }
    if (opsys == ZIP_OPSYS_UNIX) {
      uint32_t mode = attributes >> 16;
      uint32_t type = mode & S_IFMT;
      if (type != 0 && type != S_IFREG) {
        return Reject(where, "entry '", shown, "' is ", FileKind(type),
                      " (only regular files are allowed)");
      }
      if ((mode & 07000) != 0) {
        return Reject(where, "entry '", shown,
                      "' has setuid, setgid or sticky bits (only plain modes are allowed)");
      }
    } else if ((attributes & 0x10) != 0) {  // MS-DOS directory attribute
      return Reject(where, "entry '", shown, "' is a directory (only regular files are allowed)");
    }
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, i, 0, &st) != 0) {
      return Reject(where, "entry '", shown, "' cannot be examined (", LowerFirst(zip_strerror(za)),
                    ")");
    }
    constexpr zip_uint64_t kNeeded =
        ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
    if ((st.valid & kNeeded) != kNeeded) {
      return Reject(where, "entry '", shown, "' has incomplete sizes in its header");
    }
    if (st.encryption_method != ZIP_EM_NONE) {
      return Reject(where, "entry '", shown, "' is encrypted (not allowed)");
    }
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
      return Reject(where, "entry '", shown, "' uses compression method ", st.comp_method,
                    " (only stored and deflate are allowed)");
    }
    uint64_t limit = limits.max_entry_bytes;
    if (name == kManifestEntry) limit = limits.max_manifest_bytes;
    if (name == kIndexEntry) limit = MaxIndexBytes(limits);
    if (st.size > limit) {
      return Reject(where, "entry '", shown, "' is ", st.size, " bytes, over the limit of ", limit,
                    " bytes");
    }
    if (__builtin_add_overflow(total, st.size, &total) || total > limits.max_total_bytes) {
      return Reject(where, "entries add up to more than the limit of ", limits.max_total_bytes,
                    " bytes (uncompressed)");
    }
    uint64_t allowed = 0;
    bool overflow = __builtin_mul_overflow(st.comp_size, limits.max_compression_ratio, &allowed);
    if (!overflow && st.size > allowed) {
      return Reject(where, "entry '", shown, "' expands from ", st.comp_size, " to ", st.size,
                    " bytes, a compression ratio over the limit of ", limits.max_compression_ratio);
    }
    entries.push_back(ZipEntry{i, std::move(name), st.size});
  }
  std::sort(entries.begin(), entries.end(),
            [](const ZipEntry& a, const ZipEntry& b) { return a.name < b.name; });
  return entries;
}

// Reads entry `entry` with a hard cap at its declared size (already checked
// against the limits): a header that lies about the size cannot make us read
// more. Returns the BLAKE2b-256 hex of the content; keeps the content in
// `content` when it is not null.
absl::StatusOr<std::string> ReadAndHash(zip_t* za, const ZipEntry& entry, std::string_view where,
                                        std::string* content) {
  std::string shown = Shown(entry.name);
  ZipFilePtr file(zip_fopen_index(za, entry.index, 0));
  if (file == nullptr) {
    return Reject(where, "entry '", shown, "' cannot be read (", LowerFirst(zip_strerror(za)), ")");
  }
  if (content != nullptr) {
    content->clear();
    content->reserve(entry.size);
  }
  Blake2b hash;
  std::unique_ptr<char[]> buf(new char[kReadChunk]);
  uint64_t total = 0;
  while (true) {
    zip_int64_t n = zip_fread(file.get(), buf.get(), kReadChunk);
    if (n < 0) {
      return Reject(where, "entry '", shown, "' cannot be read (",
                    LowerFirst(zip_file_strerror(file.get())), ")");
    }
    if (n == 0) break;
    if (static_cast<uint64_t>(n) > entry.size - total) {
      return Reject(where, "entry '", shown, "' holds more data than its header declares (",
                    entry.size, " bytes)");
    }
    total += static_cast<uint64_t>(n);
    hash.Update(buf.get(), static_cast<size_t>(n));
    if (content != nullptr) content->append(buf.get(), static_cast<size_t>(n));
  }
  if (total != entry.size) {
    return Reject(where, "entry '", shown, "' holds less data than its header declares (",
                  entry.size, " bytes)");
  }
  return hash.HexDigest();
}

// ---------------------------------------------------------------- index

struct Index {
  std::vector<VerifiedEntry> entries;  // sorted by name
  std::string key_id;
  std::array<uint8_t, 64> signature{};
  size_t signed_bytes = 0;   // everything before the signature line
  size_t content_bytes = 0;  // header and entry lines (the source hash input)
};

bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(c - '0'), &value)) {
      return false;
    }
  }
  *out = value;
  return true;
}

absl::StatusOr<Index> ParseIndex(std::string_view text, const Limits& limits,
                                 std::string_view where) {
  auto malformed = [&](size_t line, std::string_view reason) {
    return Reject(where, "index is malformed (line ", line, ": ", reason, ")");
  };
  if (text.empty() || text.back() != '\n') {
    return Reject(where, "index is malformed (does not end with a newline)");
  }
  std::vector<std::string_view> lines;
  std::vector<size_t> offsets;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    lines.push_back(text.substr(pos, end - pos));
    offsets.push_back(pos);
    pos = end + 1;
  }
  if (lines[0] != kIndexHeader) {
    if (lines[0].substr(0, kIndexHeaderPrefix.size()) == kIndexHeaderPrefix) {
      return Reject(where, "index format version '",
                    Shown(lines[0].substr(kIndexHeaderPrefix.size())),
                    "' is not supported (this reader knows '", kIndexHeader, "')");
    }
    return malformed(1, StrCat("expected '", kIndexHeader, "'"));
  }
  Index index;
  size_t i = 1;
  for (; i < lines.size() && lines[i].substr(0, 6) == "entry "; ++i) {
    std::string_view rest = lines[i].substr(6);
    size_t space1 = rest.find(' ');
    if (space1 == std::string_view::npos)
      return malformed(i + 1, "expected 'entry <size> <hash> <name>'");
    size_t space2 = rest.find(' ', space1 + 1);
    if (space2 == std::string_view::npos)
      return malformed(i + 1, "expected 'entry <size> <hash> <name>'");
    VerifiedEntry entry;
    if (!ParseDecimal(rest.substr(0, space1), &entry.size)) {
      return malformed(i + 1, "size is not a decimal number");
    }
    std::string_view hash = rest.substr(space1 + 1, space2 - space1 - 1);
    if (hash.size() != 2 * kHashBytes || !IsLowerHex(hash)) {
      return malformed(i + 1, "hash is not 64 lowercase hex digits");
    }
    entry.blake2b = std::string(hash);
    entry.name = std::string(rest.substr(space2 + 1));
    if (std::optional<std::string> problem = PathProblem(entry.name, limits);
        problem || entry.name == kIndexEntry) {
      return malformed(i + 1, StrCat("entry name '", Shown(entry.name), "' is not allowed (",
                                     problem ? *problem : "reserved", ")"));
    }
    if (!index.entries.empty() && !(index.entries.back().name < entry.name)) {
      return malformed(i + 1, "entries are not sorted by name, or repeat one");
    }
    index.entries.push_back(std::move(entry));
  }
  if (i >= lines.size() || lines[i].substr(0, 4) != "key ") {
    return malformed(i + 1, "expected 'key <key id>'");
  }
  index.content_bytes = offsets[i];
  index.key_id = std::string(lines[i].substr(4));
  if (index.key_id.size() != 16 || !IsLowerHex(index.key_id)) {
    return malformed(i + 1, "key id is not 16 lowercase hex digits");
  }
  ++i;
  if (i >= lines.size() || lines[i].substr(0, 10) != "signature ") {
    return malformed(i + 1, "expected 'signature <128 hex digits>'");
  }
  index.signed_bytes = offsets[i];
  std::string_view signature = lines[i].substr(10);
  if (signature.size() != 128 || !IsLowerHex(signature) ||
      sodium_hex2bin(index.signature.data(), index.signature.size(), signature.data(),
                     signature.size(), nullptr, nullptr, nullptr) != 0) {
    return malformed(i + 1, "signature is not 128 lowercase hex digits");
  }
  if (i + 1 != lines.size()) return malformed(i + 2, "text after the signature line");
  return index;
}

// The index text for `entries` (sorted), without its signature line.
std::string UnsignedIndex(const std::vector<VerifiedEntry>& entries, std::string_view key_id) {
  std::string text = StrCat(kIndexHeader, "\n");
  for (const VerifiedEntry& e : entries) {
    StrAppend(&text, "entry ", e.size, " ", e.blake2b, " ", e.name, "\n");
  }
  StrAppend(&text, "key ", key_id, "\n");
  return text;
}

// ---------------------------------------------------------------- writing

// 1980-01-01 00:00 local time: libzip converts to DOS time with localtime(),
// so this is the same DOS timestamp in every time zone.
time_t FixedMtime() {
  struct tm tm = {};
  tm.tm_year = 80;
  tm.tm_mon = 0;
  tm.tm_mday = 1;
  tm.tm_isdst = -1;
  return mktime(&tm);
}

struct ZipInput {
  std::string_view name;
  std::string_view content;
  bool executable = false;
};

absl::StatusOr<std::string> WriteZip(const std::vector<ZipInput>& inputs) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (out == nullptr) {
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    return absl::InternalError(StrCat("cannot create a bundle in memory (", message, ")"));
  }
  zip_source_keep(out);  // one reference for the archive, one for us
  zip_t* za = zip_open_from_source(out, ZIP_TRUNCATE, &error);
  if (za == nullptr) {
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    zip_source_free(out);
    zip_source_free(out);
    return absl::InternalError(StrCat("cannot create a bundle in memory (", message, ")"));
  }
  zip_error_fini(&error);
  auto fail = [&](std::string_view what, std::string_view name) {
    std::string message = StrCat("cannot write bundle entry '", Shown(name), "' (", what, ": ",
                                 zip_strerror(za), ")");
    zip_discard(za);
    zip_source_free(out);
    return absl::InternalError(message);
  };
  const time_t mtime = FixedMtime();
  for (const ZipInput& input : inputs) {
    zip_source_t* data = zip_source_buffer(za, input.content.data(), input.content.size(), 0);
    if (data == nullptr) return fail("source", input.name);
    std::string name(input.name);
    zip_int64_t index = zip_file_add(za, name.c_str(), data, 0);
    if (index < 0) {
      zip_source_free(data);
      return fail("add", input.name);
    }
    auto i = static_cast<zip_uint64_t>(index);
    uint32_t mode = input.executable ? 0100755 : 0100644;
    if (zip_file_set_mtime(za, i, mtime, 0) != 0) return fail("mtime", input.name);
    if (zip_file_set_external_attributes(za, i, 0, ZIP_OPSYS_UNIX, mode << 16) != 0) {
      return fail("attributes", input.name);
    }
    if (zip_set_file_compression(za, i, ZIP_CM_DEFLATE, 9) != 0) {
      return fail("compression", input.name);
    }
  }
  if (zip_close(za) != 0) return fail("close", "");
  std::string bytes;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_open(out) != 0 || zip_source_stat(out, &st) != 0 ||
      (st.valid & ZIP_STAT_SIZE) == 0) {
    zip_source_free(out);
    return absl::InternalError("cannot read back the bundle written in memory");
  }
  bytes.resize(st.size);
  size_t done = 0;
  while (done < bytes.size()) {
    zip_int64_t n = zip_source_read(out, bytes.data() + done, bytes.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  zip_source_close(out);
  zip_source_free(out);
  if (done != bytes.size()) {
    return absl::InternalError("cannot read back the bundle written in memory");
  }
  return bytes;
}

}  // namespace

// ---------------------------------------------------------------- public

absl::StatusOr<std::string> BuildBundle(std::vector<EntryInput> entries, const KeyPair& key,
                                        const Limits& limits) {
  TROUPE_RETURN_IF_ERROR(InitSodium());
  if (std::memcmp(key.secret_key.data() + 32, key.public_key.data(), 32) != 0) {
    return absl::InvalidArgumentError("key pair is inconsistent (public key does not match)");
  }
  std::sort(entries.begin(), entries.end(),
            [](const EntryInput& a, const EntryInput& b) { return a.name < b.name; });
  if (entries.size() + 1 > limits.max_entries) {
    return absl::InvalidArgumentError(StrCat("bundle would have ", entries.size() + 1,
                                             " entries, over the limit of ", limits.max_entries));
  }
  const EntryInput* manifest_input = nullptr;
  std::set<std::string_view> names;
  for (size_t i = 0; i < entries.size(); ++i) {
    const EntryInput& e = entries[i];
    std::string shown = Shown(e.name);
    if (e.name == kIndexEntry) {
      return absl::InvalidArgumentError(
          StrCat("bundle entry '", shown, "' is reserved (the signed index is written last)"));
    }
    if (std::optional<std::string> problem = PathProblem(e.name, limits)) {
      return absl::InvalidArgumentError(
          StrCat("bundle entry '", shown, "' has an unsafe path (", *problem, ")"));
    }
    if (i > 0 && entries[i - 1].name == e.name) {
      return absl::InvalidArgumentError(StrCat("duplicate bundle entry '", shown, "'"));
    }
    names.insert(e.name);
    if (e.name == kManifestEntry) manifest_input = &e;
  }
  if (manifest_input == nullptr) {
    return absl::InvalidArgumentError(StrCat("bundle has no ", kManifestEntry));
  }
  absl::StatusOr<troupe::v1::Manifest> manifest =
      ParseManifest(manifest_input->content, kManifestEntry);
  if (!manifest.ok()) return manifest.status();
  for (const std::string& library : manifest->libraries()) {
    if (names.count(library) == 0) {
      return absl::InvalidArgumentError(
          StrCat("manifest names library '", Shown(library), "', which is not in the bundle"));
    }
  }

  std::vector<VerifiedEntry> listed;
  std::vector<ZipInput> inputs;
  for (const EntryInput& e : entries) {
    listed.push_back(VerifiedEntry{e.name, e.content.size(), HashHex(e.content)});
    inputs.push_back(ZipInput{e.name, e.content, e.executable});
  }
  std::string index = UnsignedIndex(listed, KeyId(key.public_key));
  std::array<uint8_t, 64> signature = Sign(key.secret_key, index);
  StrAppend(&index, "signature ", Hex(signature.data(), signature.size()), "\n");
  inputs.push_back(ZipInput{kIndexEntry, index, false});

  TROUPE_ASSIGN_OR_RETURN(std::string bytes, WriteZip(inputs));

  // What we wrote must pass the verifier's structural checks (sizes, ratios).
  constexpr std::string_view kWhere = "new bundle";
  if (bytes.size() > limits.max_file_bytes) {
    return absl::InvalidArgumentError(StrCat(
        kWhere, ": ", bytes.size(), " bytes, over the limit of ", limits.max_file_bytes, " bytes"));
  }
  TROUPE_ASSIGN_OR_RETURN(ZipPtr za, OpenZip(bytes, kWhere));
  absl::StatusOr<std::vector<ZipEntry>> checked = CheckStructure(za.get(), limits, kWhere);
  if (!checked.ok()) return absl::InvalidArgumentError(checked.status().message());
  return bytes;
}

absl::StatusOr<VerifiedBundle> VerifyBundle(std::string bytes, std::string_view where,
                                            const TrustStore& trust, const Limits& limits) {
  TROUPE_RETURN_IF_ERROR(InitSodium());
  if (bytes.size() > limits.max_file_bytes) {
    return Reject(where, "bundle is ", bytes.size(), " bytes, over the limit of ",
                  limits.max_file_bytes, " bytes");
  }
  TROUPE_RETURN_IF_ERROR(CheckDirectoryBounds(bytes, limits, where));
  TROUPE_ASSIGN_OR_RETURN(ZipPtr za, OpenZip(bytes, where));
  TROUPE_ASSIGN_OR_RETURN(std::vector<ZipEntry> zip_entries,
                          CheckStructure(za.get(), limits, where));

  // The index, its signature and the signer.
  auto index_it = std::find_if(zip_entries.begin(), zip_entries.end(),
                               [](const ZipEntry& e) { return e.name == kIndexEntry; });
  if (index_it == zip_entries.end()) {
    return Reject(where, "not signed (no ", kIndexEntry, " entry)");
  }
  std::string index_text;
  TROUPE_RETURN_IF_ERROR(ReadAndHash(za.get(), *index_it, where, &index_text).status());
  zip_entries.erase(index_it);
  TROUPE_ASSIGN_OR_RETURN(Index index, ParseIndex(index_text, limits, where));
  absl::StatusOr<PublicKey> key = trust.Find(index.key_id);
  if (absl::IsNotFound(key.status())) {
    return Reject(where, "signed by key ", index.key_id,
                  ", which is not trusted (trusted keys are in ", trust.dir(), ")");
  }
  if (!key.ok()) {
    return Reject(where, "cannot check signer key ", index.key_id, " (", key.status().message(),
                  ")");
  }
  if (!VerifySignature(*key, std::string_view(index_text).substr(0, index.signed_bytes),
                       index.signature)) {
    return Reject(where, "bad signature (index altered, or not signed by key ", index.key_id, ")");
  }

  // Every entry is listed in the signed index, and every listed entry exists.
  std::map<std::string_view, const ZipEntry*> in_zip;
  for (const ZipEntry& e : zip_entries) in_zip.emplace(e.name, &e);
  std::set<std::string_view> in_index;
  for (const VerifiedEntry& e : index.entries) in_index.insert(e.name);
  for (const ZipEntry& e : zip_entries) {
    if (in_index.count(e.name) == 0) {
      return Reject(where, "extra entry '", Shown(e.name), "' (not in the signed index)");
    }
  }
  for (const VerifiedEntry& e : index.entries) {
    if (in_zip.count(e.name) == 0) {
      return Reject(where, "missing entry '", Shown(e.name), "' (listed in the signed index)");
    }
  }

  // Every entry's content matches its signed size and hash.
  std::string manifest_text;
  bool has_manifest = false;
  for (const VerifiedEntry& listed : index.entries) {
    const ZipEntry& entry = *in_zip.at(listed.name);
    bool is_manifest = listed.name == kManifestEntry;
    auto tampered = [&] {
      return is_manifest ? Reject(where,
                                  "manifest was tampered with (does not match its signed "
                                  "hash)")
                         : Reject(where, "entry '", Shown(listed.name),
                                  "' was tampered with (does not match its signed hash)");
    };
    if (entry.size != listed.size) return tampered();
    TROUPE_ASSIGN_OR_RETURN(std::string hash, ReadAndHash(za.get(), entry, where,
                                                          is_manifest ? &manifest_text : nullptr));
    if (hash != listed.blake2b) return tampered();
    has_manifest = has_manifest || is_manifest;
  }
  if (!has_manifest) return Reject(where, "no ", kManifestEntry, " entry");

  // The manifest, now known to be the signed one.
  absl::StatusOr<troupe::v1::Manifest> manifest =
      ParseManifest(manifest_text, StrCat(where, ": ", kManifestEntry));
  if (!manifest.ok()) {
    return absl::FailedPreconditionError(manifest.status().message());
  }
  for (const std::string& library : manifest->libraries()) {
    if (in_index.count(library) == 0) {
      return Reject(where, "manifest names library '", Shown(library),
                    "', which is not in the bundle");
    }
  }

  VerifiedBundle verified;
  verified.source_hash = HashHex(std::string_view(index_text).substr(0, index.content_bytes));
  verified.key_id = std::move(index.key_id);
  verified.manifest = std::move(*manifest);
  verified.entries = std::move(index.entries);
  za.reset();  // it points into `bytes`
  verified.bytes = std::move(bytes);
  return verified;
}

absl::StatusOr<VerifiedBundle> VerifyBundleFile(const std::string& path, const TrustStore& trust,
                                                const Limits& limits) {
  // O_NONBLOCK: a FIFO must not block us before the regular-file check.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    std::string message = StrCat(path, ": cannot open (", std::strerror(err), ")");
    return err == ENOENT ? absl::NotFoundError(message) : absl::PermissionDeniedError(message);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(StrCat(path, ": not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > limits.max_file_bytes) {
    ::close(fd);
    return Reject(path, "bundle is ", st.st_size, " bytes, over the limit of ",
                  limits.max_file_bytes, " bytes");
  }
  std::string bytes;
  bytes.reserve(static_cast<size_t>(st.st_size));
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return absl::InternalError(StrCat(path, ": cannot read (", std::strerror(err), ")"));
    }
    if (n == 0) break;
    if (bytes.size() + static_cast<size_t>(n) > limits.max_file_bytes) {
      ::close(fd);
      return Reject(path, "bundle is over the limit of ", limits.max_file_bytes, " bytes");
    }
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return VerifyBundle(std::move(bytes), path, trust, limits);
}

absl::StatusOr<std::string> VerifiedBundle::ReadEntry(std::string_view name) const {
  std::string where = StrCat("bundle ", source_hash);
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const VerifiedEntry& e) { return e.name == name; });
  if (it == entries.end()) {
    return absl::NotFoundError(StrCat(where, ": no entry '", Shown(name), "'"));
  }
  TROUPE_ASSIGN_OR_RETURN(ZipPtr za, OpenZip(bytes, where));
  zip_int64_t index = zip_name_locate(za.get(), it->name.c_str(), ZIP_FL_ENC_RAW);
  if (index < 0) {
    return Reject(where, "missing entry '", Shown(name), "' (listed in the signed index)");
  }
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(za.get(), static_cast<zip_uint64_t>(index), 0, &st) != 0 ||
      (st.valid & ZIP_STAT_SIZE) == 0 || st.size != it->size) {
    return Reject(where, "entry '", Shown(name),
                  "' was tampered with (does not match its signed hash)");
  }
  std::string content;
  TROUPE_ASSIGN_OR_RETURN(
      std::string hash,
      ReadAndHash(za.get(), ZipEntry{static_cast<zip_uint64_t>(index), it->name, it->size}, where,
                  &content));
  if (hash != it->blake2b) {
    return Reject(where, "entry '", Shown(name),
                  "' was tampered with (does not match its signed hash)");
  }
  return content;
}

std::string BundleFileName(std::string_view group, std::string_view version) {
  return StrCat(group, "-", version, kBundleSuffix);
}

}  // namespace troupe::bundle
