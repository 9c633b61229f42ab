// bundle_commands.cc - `director gensrc` (build and sign a bundle), `tlsinfo`
// and `verify` (check one against the trusted keys), `avail` (list the
// bundles in TROUPE_DIR/bundles). Every bundle is verified before anything
// in it is shown.
#include <glob.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/time/clock.h"
#include "daemon/bundle/bundle.h"
#include "daemon/bundle/keys.h"
#include "daemon/bundle/manifest.h"
#include "daemon/bundle/store.h"
#include "daemon/bundle/version.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "director/commands/commands.h"
#include "director/commands/daemon_client.h"

namespace troupe::director {
namespace {

namespace fs = std::filesystem;

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string Message(const absl::Status& status) {
  return std::string(status.message().data(), status.message().size());
}

bool IsExecutable(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IXUSR) != 0;
}

// ----------------------------------------------------------------- gensrc

struct GensrcOptions {
  std::string manifest;
  std::vector<std::string> libs;
  std::string deps;
  std::vector<std::string> data;
  std::string version;
  std::string key;
  std::string out;
};

// Adds `content` read from `path` as `name`, refusing duplicates.
absl::Status AddFileEntry(const std::string& path, std::string name, bool executable,
                          std::vector<bundle::EntryInput>* entries, std::set<std::string>* names) {
  if (!names->insert(name).second) {
    return absl::InvalidArgumentError(troupe::StrCat("two inputs would both become bundle entry ",
                                                     name, " (the second is ", path, ")"));
  }
  absl::StatusOr<std::string> content = ReadFile(path, kMaxInputFileBytes);
  if (!content.ok()) return content.status();
  entries->push_back({std::move(name), *std::move(content), executable});
  return absl::OkStatus();
}

constexpr uint64_t kMaxDepsFileBytes = 1 << 20;

// The paths listed in a --deps file: one per line, '#' starts a comment,
// relative paths are relative to the deps file's directory.
absl::StatusOr<std::vector<std::string>> ReadDepsFile(const std::string& deps_path) {
  absl::StatusOr<std::string> text = ReadFile(deps_path, kMaxDepsFileBytes);
  if (!text.ok()) return text.status();
  const fs::path base = fs::path(deps_path).parent_path();
  std::vector<std::string> paths;
  size_t start = 0;
  while (start <= text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string_view line = std::string_view(*text).substr(start, end - start);
    start = end + 1;
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const fs::path path(line);
    paths.push_back(path.is_absolute() ? path.string() : (base / path).string());
  }
  return paths;
}

// The entry name below data/ for a glob match: the path as matched when it
// is relative and stays below the current directory, else its file name.
std::string DataName(const std::string& match) {
  const fs::path normal = fs::path(match).lexically_normal();
  const std::string text = normal.string();
  if (normal.is_relative() && text != ".." && text.rfind("../", 0) != 0 && text != ".") {
    return StripTrailingSlashes(text);
  }
  return fs::path(StripTrailingSlashes(match)).filename().string();
}

absl::Status AddDataEntries(const std::vector<std::string>& patterns,
                            std::vector<bundle::EntryInput>* entries,
                            std::set<std::string>* names) {
  for (const std::string& pattern : patterns) {
    glob_t matches{};
    const int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &matches);
    std::vector<std::string> paths(matches.gl_pathv, matches.gl_pathv + matches.gl_pathc);
    ::globfree(&matches);
    if (rc == GLOB_NOMATCH) {
      return absl::NotFoundError(troupe::StrCat("--data '", pattern, "' matches no file"));
    }
    if (rc != 0) {
      return absl::UnknownError(troupe::StrCat("--data '", pattern, "': cannot read a directory"));
    }
    for (const std::string& path : paths) {
      const std::string name = DataName(path);
      std::error_code ec;
      if (!fs::is_directory(path, ec)) {
        TROUPE_RETURN_IF_ERROR(
            AddFileEntry(path, "data/" + name, IsExecutable(path), entries, names));
        continue;
      }
      // A directory adds every regular file below it, in name order.
      std::vector<fs::path> files;
      for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file()) files.push_back(it->path());
      }
      if (ec) return absl::UnknownError(troupe::StrCat(path, ": ", ec.message()));
      std::sort(files.begin(), files.end());
      for (const fs::path& file : files) {
        const std::string relative = file.lexically_relative(path).string();
        TROUPE_RETURN_IF_ERROR(AddFileEntry(file.string(), "data/" + name + "/" + relative,
                                            IsExecutable(file.string()), entries, names));
      }
    }
  }
  return absl::OkStatus();
}

// A temporary trust store holding only the signing key: the new bundle must
// verify against it, and so must the older bundles the keep limit may count.
// Removes its directory when destroyed.
class SignerTrust {
 public:
  static absl::StatusOr<std::unique_ptr<SignerTrust>> Make(const bundle::PublicKey& key) {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir =
        troupe::StrCat(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp", "/director-trust.XXXXXX");
    if (::mkdtemp(dir.data()) == nullptr) {
      return absl::UnknownError(troupe::StrCat("cannot create a temporary directory in ", dir));
    }
    auto trust = std::unique_ptr<SignerTrust>(new SignerTrust(dir));
    const std::string pub = troupe::StrCat(dir, "/", bundle::KeyId(key), ".pub");
    if (absl::Status s = WriteFileAtomically(pub, bundle::FormatPublicKey(key) + "\n"); !s.ok()) {
      return s;
    }
    return trust;
  }
  ~SignerTrust() {
    std::error_code ec;
    fs::remove_all(store_.dir(), ec);
  }
  const bundle::TrustStore& store() const { return store_; }

 private:
  explicit SignerTrust(std::string dir) : store_(std::move(dir)) {}
  bundle::TrustStore store_;
};

int Gensrc(Context& ctx, const GensrcOptions& options) {
  if (absl::Status s = bundle::InitSodium(); !s.ok()) return ctx.Fail(s);
  const config::Config& config = ctx.config();
  absl::StatusOr<bundle::Limits> limits = config.BundleLimits();
  if (!limits.ok()) return ctx.Fail(limits.status(), kExitInvalidConfig);
  // Every setting gensrc needs is checked before anything is written.
  absl::StatusOr<uint32_t> configured_keep = config.KeepLimit();
  if (!configured_keep.ok()) return ctx.Fail(configured_keep.status(), kExitInvalidConfig);

  // The manifest, its version set from --version when given.
  absl::StatusOr<std::string> manifest_text =
      ReadFile(options.manifest, limits->max_manifest_bytes);
  if (!manifest_text.ok()) return ctx.Fail(manifest_text.status());
  absl::StatusOr<troupe::v1::Manifest> parsed =
      bundle::ParseManifestJson(*manifest_text, options.manifest);
  if (!parsed.ok()) return ctx.Fail(parsed.status());
  troupe::v1::Manifest manifest = *std::move(parsed);
  if (!options.version.empty()) {
    absl::StatusOr<std::string> version = bundle::ExpandVersion(options.version, absl::Now());
    if (!version.ok()) {
      return ctx.Fail(absl::InvalidArgumentError(
          troupe::StrCat("--version ", options.version, ": ", Message(version.status()))));
    }
    manifest.set_version(*version);
  }
  if (manifest.version().empty()) {
    return ctx.Fail(absl::InvalidArgumentError(
        troupe::StrCat("refusing to build a bundle without a version: ", options.manifest,
                       " has no \"version\" and no --version was given (use --version 1.2.3 or "
                       "--version date)")));
  }
  if (absl::Status s = bundle::ValidateManifest(manifest, options.manifest); !s.ok()) {
    return ctx.Fail(s, kExitInvalidInput);
  }

  // The entries: manifest, libraries, deps, data.
  std::vector<bundle::EntryInput> entries;
  std::set<std::string> names;
  names.insert(std::string(bundle::kManifestEntry));
  entries.push_back({std::string(bundle::kManifestEntry), bundle::ManifestToJson(manifest), false});
  const std::set<std::string> wanted(manifest.libraries().begin(), manifest.libraries().end());
  for (const std::string& lib : options.libs) {
    const std::string name = "lib/" + fs::path(lib).filename().string();
    if (wanted.count(name) == 0) {
      return ctx.Fail(absl::InvalidArgumentError(
          troupe::StrCat("--lib ", lib, " would be bundle entry ", name, ", which ",
                         options.manifest, " does not list in \"libraries\"")));
    }
    if (absl::Status s = AddFileEntry(lib, name, true, &entries, &names); !s.ok()) {
      return ctx.Fail(s);
    }
  }
  for (const std::string& lib : wanted) {
    if (names.count(lib) == 0) {
      return ctx.Fail(absl::InvalidArgumentError(
          troupe::StrCat(options.manifest, " lists library ", lib, " but no --lib ",
                         fs::path(lib).filename().string(), " was given")));
    }
  }
  if (!options.deps.empty()) {
    absl::StatusOr<std::vector<std::string>> deps = ReadDepsFile(options.deps);
    if (!deps.ok()) return ctx.Fail(deps.status());
    for (const std::string& dep : *deps) {
      const std::string name = "deps/" + fs::path(dep).filename().string();
      if (absl::Status s = AddFileEntry(dep, name, true, &entries, &names); !s.ok()) {
        return ctx.Fail(s);
      }
    }
  }
  if (absl::Status s = AddDataEntries(options.data, &entries, &names); !s.ok()) {
    return ctx.Fail(s);
  }

  // The key: --key, else TROUPE_DIR/keys/signing.key.
  const std::string key_path =
      options.key.empty() ? troupe::StrCat(config.keys_dir(), "/signing.key") : options.key;
  if (options.key.empty() && !fs::exists(key_path)) {
    return ctx.Fail(
        absl::NotFoundError(troupe::StrCat("no signing key: give --key FILE, or create ", key_path,
                                           " with `director keygen signing`")));
  }
  absl::StatusOr<bundle::SecretKey> secret = bundle::ReadSecretKey(key_path);
  if (!secret.ok()) return ctx.Fail(secret.status());
  bundle::KeyPair key;
  key.secret_key = *secret;
  std::copy(secret->begin() + 32, secret->end(), key.public_key.begin());

  absl::StatusOr<std::string> bytes = bundle::BuildBundle(std::move(entries), key, *limits);
  if (!bytes.ok()) return ctx.Fail(bytes.status());

  const std::string out_dir =
      StripTrailingSlashes(options.out.empty() ? config.bundles_dir() : options.out);
  const std::string path =
      troupe::StrCat(out_dir, "/", bundle::BundleFileName(manifest.group(), manifest.version()));
  absl::StatusOr<std::unique_ptr<SignerTrust>> signer = SignerTrust::Make(key.public_key);
  if (!signer.ok()) return ctx.Fail(signer.status());
  absl::StatusOr<bundle::VerifiedBundle> verified =
      bundle::VerifyBundle(*bytes, path, (*signer)->store(), *limits);
  if (!verified.ok()) {
    return ctx.Fail(absl::InternalError(
        troupe::StrCat("the bundle just built does not verify: ", Message(verified.status()))));
  }

  if (absl::Status s = MakeDirectories(out_dir); !s.ok()) return ctx.Fail(s);
  bool unchanged = false;
  if (absl::Status s = WriteFileAtomically(path, *bytes, 0644, /*overwrite=*/false); !s.ok()) {
    absl::StatusOr<std::string> existing =
        s.code() == absl::StatusCode::kAlreadyExists ? ReadFile(path, kMaxInputFileBytes) : s;
    if (!existing.ok() || *existing != *bytes) {
      if (s.code() != absl::StatusCode::kAlreadyExists) return ctx.Fail(s);
      return ctx.Fail(absl::AlreadyExistsError(
          troupe::StrCat("refusing to overwrite ", path,
                         ": it holds different content for the same group and version (give a new "
                         "--version)")));
    }
    unchanged = true;
  }

  // Keep limit: the manifest's, else the configured one. The file just
  // written is never deleted.
  uint32_t keep = manifest.keep_limit() != 0 ? manifest.keep_limit() : *configured_keep;
  // Bundles loaded in a troupd that answers on the configured socket are
  // spared as well, so that what runs can be loaded again by name (troupd
  // keeps its own copies in TROUPE_DIR/loaded); when none answers, the limit
  // applies as it is.
  std::vector<std::string> deleted;
  std::vector<std::string> spared;  // beyond the limit, but loaded in troupd
  const bundle::TrustStore local_trust(config.trusted_keys_dir());
  if (keep > 0) {
    absl::StatusOr<std::vector<std::string>> loaded = LoadedHashesIfRunning(ctx);
    absl::StatusOr<std::vector<bundle::BundleFile>> files = bundle::ListBundleFiles(out_dir);
    if (!files.ok()) return ctx.Fail(files.status());
    if (!loaded.ok()) {
      // Unsure what runs: delete nothing rather than a running version.
      ctx.err() << "director: note: keep limit not applied this time: " << Message(loaded.status())
                << "\n";
    } else {
      const absl::flat_hash_set<std::string> loaded_hashes(loaded->begin(), loaded->end());
      absl::flat_hash_set<std::string> protected_paths = {path};
      absl::flat_hash_set<std::string> real;
      size_t rank = 0;  // among the real bundles of the group, newest first
      for (const bundle::BundleFile& file : *files) {
        if (file.group != manifest.group()) continue;
        // Only real bundles (trusted here, or signed with this key) take a
        // place; junk named like one is left alone.
        absl::StatusOr<bundle::VerifiedBundle> b =
            bundle::VerifyBundleFile(file.path, local_trust, *limits);
        if (!b.ok()) b = bundle::VerifyBundleFile(file.path, (*signer)->store(), *limits);
        if (!b.ok()) continue;
        real.insert(file.path);
        if (loaded_hashes.contains(b->source_hash)) {
          protected_paths.insert(file.path);
          if (rank >= std::max<uint32_t>(keep, 1) && file.path != path) spared.push_back(file.path);
        }
        ++rank;
      }
      absl::StatusOr<std::vector<std::string>> removed = bundle::ApplyKeepLimit(
          out_dir, manifest.group(), keep, protected_paths,
          [&](const bundle::BundleFile& file) { return real.contains(file.path); });
      if (!removed.ok()) return ctx.Fail(removed.status());
      deleted = *std::move(removed);
    }
  }

  const bool trusted_here =
      bundle::TrustStore(config.trusted_keys_dir()).Find(verified->key_id).ok();
  if (ctx.json()) {
    return ctx.PrintJson(Json{{"path", path},
                              {"group", manifest.group()},
                              {"version", manifest.version()},
                              {"hash", verified->source_hash},
                              {"key_id", verified->key_id},
                              {"unchanged", unchanged},
                              {"key_trusted_here", trusted_here},
                              {"keep_limit", uint64_t{keep}},
                              {"deleted", Json(deleted)},
                              {"kept_loaded", Json(spared)}});
  }
  ctx.out() << (unchanged ? "unchanged " : "wrote ") << path << " (hash " << verified->source_hash
            << ", key " << verified->key_id << ")\n";
  for (const std::string& d : deleted) {
    ctx.out() << "deleted old bundle " << d << " (keep limit " << keep << ")\n";
  }
  for (const std::string& k : spared) {
    ctx.out() << "kept old bundle " << k << ": loaded in troupd (keep limit " << keep << ")\n";
  }
  if (!trusted_here) {
    ctx.err() << "director: note: key " << verified->key_id << " is not trusted in "
              << config.trusted_keys_dir() << "; this host will not load the bundle until "
              << "`director trust` is run with its public key\n";
  }
  return kExitOk;
}

// --------------------------------------------------------- tlsinfo, verify

// `file` as given, else a bundle name in TROUPE_DIR/bundles (with or without
// the .troupe suffix).
absl::StatusOr<std::string> ResolveBundle(Context& ctx, const std::string& file) {
  std::error_code ec;
  if (fs::exists(file, ec)) return file;
  if (file.find('/') == std::string::npos) {
    const std::string dir = ctx.config().bundles_dir();
    for (const std::string& candidate :
         {troupe::StrCat(dir, "/", file), troupe::StrCat(dir, "/", file, bundle::kBundleSuffix)}) {
      if (fs::exists(candidate, ec)) return candidate;
    }
    return absl::NotFoundError(troupe::StrCat(file, ": no such file (also looked in ", dir, ")"));
  }
  return absl::NotFoundError(troupe::StrCat(file, ": no such file"));
}

// Verifies `path`; every rejection (also bytes that are not a bundle at all)
// is FailedPrecondition, so exit 4.
absl::StatusOr<bundle::VerifiedBundle> Verify(Context& ctx, const std::string& path) {
  TROUPE_RETURN_IF_ERROR(bundle::InitSodium());
  absl::StatusOr<bundle::Limits> limits = ctx.config().BundleLimits();
  if (!limits.ok()) return limits.status();
  absl::StatusOr<bundle::VerifiedBundle> verified =
      bundle::VerifyBundleFile(path, bundle::TrustStore(ctx.config().trusted_keys_dir()), *limits);
  if (!verified.ok() && verified.status().code() == absl::StatusCode::kInvalidArgument) {
    return absl::FailedPreconditionError(Message(verified.status()));
  }
  return verified;
}

int FailVerify(Context& ctx, const absl::Status& status) {
  // An invalid limit setting is a configuration problem, not a bad bundle.
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    return ctx.Fail(status, kExitInvalidConfig);
  }
  return ctx.Fail(status);
}

Json Describe(const std::string& path, const bundle::VerifiedBundle& b) {
  return Json{{"path", path},
              {"group", b.manifest.group()},
              {"version", b.manifest.version()},
              {"hash", b.source_hash},
              {"key_id", b.key_id},
              {"signer_isolated", b.signer_isolated}};
}

void PrintVerifiedLine(Context& ctx, const std::string& path, const bundle::VerifiedBundle& b) {
  ctx.out() << "verified " << path << ": group " << b.manifest.group() << " version "
            << b.manifest.version() << " hash " << b.source_hash << " key " << b.key_id << "\n";
}

int Tlsinfo(Context& ctx, const std::string& file, const std::string& what) {
  absl::StatusOr<std::string> path = ResolveBundle(ctx, file);
  if (!path.ok()) return ctx.Fail(path.status());
  absl::StatusOr<bundle::VerifiedBundle> b = Verify(ctx, *path);
  if (!b.ok()) return FailVerify(ctx, b.status());

  if (!what.empty() && what != "contents") {
    absl::StatusOr<std::string> content = b->ReadEntry(what);
    if (!content.ok()) {
      if (content.status().code() == absl::StatusCode::kNotFound) {
        return ctx.Fail(absl::NotFoundError(troupe::StrCat(
            *path, " has no entry ", what, " (see `director tlsinfo ", file, " contents`)")));
      }
      return ctx.Fail(content.status());
    }
    ctx.out() << *content;  // raw bytes, also with --json
    return kExitOk;
  }

  uint64_t total = 0;
  for (const bundle::VerifiedEntry& entry : b->entries) total += entry.size;
  if (ctx.json()) {
    Json entries = Json::array();
    for (const bundle::VerifiedEntry& entry : b->entries) {
      entries.push_back(
          Json{{"name", entry.name}, {"size", entry.size}, {"blake2b", entry.blake2b}});
    }
    Json object = Describe(*path, *b);
    if (absl::StatusOr<Json> manifest = ParseOrderedJson(bundle::ManifestToJson(b->manifest));
        manifest.ok()) {
      object["manifest"] = *std::move(manifest);
    }
    object["total_bytes"] = total;
    object["entries"] = std::move(entries);
    return ctx.PrintJson(object);
  }
  PrintVerifiedLine(ctx, *path, *b);
  if (what == "contents") {
    for (const bundle::VerifiedEntry& entry : b->entries) {
      char size[32];
      std::snprintf(size, sizeof size, "%10llu", static_cast<unsigned long long>(entry.size));
      ctx.out() << "  " << size << "  " << entry.name << "\n";
    }
    return kExitOk;
  }
  const troupe::v1::Manifest& m = b->manifest;
  if (!m.description().empty()) ctx.out() << "  description: " << m.description() << "\n";
  ctx.out() << "  abi: " << m.abi().major() << "." << m.abi().minor() << "\n";
  ctx.out() << "  libraries:";
  for (const std::string& lib : m.libraries()) ctx.out() << " " << lib;
  ctx.out() << "\n  actors:";
  for (const troupe::v1::ActorSpec& actor : m.actors()) ctx.out() << " " << actor.class_name();
  ctx.out() << "\n  keep_limit: " << m.keep_limit() << "\n";
  ctx.out() << "  isolation: "
            << (m.isolation().empty() ? std::string("unset (the daemon's isolation_default decides)")
                                      : m.isolation());
  if (b->signer_isolated) {
    ctx.out() << " (its signer " << b->key_id
              << " is trusted --isolated here: it always runs isolated)";
  }
  ctx.out() << "\n";
  ctx.out() << "  entries: " << b->entries.size() << ", " << total
            << " bytes uncompressed (list them: `director tlsinfo " << file << " contents`)\n";
  return kExitOk;
}

int VerifyCommand(Context& ctx, const std::string& file) {
  absl::StatusOr<std::string> path = ResolveBundle(ctx, file);
  if (!path.ok()) return ctx.Fail(path.status());
  absl::StatusOr<bundle::VerifiedBundle> b = Verify(ctx, *path);
  if (!b.ok()) return FailVerify(ctx, b.status());
  if (ctx.json()) return ctx.PrintJson(Describe(*path, *b));
  PrintVerifiedLine(ctx, *path, *b);
  return kExitOk;
}

// ------------------------------------------------------------------ avail

int Avail(Context& ctx) {
  // Settings first: a bad limit is a configuration error, not a bad bundle.
  if (absl::StatusOr<bundle::Limits> limits = ctx.config().BundleLimits(); !limits.ok()) {
    return ctx.Fail(limits.status(), kExitInvalidConfig);
  }
  const std::string dir = ctx.config().bundles_dir();
  absl::StatusOr<std::vector<bundle::BundleFile>> files = bundle::ListBundleFiles(dir);
  if (!files.ok()) return ctx.Fail(files.status());
  struct Row {
    bundle::BundleFile file;
    std::string hash;
    std::string key_id;
    std::string problem;
  };
  std::vector<Row> rows;
  for (const bundle::BundleFile& file : *files) {
    Row row{file, "", "", ""};
    absl::StatusOr<bundle::VerifiedBundle> b = Verify(ctx, file.path);
    if (!b.ok()) {
      row.problem = Message(b.status());
    } else if (b->manifest.group() != file.group || b->manifest.version() != file.version) {
      row.problem = troupe::StrCat("file name says group ", file.group, " version ", file.version,
                                   ", its manifest says group ", b->manifest.group(), " version ",
                                   b->manifest.version());
    } else {
      row.hash = b->source_hash;
      row.key_id = b->key_id;
    }
    rows.push_back(std::move(row));
  }
  if (ctx.json()) {
    Json groups = Json::array();
    for (size_t i = 0; i < rows.size();) {
      Json bundles = Json::array();
      size_t j = i;
      for (; j < rows.size() && rows[j].file.group == rows[i].file.group; ++j) {
        Json item = {{"version", rows[j].file.version},
                     {"path", rows[j].file.path},
                     {"valid", rows[j].problem.empty()}};
        if (rows[j].problem.empty()) {
          item["hash"] = rows[j].hash;
          item["key_id"] = rows[j].key_id;
        } else {
          item["error"] = rows[j].problem;
        }
        bundles.push_back(std::move(item));
      }
      groups.push_back(Json{{"group", rows[i].file.group}, {"bundles", std::move(bundles)}});
      i = j;
    }
    return ctx.PrintJson(Json{{"dir", dir}, {"groups", groups}});
  }
  if (rows.empty()) {
    ctx.out() << "no bundles in " << dir << "\n";
    return kExitOk;
  }
  for (const Row& row : rows) {
    ctx.out() << row.file.group << ": " << row.file.version << "  ";
    if (row.problem.empty()) {
      ctx.out() << row.hash << "  key " << row.key_id << "  " << row.file.path << "\n";
    } else {
      ctx.out() << "INVALID  " << row.problem << "\n";  // the problem names the file
    }
  }
  return kExitOk;
}

}  // namespace

void AddBundleCommands(CLI::App& app, Runner* run) {
  auto gensrc = std::make_shared<GensrcOptions>();
  CLI::App* cmd = app.add_subcommand(
      "gensrc",
      "Build and sign a bundle from a manifest, actor libraries, private shared libraries "
      "and data files; write OUT/<group>-<version>.troupe; apply the keep limit. A bundle "
      "needs a version: from --version or the manifest, else it is refused (exit 5).");
  cmd->add_option("--manifest", gensrc->manifest, "Manifest JSON file (manifest.proto)")
      ->required();
  cmd->add_option("--lib", gensrc->libs,
                  "Actor library (.so) named in the manifest as lib/<file name>; repeatable")
      ->required();
  cmd->add_option("--deps", gensrc->deps,
                  "File listing extra shared libraries, one path per line ('#' comments; "
                  "relative to the file), bundled as deps/<file name>");
  cmd->add_option("--data", gensrc->data,
                  "glob(3) pattern of data files (a directory adds its tree), bundled as "
                  "data/<path as matched> (relative patterns) or data/<file name>; repeatable");
  cmd->add_option("--version", gensrc->version,
                  "Bundle version (overrides the manifest's), or `date` for UTC YYYYMMDDHHMM");
  cmd->add_option("--key", gensrc->key,
                  "Secret signing key (default: TROUPE_DIR/keys/signing.key)");
  cmd->add_option("--out", gensrc->out, "Output directory (default: TROUPE_DIR/bundles)");
  cmd->callback([gensrc, run] { *run = [gensrc](Context& ctx) { return Gensrc(ctx, *gensrc); }; });

  auto tlsinfo = std::make_shared<std::pair<std::string, std::string>>();
  cmd = app.add_subcommand(
      "tlsinfo",
      "Verify a bundle against the trusted keys and describe it: group, version, hash, key "
      "id; `contents` lists the entries with sizes; ENTRY prints that entry's bytes.");
  cmd->add_option("FILE", tlsinfo->first, "Bundle file, or a bundle name in TROUPE_DIR/bundles")
      ->required();
  cmd->add_option("WHAT", tlsinfo->second, "`contents`, or an entry name such as manifest.json");
  cmd->callback([tlsinfo, run] {
    *run = [tlsinfo](Context& ctx) { return Tlsinfo(ctx, tlsinfo->first, tlsinfo->second); };
  });

  auto verify = std::make_shared<std::string>();
  cmd = app.add_subcommand("verify",
                           "Verify a bundle against the trusted keys: exit 0 when it verifies, "
                           "4 (with the reason) when not");
  cmd->add_option("FILE", *verify, "Bundle file, or a bundle name in TROUPE_DIR/bundles")
      ->required();
  cmd->callback(
      [verify, run] { *run = [verify](Context& ctx) { return VerifyCommand(ctx, *verify); }; });

  cmd = app.add_subcommand(
      "avail",
      "List the bundles in TROUPE_DIR/bundles: per group, newest first, "
      "`group: version  hash  key KEYID  file`; ones that fail verification show "
      "INVALID and the reason");
  cmd->callback([run] { *run = Avail; });
}

}  // namespace troupe::director
