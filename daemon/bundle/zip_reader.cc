// zip_reader.cc - opening a bundle zip with libzip and reading its
// entries within the limits (bundle_internal.h).
#include "daemon/bundle/bundle_internal.h"

namespace troupe::bundle::internal {

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

}  // namespace troupe::bundle::internal
