// keys.cc - Ed25519 key files, key ids and the trust store (see keys.h).
#include "daemon/bundle/keys.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "daemon/common/posix_io.h"
#include "daemon/common/small_file.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"

namespace troupe::bundle {
namespace {

constexpr std::string_view kPublicPrefix = "troupe-ed25519-public ";
constexpr std::string_view kSecretPrefix = "troupe-ed25519-secret ";
constexpr std::string_view kPubSuffix = ".pub";
constexpr std::string_view kIsolatedSuffix = ".isolated";
// Key files are one short line; anything larger is not a key file.
constexpr size_t kMaxKeyFileBytes = 4096;

// True for 16 lowercase hex digits, the only form a key id takes. Checked
// before a key id becomes part of a path.
bool IsKeyId(std::string_view id) {
  return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string Base64(const uint8_t* data, size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// Decodes "<prefix><base64 of exactly out.size() bytes>", allowing trailing
// whitespace (a final newline). `kind` names the key kind in errors.
absl::Status DecodeKey(std::string_view text, std::string_view prefix, std::string_view kind,
                       std::string_view where, uint8_t* out, size_t out_size) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  if (text.substr(0, prefix.size()) != prefix) {
    return absl::InvalidArgumentError(
        StrCat(where, ": not a troupe ", kind, " key (expected \"", prefix, "<base64>\")"));
  }
  std::string_view b64 = text.substr(prefix.size());
  size_t decoded = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out, out_size, b64.data(), b64.size(), nullptr, &decoded, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size() || decoded != out_size) {
    sodium_memzero(out, out_size);
    return absl::InvalidArgumentError(
        StrCat(where, ": malformed ", kind, " key (expected base64 of ", out_size, " bytes)"));
  }
  return absl::OkStatus();
}

// Creates `path` exclusively with `mode` (exactly, whatever the umask) and
// writes `data`. AlreadyExists when it exists.
absl::Status CreateExclusive(const std::string& path, std::string_view data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    int err = errno;
    std::string message = StrCat(path, ": cannot create (", ErrnoText(err), ")");
    if (err == EEXIST) {
      return absl::AlreadyExistsError(StrCat(path, ": already exists (not overwritten)"));
    }
    return err == ENOENT ? absl::NotFoundError(message) : absl::PermissionDeniedError(message);
  }
  absl::Status status = absl::OkStatus();
  if (::fchmod(fd, mode) != 0) {
    status = absl::InternalError(StrCat(path, ": cannot set mode (", ErrnoText(errno), ")"));
  }
  if (status.ok()) status = WriteAll(fd, data, path);
  if (status.ok() && ::fsync(fd) != 0) {
    status = absl::InternalError(StrCat(path, ": cannot sync (", ErrnoText(errno), ")"));
  }
  ::close(fd);
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

// mkdir -p with mode 0755 for the directories it creates.
absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("trust store directory is empty");
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(
          StrCat(prefix, ": cannot create directory (", ErrnoText(errno), ")"));
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(StrCat(dir, ": not a directory"));
  }
  return absl::OkStatus();
}

// Reads a trusted key file and checks that its name is its key id. Whoever
// can write the file decides what runs, so it must belong to `owner` (unset:
// the effective uid) or root and be writable by nobody else.
absl::StatusOr<PublicKey> ReadTrustedFile(const std::string& path, std::string_view key_id,
                                          std::optional<uid_t> owner) {
  SmallFileOptions trusted;
  trusted.trusted_owner = true;
  trusted.owner = owner;
  TROUPE_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, kMaxKeyFileBytes, trusted));
  TROUPE_ASSIGN_OR_RETURN(PublicKey key, ParsePublicKey(text, path));
  std::string actual = KeyId(key);
  if (actual != key_id) {
    return absl::FailedPreconditionError(
        StrCat(path, ": holds key ", actual, ", not ", key_id,
               " (a trusted key file must be named <key id>.pub)"));
  }
  return key;
}

// Whether the isolation mark `path` exists. A mark is an empty regular file
// (white space allowed) that belongs to `owner` (unset: the effective uid) or
// root and that nobody else may write, like a key file.
absl::StatusOr<bool> ReadIsolationMark(const std::string& path, std::optional<uid_t> owner) {
  SmallFileOptions trusted;
  trusted.trusted_owner = true;
  trusted.owner = owner;
  absl::StatusOr<std::string> text = ReadSmallFile(path, kMaxKeyFileBytes, trusted);
  if (absl::IsNotFound(text.status())) return false;
  if (!text.ok()) return text.status();
  if (!Trim(*text).empty()) {
    return absl::FailedPreconditionError(
        StrCat(path, ": not an isolation mark (a mark is an empty file; this one holds ",
               text->size(), " bytes): remove it, then `director trust --isolated` the key again"));
  }
  return true;
}

// Replaces `<dir>/<name>` with a new file holding `content` (mode 0644): a
// temporary file, then rename, so readers never see a partial file.
absl::Status ReplaceFile(const std::string& dir, std::string_view name, std::string_view content) {
  const std::string path = StrCat(dir, "/", name);
  const std::string tmp = StrCat(dir, "/.", name, ".tmp.", ::getpid());
  ::unlink(tmp.c_str());
  TROUPE_RETURN_IF_ERROR(CreateExclusive(tmp, content, 0644));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return absl::PermissionDeniedError(StrCat(path, ": cannot write (", ErrnoText(err), ")"));
  }
  return absl::OkStatus();
}

// Removes `path`; OK when it does not exist. Sets `*removed` when it did.
absl::Status RemoveIfPresent(const std::string& path, bool* removed) {
  if (::unlink(path.c_str()) == 0) {
    *removed = true;
    return absl::OkStatus();
  }
  if (errno == ENOENT) return absl::OkStatus();
  return absl::PermissionDeniedError(StrCat(path, ": cannot remove (", ErrnoText(errno), ")"));
}

}  // namespace

absl::Status InitSodium() {
  static const int result = sodium_init();
  if (result < 0) return absl::InternalError("libsodium failed to initialise");
  return absl::OkStatus();
}

std::string KeyId(const PublicKey& key) {
  (void)InitSodium();
  uint8_t hash[32];
  crypto_generichash(hash, sizeof hash, key.data(), key.size(), nullptr, 0);
  return Hex(hash, 8);
}

absl::StatusOr<KeyPair> GenerateKeyPair() {
  TROUPE_RETURN_IF_ERROR(InitSodium());
  KeyPair pair;
  if (crypto_sign_keypair(pair.public_key.data(), pair.secret_key.data()) != 0) {
    return absl::InternalError("cannot generate an ed25519 key pair");
  }
  return pair;
}

std::string FormatPublicKey(const PublicKey& key) {
  (void)InitSodium();
  return StrCat(kPublicPrefix, Base64(key.data(), key.size()));
}

std::string FormatSecretKey(const SecretKey& key) {
  (void)InitSodium();
  return StrCat(kSecretPrefix, Base64(key.data(), key.size()));
}

absl::StatusOr<PublicKey> ParsePublicKey(std::string_view text, std::string_view where) {
  TROUPE_RETURN_IF_ERROR(InitSodium());
  PublicKey key;
  TROUPE_RETURN_IF_ERROR(DecodeKey(text, kPublicPrefix, "public", where, key.data(), key.size()));
  return key;
}

absl::StatusOr<SecretKey> ParseSecretKey(std::string_view text, std::string_view where) {
  TROUPE_RETURN_IF_ERROR(InitSodium());
  SecretKey key;
  TROUPE_RETURN_IF_ERROR(DecodeKey(text, kSecretPrefix, "secret", where, key.data(), key.size()));
  // The second half is the public key; it must belong to the seed.
  PublicKey derived;
  SecretKey check;
  crypto_sign_seed_keypair(derived.data(), check.data(), key.data());
  bool consistent = sodium_memcmp(check.data(), key.data(), key.size()) == 0;
  sodium_memzero(check.data(), check.size());
  if (!consistent) {
    sodium_memzero(key.data(), key.size());
    return absl::InvalidArgumentError(
        StrCat(where, ": malformed secret key (its public half does not match its seed)"));
  }
  return key;
}

absl::Status WriteKeyPair(const KeyPair& pair, const std::string& dir, std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..") {
    return absl::InvalidArgumentError(
        StrCat("key name '", name, "' is invalid (must be a plain file name)"));
  }
  std::string base = StrCat(dir.empty() ? "." : dir, "/", name);
  std::string key_path = base + ".key";
  std::string pub_path = base + ".pub";
  // Refuse before writing anything when either file exists.
  struct stat st;
  for (const std::string* path : {&key_path, &pub_path}) {
    if (::lstat(path->c_str(), &st) == 0) {
      return absl::AlreadyExistsError(StrCat(*path, ": already exists (not overwritten)"));
    }
  }
  std::string secret = FormatSecretKey(pair.secret_key) + "\n";
  absl::Status status = CreateExclusive(key_path, secret, 0600);
  sodium_memzero(secret.data(), secret.size());
  TROUPE_RETURN_IF_ERROR(status);
  status = CreateExclusive(pub_path, FormatPublicKey(pair.public_key) + "\n", 0644);
  if (!status.ok()) ::unlink(key_path.c_str());
  return status;
}

absl::StatusOr<SecretKey> ReadSecretKey(const std::string& path, std::optional<uid_t> owner) {
  SmallFileOptions secret;
  secret.secret = true;
  secret.owner = owner;
  TROUPE_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, kMaxKeyFileBytes, secret));
  absl::StatusOr<SecretKey> key = ParseSecretKey(text, path);
  sodium_memzero(text.data(), text.size());
  return key;
}

absl::StatusOr<PublicKey> ReadPublicKey(const std::string& path) {
  TROUPE_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, kMaxKeyFileBytes));
  return ParsePublicKey(text, path);
}

std::array<uint8_t, 64> Sign(const SecretKey& key, std::string_view message) {
  (void)InitSodium();
  std::array<uint8_t, 64> signature;
  crypto_sign_detached(signature.data(), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       key.data());
  return signature;
}

bool VerifySignature(const PublicKey& key, std::string_view message,
                     const std::array<uint8_t, 64>& signature) {
  if (!InitSodium().ok()) return false;
  return crypto_sign_verify_detached(signature.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.data()) == 0;
}

namespace {

// Whoever can write the trust directory decides what runs: it must be owned
// by `owner` (unset: the effective uid) or root and writable by nobody else. A
// missing directory is fine (nothing is trusted).
absl::Status CheckTrustDirectory(const std::string& dir, std::optional<uid_t> owner) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::PermissionDeniedError(StrCat(dir, ": cannot inspect (", ErrnoText(errno), ")"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        StrCat("trusted key directory ", dir, " is not a directory"));
  }
  const uid_t expected = owner.value_or(::geteuid());
  if (st.st_uid != expected && st.st_uid != 0) {
    return absl::FailedPreconditionError(StrCat(
        "trusted key directory ", dir, " can be changed by other users (owned by uid ", st.st_uid,
        ", not by the daemon's user (uid ", expected, ") or root): chown ", expected, " ", dir));
  }
  if ((st.st_mode & 0022) != 0) {
    return absl::FailedPreconditionError(StrCat("trusted key directory ", dir,
                                                " can be changed by other users (mode ",
                                                OctalMode(st.st_mode), "): chmod go-w ", dir));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TrustedKey> TrustStore::Find(std::string_view key_id) const {
  if (!IsKeyId(key_id)) {
    return absl::InvalidArgumentError(
        StrCat("'", key_id, "' is not a key id (expected 16 lowercase hex digits)"));
  }
  TROUPE_RETURN_IF_ERROR(CheckTrustDirectory(dir_, owner_));
  TrustedKey trusted;
  trusted.key_id = std::string(key_id);
  trusted.path = StrCat(dir_, "/", key_id, kPubSuffix);
  absl::StatusOr<PublicKey> key = ReadTrustedFile(trusted.path, key_id, owner_);
  if (absl::IsNotFound(key.status())) {
    return absl::NotFoundError(
        StrCat("key ", key_id, " is not trusted (trusted keys are in ", dir_, ")"));
  }
  if (!key.ok()) return key.status();
  trusted.key = *key;
  TROUPE_ASSIGN_OR_RETURN(trusted.isolated,
                          ReadIsolationMark(StrCat(dir_, "/", key_id, kIsolatedSuffix), owner_));
  return trusted;
}

absl::StatusOr<std::vector<TrustedKey>> TrustStore::List() const {
  std::vector<TrustedKey> keys;
  TROUPE_RETURN_IF_ERROR(CheckTrustDirectory(dir_, owner_));
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return keys;  // no directory: nothing is trusted
    return absl::PermissionDeniedError(StrCat(dir_, ": cannot list (", ErrnoText(errno), ")"));
  }
  auto has_suffix = [](std::string_view name, std::string_view suffix) {
    return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  std::vector<std::string> names;
  std::vector<std::string> marks;  // key ids of the *.isolated files
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (has_suffix(name, kPubSuffix)) names.emplace_back(name);
    if (has_suffix(name, kIsolatedSuffix) && name[0] != '.') {
      marks.emplace_back(name.substr(0, name.size() - kIsolatedSuffix.size()));
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::sort(marks.begin(), marks.end());
  for (const std::string& name : names) {
    std::string path = StrCat(dir_, "/", name);
    std::string key_id = name.substr(0, name.size() - kPubSuffix.size());
    if (!IsKeyId(key_id)) {
      return absl::FailedPreconditionError(StrCat(
          path, ": not a trusted key file name (expected <key id>.pub, 16 lowercase hex digits)"));
    }
    TROUPE_ASSIGN_OR_RETURN(PublicKey key, ReadTrustedFile(path, key_id, owner_));
    TrustedKey trusted{key_id, path, key};
    TROUPE_ASSIGN_OR_RETURN(trusted.isolated,
                            ReadIsolationMark(StrCat(dir_, "/", key_id, kIsolatedSuffix), owner_));
    keys.push_back(std::move(trusted));
  }
  // A mark without its key marks nothing: left by hand (or by an older
  // director's untrust), it would silently apply once the key is trusted again.
  for (const std::string& key_id : marks) {
    const std::string path = StrCat(dir_, "/", key_id, kIsolatedSuffix);
    if (!IsKeyId(key_id)) {
      return absl::FailedPreconditionError(
          StrCat(path, ": not an isolation mark name (expected <key id>", kIsolatedSuffix,
                 ", 16 lowercase hex digits)"));
    }
    if (!std::binary_search(names.begin(), names.end(), StrCat(key_id, kPubSuffix))) {
      return absl::FailedPreconditionError(
          StrCat(path, ": isolation mark of key ", key_id,
                 ", which is not trusted: remove it, or trust the key with `director trust "
                 "--isolated`"));
    }
  }
  return keys;
}

absl::StatusOr<TrustOutcome> TrustStore::Trust(const std::string& public_key_path,
                                               IsolationMark mark) const {
  TROUPE_ASSIGN_OR_RETURN(PublicKey key, ReadPublicKey(public_key_path));
  TrustOutcome outcome;
  outcome.key_id = KeyId(key);
  TROUPE_RETURN_IF_ERROR(MakeDirs(dir_));
  const std::string pub_name = StrCat(outcome.key_id, kPubSuffix);
  const std::string mark_name = StrCat(outcome.key_id, kIsolatedSuffix);
  const std::string mark_path = StrCat(dir_, "/", mark_name);
  struct stat st;
  outcome.was_trusted = ::lstat(StrCat(dir_, "/", pub_name).c_str(), &st) == 0;
  absl::StatusOr<bool> marked = ReadIsolationMark(mark_path, owner_);
  // A malformed mark is replaced or removed when the caller says what it
  // wants; kept, it must be sound.
  if (!marked.ok() && mark == IsolationMark::kKeep) return marked.status();
  const bool mark_present = ::lstat(mark_path.c_str(), &st) == 0;
  outcome.was_isolated = marked.value_or(false);
  outcome.isolated =
      mark == IsolationMark::kIsolated || (mark == IsolationMark::kKeep && outcome.was_isolated);
  // The mark goes in first, so that the key is never trusted without it.
  if (mark == IsolationMark::kIsolated) {
    TROUPE_RETURN_IF_ERROR(ReplaceFile(dir_, mark_name, ""));
  }
  if (absl::Status written = ReplaceFile(dir_, pub_name, FormatPublicKey(key) + "\n");
      !written.ok()) {
    if (mark == IsolationMark::kIsolated && !mark_present) ::unlink(mark_path.c_str());
    return written;
  }
  if (mark == IsolationMark::kInline) {
    bool removed = false;
    TROUPE_RETURN_IF_ERROR(RemoveIfPresent(mark_path, &removed));
  }
  return outcome;
}

absl::Status TrustStore::Untrust(std::string_view key_id) const {
  if (!IsKeyId(key_id)) {
    return absl::InvalidArgumentError(
        StrCat("'", key_id, "' is not a key id (expected 16 lowercase hex digits)"));
  }
  // The key first: once it is gone nothing it signed verifies, mark or not.
  bool removed_key = false;
  bool removed_mark = false;
  TROUPE_RETURN_IF_ERROR(RemoveIfPresent(StrCat(dir_, "/", key_id, kPubSuffix), &removed_key));
  TROUPE_RETURN_IF_ERROR(
      RemoveIfPresent(StrCat(dir_, "/", key_id, kIsolatedSuffix), &removed_mark));
  if (!removed_key && !removed_mark) {
    return absl::NotFoundError(
        StrCat("key ", key_id, " is not trusted (trusted keys are in ", dir_, ")"));
  }
  return absl::OkStatus();
}

}  // namespace troupe::bundle
