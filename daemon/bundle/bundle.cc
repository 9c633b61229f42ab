// bundle.cc - writing and verifying signed bundles (see bundle.h and
// docs/bundle-format.md). The zip reading and writing and the index are in
// zip_reader.cc, zip_writer.cc and index.cc (bundle_internal.h).
#include "daemon/bundle/bundle.h"

#include "daemon/bundle/bundle_internal.h"
#include "daemon/common/small_file.h"

namespace troupe::bundle {

using namespace internal;  // NOLINT: this library's own helpers

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
  absl::StatusOr<TrustedKey> signer = trust.Find(index.key_id);
  if (absl::IsNotFound(signer.status())) {
    return Reject(where, "signed by key ", index.key_id,
                  ", which is not trusted (trusted keys are in ", trust.dir(), ")");
  }
  if (!signer.ok()) {
    return Reject(where, "cannot check signer key ", index.key_id, " (",
                  signer.status().message(), ")");
  }
  if (!VerifySignature(signer->key, std::string_view(index_text).substr(0, index.signed_bytes),
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
  verified.signer_isolated = signer->isolated;
  verified.manifest = std::move(*manifest);
  verified.entries = std::move(index.entries);
  za.reset();  // it points into `bytes`
  verified.bytes = std::move(bytes);
  return verified;
}

absl::StatusOr<VerifiedBundle> VerifyBundleFile(const std::string& path, const TrustStore& trust,
                                                const Limits& limits) {
  // ReadSmallFile: a FIFO is refused before it can block, a file over the
  // limit before it is read.
  absl::StatusOr<std::string> bytes = ReadSmallFile(path, limits.max_file_bytes);
  if (!bytes.ok()) return bytes.status();
  return VerifyBundle(*std::move(bytes), path, trust, limits);
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
