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
  absl::StatusOr<TrustOutcome> trusted = store.Trust(dir.path() + "/k.pub");
  EXPECT_OK(trusted);
  return store.dir() + "/" + (trusted.ok() ? trusted->key_id : "") + ".pub";
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

  ASSERT_OK_AND_ASSIGN(TrustOutcome trusted_a, store.Trust(dir.path() + "/a.pub"));
  const std::string id_a = trusted_a.key_id;
  EXPECT_EQ(id_a, KeyId(a.public_key));
  EXPECT_FALSE(trusted_a.was_trusted);
  EXPECT_FALSE(trusted_a.isolated);
  EXPECT_TRUE(fs::exists(store.dir() + "/" + id_a + ".pub"));
  ASSERT_OK_AND_ASSIGN(TrustOutcome trusted_b, store.Trust(dir.path() + "/b.pub"));
  const std::string id_b = trusted_b.key_id;
  ASSERT_OK_AND_ASSIGN(TrustOutcome again, store.Trust(dir.path() + "/a.pub"));
  EXPECT_EQ(again.key_id, id_a);
  EXPECT_TRUE(again.was_trusted);

  ASSERT_OK_AND_ASSIGN(TrustedKey found, store.Find(id_a));
  EXPECT_EQ(found.key, a.public_key);
  EXPECT_EQ(found.key_id, id_a);
  EXPECT_EQ(found.path, store.dir() + "/" + id_a + ".pub");
  EXPECT_FALSE(found.isolated);

  ASSERT_OK_AND_ASSIGN(std::vector<TrustedKey> keys, store.List());
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_LT(keys[0].key_id, keys[1].key_id);
  for (const TrustedKey& k : keys) {
    EXPECT_EQ(k.path, store.dir() + "/" + k.key_id + ".pub");
    EXPECT_EQ(k.key, k.key_id == id_a ? a.public_key : b.public_key);
  }

  ASSERT_OK(store.Untrust(id_a));
  absl::StatusOr<TrustedKey> gone = store.Find(id_a);
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
  absl::StatusOr<TrustOutcome> id = store.Trust(dir.path() + "/a.pub");
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
  ASSERT_OK_AND_ASSIGN(TrustOutcome trusted, store.Trust(dir.path() + "/a.pub"));
  const std::string id = trusted.key_id;
  ASSERT_OK(store.Find(id));
  fs::remove(store.dir() + "/" + id + ".pub");
  EXPECT_EQ(store.Find(id).status().code(), absl::StatusCode::kNotFound);
}

TEST(TrustStoreTest, MalformedKeyFileIsAnErrorNamingIt) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair a, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(a, dir.path(), "a"));
  TrustStore store(dir.path() + "/trusted");
  ASSERT_OK_AND_ASSIGN(TrustOutcome trusted, store.Trust(dir.path() + "/a.pub"));
  const std::string id = trusted.key_id;
  std::string bad = store.dir() + "/0123456789abcdef.pub";
  WriteFile(bad, "not a key\n");

  absl::StatusOr<std::vector<TrustedKey>> list = store.List();
  ASSERT_FALSE(list.ok());
  EXPECT_CONTAINS(std::string(list.status().message()), bad + ": not a troupe public key");

  // Find reads only the requested key's file.
  ASSERT_OK(store.Find(id));
  absl::StatusOr<TrustedKey> found = store.Find("0123456789abcdef");
  ASSERT_FALSE(found.ok());
  EXPECT_CONTAINS(std::string(found.status().message()), bad);
}

TEST(TrustStoreTest, KeyFileUnderAnotherIdIsAnError) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(KeyPair a, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(a, dir.path(), "a"));
  TrustStore store(dir.path() + "/trusted");
  ASSERT_OK_AND_ASSIGN(TrustOutcome trusted, store.Trust(dir.path() + "/a.pub"));
  const std::string id = trusted.key_id;
  std::string renamed = store.dir() + "/0123456789abcdef.pub";
  fs::rename(store.dir() + "/" + id + ".pub", renamed);
  absl::StatusOr<TrustedKey> found = store.Find("0123456789abcdef");
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
  absl::StatusOr<TrustedKey> found = store.Find(id);
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
  absl::StatusOr<TrustOutcome> id = store.Trust(dir.path() + "/bad.pub");
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
  ASSERT_OK_AND_ASSIGN(TrustOutcome outcome, store.Trust(dir.path() + "/k.pub"));
  const std::string id = outcome.key_id;
  ASSERT_OK(store.Find(id).status());
  ASSERT_EQ(::chmod(trusted.c_str(), 0777), 0);
  absl::StatusOr<TrustedKey> found = store.Find(id);
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
  absl::StatusOr<TrustedKey> found = store.Find(id);
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
  absl::StatusOr<TrustedKey> found = store.Find(id);
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

// ------------------------------------------------------- isolation marks

// A key pair written in `dir` as `name`.pub/.key; returns its public key file.
std::string NewPublicKeyFile(const TempDir& dir, const std::string& name) {
  absl::StatusOr<KeyPair> pair = GenerateKeyPair();
  EXPECT_OK(pair);
  EXPECT_OK(WriteKeyPair(*pair, dir.path(), name));
  return dir.path() + "/" + name + ".pub";
}

TEST(TrustStoreTest, TrustIsolatedMarksTheSignerBesideItsKey) {
  TempDir dir;
  TrustStore store(dir.path() + "/trusted");
  const std::string plain_pub = NewPublicKeyFile(dir, "plain");
  const std::string isolated_pub = NewPublicKeyFile(dir, "boxed");
  ASSERT_OK_AND_ASSIGN(TrustOutcome plain, store.Trust(plain_pub));
  ASSERT_OK_AND_ASSIGN(TrustOutcome boxed, store.Trust(isolated_pub, IsolationMark::kIsolated));
  EXPECT_FALSE(plain.isolated);
  EXPECT_TRUE(boxed.isolated);
  EXPECT_FALSE(boxed.was_trusted);
  EXPECT_FALSE(boxed.was_isolated);

  // The mark is an empty file <key id>.isolated next to <key id>.pub.
  const std::string mark = store.dir() + "/" + boxed.key_id + ".isolated";
  ASSERT_TRUE(fs::exists(mark));
  EXPECT_EQ(fs::file_size(mark), 0u);
  EXPECT_EQ(ModeOf(mark), 0644u);
  EXPECT_FALSE(fs::exists(store.dir() + "/" + plain.key_id + ".isolated"));

  ASSERT_OK_AND_ASSIGN(TrustedKey found, store.Find(boxed.key_id));
  EXPECT_TRUE(found.isolated);
  ASSERT_OK_AND_ASSIGN(TrustedKey other, store.Find(plain.key_id));
  EXPECT_FALSE(other.isolated);

  ASSERT_OK_AND_ASSIGN(std::vector<TrustedKey> keys, store.List());
  ASSERT_EQ(keys.size(), 2u);
  for (const TrustedKey& key : keys) {
    EXPECT_EQ(key.isolated, key.key_id == boxed.key_id) << key.key_id;
  }
}

TEST(TrustStoreTest, TrustingAMarkedKeyAgainKeepsTheMarkAndInlineLiftsIt) {
  TempDir dir;
  TrustStore store(dir.path() + "/trusted");
  const std::string pub = NewPublicKeyFile(dir, "k");
  ASSERT_OK_AND_ASSIGN(TrustOutcome first, store.Trust(pub, IsolationMark::kIsolated));

  ASSERT_OK_AND_ASSIGN(TrustOutcome again, store.Trust(pub));
  EXPECT_TRUE(again.was_trusted);
  EXPECT_TRUE(again.was_isolated);
  EXPECT_TRUE(again.isolated) << "a plain trust keeps the mark";
  ASSERT_OK_AND_ASSIGN(TrustedKey kept, store.Find(first.key_id));
  EXPECT_TRUE(kept.isolated);

  ASSERT_OK_AND_ASSIGN(TrustOutcome lifted, store.Trust(pub, IsolationMark::kInline));
  EXPECT_TRUE(lifted.was_isolated);
  EXPECT_FALSE(lifted.isolated);
  EXPECT_FALSE(fs::exists(store.dir() + "/" + first.key_id + ".isolated"));
  ASSERT_OK_AND_ASSIGN(TrustedKey now, store.Find(first.key_id));
  EXPECT_FALSE(now.isolated);
  EXPECT_EQ(now.key, kept.key) << "the key itself stays trusted";

  // Lifting a mark that is not there changes nothing.
  ASSERT_OK_AND_ASSIGN(TrustOutcome nothing, store.Trust(pub, IsolationMark::kInline));
  EXPECT_FALSE(nothing.was_isolated);
  EXPECT_FALSE(nothing.isolated);
  // And --isolated marks a key that was trusted plainly.
  ASSERT_OK_AND_ASSIGN(TrustOutcome marked, store.Trust(pub, IsolationMark::kIsolated));
  EXPECT_TRUE(marked.was_trusted);
  EXPECT_FALSE(marked.was_isolated);
  ASSERT_OK_AND_ASSIGN(TrustedKey found, store.Find(first.key_id));
  EXPECT_TRUE(found.isolated);
}

TEST(TrustStoreTest, UntrustRemovesTheMarkToo) {
  TempDir dir;
  TrustStore store(dir.path() + "/trusted");
  ASSERT_OK_AND_ASSIGN(TrustOutcome trusted,
                       store.Trust(NewPublicKeyFile(dir, "k"), IsolationMark::kIsolated));
  const std::string mark = store.dir() + "/" + trusted.key_id + ".isolated";
  ASSERT_TRUE(fs::exists(mark));
  ASSERT_OK(store.Untrust(trusted.key_id));
  EXPECT_FALSE(fs::exists(store.dir() + "/" + trusted.key_id + ".pub"));
  EXPECT_FALSE(fs::exists(mark));
  EXPECT_EQ(store.Untrust(trusted.key_id).code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<TrustedKey> none, store.List());
  EXPECT_TRUE(none.empty());

  // A mark left without its key (e.g. by an older director's untrust) goes too.
  WriteFile(mark, "");
  ASSERT_OK(store.Untrust(trusted.key_id));
  EXPECT_FALSE(fs::exists(mark));
}

TEST(TrustStoreTest, AMarkThatIsNotEmptyIsAnErrorNamingIt) {
  TempDir dir;
  TrustStore store(dir.path() + "/trusted");
  const std::string pub = NewPublicKeyFile(dir, "k");
  ASSERT_OK_AND_ASSIGN(TrustOutcome trusted, store.Trust(pub, IsolationMark::kIsolated));
  const std::string mark = store.dir() + "/" + trusted.key_id + ".isolated";
  const std::string expected =
      mark + ": not an isolation mark (a mark is an empty file; this one holds 6 bytes): remove "
             "it, then `director trust --isolated` the key again";

  WriteFile(mark, "inline");
  absl::StatusOr<TrustedKey> found = store.Find(trusted.key_id);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(found.status().message(), expected);
  EXPECT_EQ(store.List().status().message(), expected);
  // A plain trust must not guess what the odd file meant...
  absl::StatusOr<TrustOutcome> kept = store.Trust(pub);
  EXPECT_EQ(kept.status().message(), expected);
  // ... but --isolated replaces it with a sound mark.
  ASSERT_OK(store.Trust(pub, IsolationMark::kIsolated));
  EXPECT_EQ(fs::file_size(mark), 0u);
  ASSERT_OK_AND_ASSIGN(TrustedKey fixed, store.Find(trusted.key_id));
  EXPECT_TRUE(fixed.isolated);

  // White space alone (`echo > KEYID.isolated`) is still an empty mark.
  WriteFile(mark, "\n");
  ASSERT_OK_AND_ASSIGN(TrustedKey newline, store.Find(trusted.key_id));
  EXPECT_TRUE(newline.isolated);

  // --inline removes an odd file too.
  WriteFile(mark, "junk");
  ASSERT_OK(store.Trust(pub, IsolationMark::kInline));
  EXPECT_FALSE(fs::exists(mark));
}

TEST(TrustStoreTest, AFifoOrWritableMarkIsRefusedNamingIt) {
  TempDir dir;
  TrustStore store(dir.path() + "/trusted");
  ASSERT_OK_AND_ASSIGN(TrustOutcome trusted,
                       store.Trust(NewPublicKeyFile(dir, "k"), IsolationMark::kIsolated));
  const std::string mark = store.dir() + "/" + trusted.key_id + ".isolated";

  ASSERT_EQ(::chmod(mark.c_str(), 0666), 0);
  const std::string writable = mark + " is writable by others (mode 0666): chmod go-w " + mark;
  EXPECT_EQ(store.Find(trusted.key_id).status().message(), writable);
  EXPECT_EQ(store.List().status().message(), writable);

  fs::remove(mark);
  ASSERT_EQ(::mkfifo(mark.c_str(), 0644), 0);
  // Nothing writes the FIFO: a reader that waits for a writer never returns.
  absl::StatusOr<TrustedKey> fifo = store.Find(trusted.key_id);
  EXPECT_EQ(fifo.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fifo.status().message(), mark + " is not a regular file (a fifo)");
}

TEST(TrustStoreTest, ListRefusesAMarkWithoutItsKeyOrWithABadName) {
  TempDir dir;
  TrustStore store(dir.path() + "/trusted");
  ASSERT_OK(store.Trust(NewPublicKeyFile(dir, "k")));
  const std::string orphan = store.dir() + "/0123456789abcdef.isolated";
  WriteFile(orphan, "");
  absl::StatusOr<std::vector<TrustedKey>> list = store.List();
  EXPECT_EQ(list.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(list.status().message(),
            orphan +
                ": isolation mark of key 0123456789abcdef, which is not trusted: remove it, or "
                "trust the key with `director trust --isolated`");
  // Find of that id still says what matters: the key is not trusted.
  EXPECT_EQ(store.Find("0123456789abcdef").status().code(), absl::StatusCode::kNotFound);
  fs::remove(orphan);

  const std::string odd = store.dir() + "/signer.isolated";
  WriteFile(odd, "");
  EXPECT_EQ(store.List().status().message(),
            odd + ": not an isolation mark name (expected <key id>.isolated, 16 lowercase hex "
                  "digits)");
}

TEST(TrustStoreTest, AKeyIsNeverTrustedWithoutTheMarkItWasGiven) {
  TempDir dir;
  TrustStore store(dir.path() + "/trusted");
  const std::string pub = NewPublicKeyFile(dir, "k");
  ASSERT_OK_AND_ASSIGN(PublicKey key, ReadPublicKey(pub));
  const std::string id = KeyId(key);
  // A directory where the mark goes: the mark cannot be written, so the key
  // must not be trusted either.
  fs::create_directories(store.dir() + "/" + id + ".isolated/inside");
  absl::StatusOr<TrustOutcome> refused = store.Trust(pub, IsolationMark::kIsolated);
  EXPECT_FALSE(refused.ok());
  EXPECT_CONTAINS(std::string(refused.status().message()), store.dir() + "/" + id + ".isolated");
  EXPECT_FALSE(fs::exists(store.dir() + "/" + id + ".pub"));
}

}  // namespace
}  // namespace troupe::bundle
