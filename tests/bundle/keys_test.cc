// keys_test.cc - key generation, key files, key ids and the trust store.
#include "daemon/bundle/keys.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/common/strings.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::bundle {
namespace {

namespace fs = std::filesystem;

using ::troupe::testing::TempDir;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Writes a key pair in `dir` and trusts its public key in `store`; returns
// the trusted key file, <store>/<key id>.pub.
std::string TrustANewKey(const TempDir& dir, const TrustStore& store) {
  absl::StatusOr<KeyPair> pair = GenerateKeyPair();
  EXPECT_OK(pair);
  EXPECT_OK(WriteKeyPair(*pair, dir.path(), "k"));
  absl::StatusOr<std::string> id = store.Trust(dir.path() + "/k.pub");
  EXPECT_OK(id);
  return store.dir() + "/" + id.value_or("") + ".pub";
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(KeysTest, GeneratedKeySignsAndVerifies) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  std::array<uint8_t, 64> signature = Sign(pair.secret_key, "hello");
  EXPECT_TRUE(VerifySignature(pair.public_key, "hello", signature));
  EXPECT_FALSE(VerifySignature(pair.public_key, "hellO", signature));
  ASSERT_OK_AND_ASSIGN(KeyPair other, GenerateKeyPair());
  EXPECT_FALSE(VerifySignature(other.public_key, "hello", signature));
}

TEST(KeysTest, KeyIdIsSixteenLowercaseHexDigits) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  std::string id = KeyId(pair.public_key);
  ASSERT_EQ(id.size(), 16u);
  for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
  EXPECT_EQ(KeyId(pair.public_key), id);
  ASSERT_OK_AND_ASSIGN(KeyPair other, GenerateKeyPair());
  EXPECT_NE(KeyId(other.public_key), id);
}

TEST(KeysTest, KeyIdOfAllZeroKeyIsBlake2bPrefix) {
  // BLAKE2b-256 of 32 zero bytes begins 89eb0d6a8a691dae.
  PublicKey zero{};
  EXPECT_EQ(KeyId(zero), "89eb0d6a8a691dae");
}

TEST(KeysTest, FormattedKeysParseBack) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  std::string pub = FormatPublicKey(pair.public_key);
  EXPECT_EQ(pub.rfind("troupe-ed25519-public ", 0), 0u) << pub;
  ASSERT_OK_AND_ASSIGN(PublicKey pk, ParsePublicKey(pub + "\n", "x"));
  EXPECT_EQ(pk, pair.public_key);
  std::string sec = FormatSecretKey(pair.secret_key);
  EXPECT_EQ(sec.rfind("troupe-ed25519-secret ", 0), 0u);
  ASSERT_OK_AND_ASSIGN(SecretKey sk, ParseSecretKey(sec, "x"));
  EXPECT_EQ(sk, pair.secret_key);
}

TEST(KeysTest, ParseRejectsWrongKindAndBadBase64) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  absl::StatusOr<PublicKey> wrong_kind = ParsePublicKey(FormatSecretKey(pair.secret_key), "k.pub");
  EXPECT_EQ(wrong_kind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(std::string(wrong_kind.status().message()), "k.pub: not a troupe public key");
  absl::StatusOr<PublicKey> short_key = ParsePublicKey("troupe-ed25519-public AAAA", "k.pub");
  EXPECT_CONTAINS(std::string(short_key.status().message()),
                  "k.pub: malformed public key (expected base64 of 32 bytes)");
  absl::StatusOr<PublicKey> junk = ParsePublicKey("troupe-ed25519-public !!!!", "k.pub");
  EXPECT_FALSE(junk.ok());
}

TEST(KeysTest, ParseSecretKeyRejectsMismatchedHalves) {
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  ASSERT_OK_AND_ASSIGN(KeyPair other, GenerateKeyPair());
  SecretKey mixed = pair.secret_key;
  std::copy(other.public_key.begin(), other.public_key.end(), mixed.begin() + 32);
  absl::StatusOr<SecretKey> parsed = ParseSecretKey(FormatSecretKey(mixed), "k.key");
  EXPECT_CONTAINS(std::string(parsed.status().message()),
                  "k.key: malformed secret key (its public half does not match its seed)");
}

TEST(KeysTest, WriteAndReadKeyPairRoundTrip) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(pair, dir.path(), "builder"));
  ASSERT_OK_AND_ASSIGN(SecretKey sk, ReadSecretKey(dir.path() + "/builder.key"));
  ASSERT_OK_AND_ASSIGN(PublicKey pk, ReadPublicKey(dir.path() + "/builder.pub"));
  EXPECT_EQ(sk, pair.secret_key);
  EXPECT_EQ(pk, pair.public_key);
}

TEST(KeysTest, SecretKeyFileIsPrivateAndPublicKeyFileIsReadable) {
  TempDir dir;
  mode_t old_umask = ::umask(0);  // the modes must not depend on the umask
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  absl::Status written = WriteKeyPair(pair, dir.path(), "builder");
  ::umask(old_umask);
  ASSERT_OK(written);
  EXPECT_EQ(ModeOf(dir.path() + "/builder.key"), 0600u);
  EXPECT_EQ(ModeOf(dir.path() + "/builder.pub"), 0644u);
}

TEST(KeysTest, WriteKeyPairRefusesToOverwrite) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair first, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(first, dir.path(), "builder"));
  ASSERT_OK_AND_ASSIGN(KeyPair second, GenerateKeyPair());
  absl::Status again = WriteKeyPair(second, dir.path(), "builder");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_CONTAINS(std::string(again.message()), dir.path() + "/builder.key");
  ASSERT_OK_AND_ASSIGN(SecretKey kept, ReadSecretKey(dir.path() + "/builder.key"));
  EXPECT_EQ(kept, first.secret_key);
}

TEST(KeysTest, WriteKeyPairWritesNothingWhenOnlyPublicFileExists) {
  TempDir dir;
  WriteFile(dir.path() + "/builder.pub", "something else\n");
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  absl::Status status = WriteKeyPair(pair, dir.path(), "builder");
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_CONTAINS(std::string(status.message()), "builder.pub: already exists");
  EXPECT_FALSE(fs::exists(dir.path() + "/builder.key"));
}

TEST(KeysTest, ReadMissingKeyIsNotFoundNamingThePath) {
  TempDir dir;
  absl::StatusOr<SecretKey> key = ReadSecretKey(dir.path() + "/none.key");
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(std::string(key.status().message()), dir.path() + "/none.key");
}

TEST(TrustStoreTest, TrustFindListUntrust) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair a, GenerateKeyPair());
  ASSERT_OK_AND_ASSIGN(KeyPair b, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(a, dir.path(), "a"));
  ASSERT_OK(WriteKeyPair(b, dir.path(), "b"));
  TrustStore store(dir.path() + "/keys/trusted");  // created on first Trust

  ASSERT_OK_AND_ASSIGN(std::vector<TrustedKey> none, store.List());
  EXPECT_TRUE(none.empty());

  ASSERT_OK_AND_ASSIGN(std::string id_a, store.Trust(dir.path() + "/a.pub"));
  EXPECT_EQ(id_a, KeyId(a.public_key));
  EXPECT_TRUE(fs::exists(store.dir() + "/" + id_a + ".pub"));
  ASSERT_OK_AND_ASSIGN(std::string id_b, store.Trust(dir.path() + "/b.pub"));
  ASSERT_OK_AND_ASSIGN(std::string id_a_again, store.Trust(dir.path() + "/a.pub"));
  EXPECT_EQ(id_a_again, id_a);

  ASSERT_OK_AND_ASSIGN(PublicKey found, store.Find(id_a));
  EXPECT_EQ(found, a.public_key);

  ASSERT_OK_AND_ASSIGN(std::vector<TrustedKey> keys, store.List());
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_LT(keys[0].key_id, keys[1].key_id);
  for (const TrustedKey& k : keys) {
    EXPECT_EQ(k.path, store.dir() + "/" + k.key_id + ".pub");
    EXPECT_EQ(k.key, k.key_id == id_a ? a.public_key : b.public_key);
  }

  ASSERT_OK(store.Untrust(id_a));
  absl::StatusOr<PublicKey> gone = store.Find(id_a);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(gone.status().message()),
            "key " + id_a + " is not trusted (trusted keys are in " + store.dir() + ")");
  EXPECT_EQ(store.Untrust(id_a).code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<TrustedKey> left, store.List());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].key_id, id_b);
}

TEST(TrustStoreTest, TrustedDirectoryIsCreatedWithMode0755) {
  TempDir dir;
  mode_t old_umask = ::umask(0);
  ASSERT_OK_AND_ASSIGN(KeyPair a, GenerateKeyPair());
  absl::Status written = WriteKeyPair(a, dir.path(), "a");
  TrustStore store(dir.path() + "/keys/trusted");
  absl::StatusOr<std::string> id = store.Trust(dir.path() + "/a.pub");
  ::umask(old_umask);
  ASSERT_OK(written);
  ASSERT_OK(id);
  EXPECT_EQ(ModeOf(store.dir()), 0755u);
}

TEST(TrustStoreTest, RemovingTheFileRevokesAtOnce) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair a, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(a, dir.path(), "a"));
  TrustStore store(dir.path() + "/trusted");
  ASSERT_OK_AND_ASSIGN(std::string id, store.Trust(dir.path() + "/a.pub"));
  ASSERT_OK(store.Find(id));
  fs::remove(store.dir() + "/" + id + ".pub");
  EXPECT_EQ(store.Find(id).status().code(), absl::StatusCode::kNotFound);
}

TEST(TrustStoreTest, MalformedKeyFileIsAnErrorNamingIt) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair a, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(a, dir.path(), "a"));
  TrustStore store(dir.path() + "/trusted");
  ASSERT_OK_AND_ASSIGN(std::string id, store.Trust(dir.path() + "/a.pub"));
  std::string bad = store.dir() + "/0123456789abcdef.pub";
  WriteFile(bad, "not a key\n");

  absl::StatusOr<std::vector<TrustedKey>> list = store.List();
  ASSERT_FALSE(list.ok());
  EXPECT_CONTAINS(std::string(list.status().message()), bad + ": not a troupe public key");

  // Find reads only the requested key's file.
  ASSERT_OK(store.Find(id));
  absl::StatusOr<PublicKey> found = store.Find("0123456789abcdef");
  ASSERT_FALSE(found.ok());
  EXPECT_CONTAINS(std::string(found.status().message()), bad);
}

TEST(TrustStoreTest, KeyFileUnderAnotherIdIsAnError) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair a, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(a, dir.path(), "a"));
  TrustStore store(dir.path() + "/trusted");
  ASSERT_OK_AND_ASSIGN(std::string id, store.Trust(dir.path() + "/a.pub"));
  std::string renamed = store.dir() + "/0123456789abcdef.pub";
  fs::rename(store.dir() + "/" + id + ".pub", renamed);
  absl::StatusOr<PublicKey> found = store.Find("0123456789abcdef");
  EXPECT_EQ(found.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(std::string(found.status().message()),
                  renamed + ": holds key " + id + ", not 0123456789abcdef");
  EXPECT_FALSE(store.List().ok());
}

TEST(TrustStoreTest, AFifoAsATrustedKeyIsRefusedAtOnce) {
  TempDir dir;
  TrustStore store(dir.path() + "/trusted");
  const std::string path = TrustANewKey(dir, store);
  const std::string id = fs::path(path).stem().string();
  fs::remove(path);
  ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0);
  // Nothing writes the FIFO: a reader that waits for a writer never returns.
  absl::StatusOr<PublicKey> found = store.Find(id);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(found.status().message(), path + " is not a regular file (a fifo)");
  absl::StatusOr<std::vector<TrustedKey>> list = store.List();
  EXPECT_EQ(list.status().message(), path + " is not a regular file (a fifo)");
}

TEST(KeysTest, AnOversizedKeyFileIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/big.pub";
  WriteFile(path, std::string(5000, 'x'));
  absl::StatusOr<PublicKey> key = ReadPublicKey(path);
  EXPECT_EQ(key.status().message(), path + " is 5000 bytes, more than the limit of 4096");
}

TEST(KeysTest, ASecretKeyOthersCanReadIsRefused) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(pair, dir.path(), "builder"));
  const std::string path = dir.path() + "/builder.key";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  absl::StatusOr<SecretKey> key = ReadSecretKey(path);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(key.status().message(), path +
                                        " is accessible by group or others (mode 0644); it is "
                                        "a secret: chmod 600 " +
                                        path);
}

TEST(KeysTest, ASecretKeyOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(pair, dir.path(), "builder"));
  const std::string path = dir.path() + "/builder.key";
  ASSERT_EQ(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  absl::StatusOr<SecretKey> key = ReadSecretKey(path);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(std::string(key.status().message()),
                  path + " is owned by uid 65534, not by the user reading it (uid 0)");
}

TEST(TrustStoreTest, FindRejectsKeyIdsThatAreNotKeyIds) {
  TempDir dir;
  TrustStore store(dir.path());
  EXPECT_EQ(store.Find("../../etc/passwd").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Find("0123456789ABCDEF").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Untrust("../x").code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrustStoreTest, TrustingAMalformedFileFailsNamingIt) {
  TempDir dir;
  WriteFile(dir.path() + "/bad.pub", "junk");
  TrustStore store(dir.path() + "/trusted");
  absl::StatusOr<std::string> id = store.Trust(dir.path() + "/bad.pub");
  ASSERT_FALSE(id.ok());
  EXPECT_CONTAINS(std::string(id.status().message()), dir.path() + "/bad.pub");
  EXPECT_FALSE(fs::exists(store.dir()));
}

TEST(TrustStoreTest, ADirectoryOthersCanWriteIsRefused) {
  TempDir dir;
  const std::string trusted = dir.path() + "/trusted";
  TrustStore store(trusted);
  ASSERT_OK_AND_ASSIGN(KeyPair pair, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(pair, dir.path(), "k"));
  ASSERT_OK_AND_ASSIGN(std::string id, store.Trust(dir.path() + "/k.pub"));
  ASSERT_OK(store.Find(id).status());
  ASSERT_EQ(::chmod(trusted.c_str(), 0777), 0);
  absl::StatusOr<PublicKey> found = store.Find(id);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(std::string(found.status().message()), "can be changed by other users");
  EXPECT_EQ(store.List().status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(::chmod(trusted.c_str(), 0755), 0);
  EXPECT_OK(store.Find(id).status());
}

TEST(TrustStoreTest, AGroupWritableTrustedKeyIsRefusedWithTheFix) {
  TempDir dir;
  TrustStore store(dir.path() + "/trusted");
  const std::string path = TrustANewKey(dir, store);
  const std::string id = fs::path(path).stem().string();
  ASSERT_EQ(::chmod(path.c_str(), 0664), 0);
  const std::string expected = path + " is writable by its group (mode 0664): chmod go-w " + path;
  absl::StatusOr<PublicKey> found = store.Find(id);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(found.status().message(), expected);
  EXPECT_EQ(store.List().status().message(), expected);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_OK(store.Find(id).status());
}

TEST(TrustStoreTest, ATrustedKeyOfAnotherUserIsRefused) {
  TempDir dir;
  const std::string trusted = dir.path() + "/trusted";
  const std::string path = TrustANewKey(dir, TrustStore(trusted));
  const std::string id = fs::path(path).stem().string();
  if (::geteuid() != 0) {
    // Another expected owner would refuse the directory (ours) first, and only
    // root can give the file away; small_file_test checks the rule as any user.
    GTEST_SKIP() << "needs root to give a trusted key to another user";
  }
  // Root may own a trusted key, so give this one away.
  ASSERT_EQ(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  const uid_t owner = 0;
  const uid_t file_owner = 65534;
  TrustStore store(trusted, owner);
  absl::StatusOr<PublicKey> found = store.Find(id);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(found.status().message(),
            StrCat(path, " is owned by uid ", file_owner, ", not by the daemon's user (uid ", owner,
                   "): chown ", owner, " ", path));
  EXPECT_EQ(store.List().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_OK(TrustStore(trusted, file_owner).Find(id).status());
}

TEST(TrustStoreTest, ADirectoryOfAnotherUserIsRefusedWithTheFix) {
  TempDir dir;
  const uid_t me = ::geteuid();
  const uid_t other = me == 0 ? 12345 : me + 1;
  if (me == 0) {
    ASSERT_EQ(::chown(dir.path().c_str(), 65534, static_cast<gid_t>(-1)), 0);
  }
  const uid_t dir_owner = me == 0 ? 65534 : me;
  TrustStore store(dir.path(), other);
  absl::StatusOr<std::vector<TrustedKey>> list = store.List();
  EXPECT_EQ(list.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(list.status().message(), StrCat("trusted key directory ", dir.path(),
                                            " can be changed by other users (owned by uid ",
                                            dir_owner, ", not by the daemon's user (uid ", other,
                                            ") or root): chown ", other, " ", dir.path()));
}

}  // namespace
}  // namespace troupe::bundle
