// index.cc - the signed index of a bundle: parsing and writing
// it (bundle_internal.h, docs/bundle-format.md).
#include "daemon/bundle/bundle_internal.h"

namespace troupe::bundle::internal {

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
      !Unhex(signature, index.signature.data(), index.signature.size())) {
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

}  // namespace troupe::bundle::internal
