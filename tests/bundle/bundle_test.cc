// bundle_test.cc - building and verifying signed bundles: the round trip,
// reproducibility, and one test per way a bundle is refused. Hostile bundles
// are written here with libzip directly (CraftZip) and signed with the test
// key (SignIndex), so each test changes exactly one thing.
#include "daemon/bundle/bundle.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::bundle {
namespace {

namespace fs = std::filesystem;

constexpr char kWhere[] = "test.troupe";
constexpr char kManifest[] = R"({"group": "hello", "version": "1.0",
  "abi": {"major": 1, "minor": 0},
  "libraries": ["lib/hello.so"],
  "actors": [{"class_name": "hello.Greeter"}]})";
constexpr char kLibrary[] = "not really an ELF file: hello";
constexpr char kGreeting[] = "hello, world\n";

using ::troupe::testing::TempDir;

// One entry of a hand-made zip.
struct RawEntry {
  std::string name;
  std::string content;
  uint32_t mode = 0100644;
};

std::string Blake2bHex(std::string_view data) {
  unsigned char hash[32];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size(), nullptr, 0);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return hex;
}

// Writes a zip holding `entries` in the given order (duplicates allowed as
// far as libzip allows them), deflated, with the given Unix modes.
std::string CraftZip(const std::vector<RawEntry>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_source_keep(out);
  zip_t* za = zip_open_from_source(out, ZIP_TRUNCATE, &error);
  EXPECT_NE(za, nullptr);
  for (const RawEntry& e : entries) {
    zip_source_t* data = zip_source_buffer(za, e.content.data(), e.content.size(), 0);
    zip_int64_t index = zip_file_add(za, e.name.c_str(), data, 0);
    EXPECT_GE(index, 0) << e.name << ": " << zip_strerror(za);
    auto i = static_cast<zip_uint64_t>(index);
    zip_file_set_external_attributes(za, i, 0, ZIP_OPSYS_UNIX, e.mode << 16);
    zip_set_file_compression(za, i, ZIP_CM_DEFLATE, 9);
  }
  EXPECT_EQ(zip_close(za), 0);
  zip_stat_t st;
  zip_source_open(out);
  zip_source_stat(out, &st);
  std::string bytes(st.size, '\0');
  EXPECT_EQ(zip_source_read(out, bytes.data(), bytes.size()), static_cast<zip_int64_t>(st.size));
  zip_source_close(out);
  zip_source_free(out);
  return bytes;
}

// The entries of a zip, in zip order.
std::vector<RawEntry> ReadZip(const std::string& bytes) {
  std::vector<RawEntry> entries;
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, nullptr);
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, nullptr);
  EXPECT_NE(za, nullptr);
  for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); ++i) {
    RawEntry e;
    e.name = zip_get_name(za, i, 0);
    zip_stat_t st;
    zip_stat_index(za, i, 0, &st);
    e.content.resize(st.size);
    zip_file_t* f = zip_fopen_index(za, i, 0);
    EXPECT_EQ(zip_fread(f, e.content.data(), st.size), static_cast<zip_int64_t>(st.size));
    zip_fclose(f);
    zip_uint8_t opsys;
    zip_file_get_external_attributes(za, i, 0, &opsys, &e.mode);
    e.mode >>= 16;
    entries.push_back(std::move(e));
  }
  zip_discard(za);
  return entries;
}

RawEntry* FindEntry(std::vector<RawEntry>& entries, std::string_view name) {
  for (RawEntry& e : entries) {
    if (e.name == name) return &e;
  }
  ADD_FAILURE() << "no entry " << name;
  return nullptr;
}

// The index for `entries` (any order; the index is sorted), signed by `key`'s
// id but without its signature line.
std::string UnsignedIndexFor(std::vector<RawEntry> entries, const KeyPair& key) {
  std::sort(entries.begin(), entries.end(),
            [](const RawEntry& a, const RawEntry& b) { return a.name < b.name; });
  std::string text = "troupe-bundle-index 1\n";
  for (const RawEntry& e : entries) {
    text += "entry " + std::to_string(e.content.size()) + " " + Blake2bHex(e.content) + " " +
            e.name + "\n";
  }
  return text + "key " + KeyId(key.public_key) + "\n";
}

// Appends the signature line for any index text.
std::string SignIndex(const std::string& unsigned_text, const KeyPair& key) {
  std::array<uint8_t, 64> signature = Sign(key.secret_key, unsigned_text);
  char hex[129];
  sodium_bin2hex(hex, sizeof hex, signature.data(), signature.size());
  return unsigned_text + "signature " + hex + "\n";
}

// A zip of `entries` plus a TROUPE-INDEX listing them, signed with `key`.
std::string CraftBundle(std::vector<RawEntry> entries, const KeyPair& key) {
  std::string index = SignIndex(UnsignedIndexFor(entries, key), key);
  entries.push_back(RawEntry{std::string(kIndexEntry), index});
  return CraftZip(entries);
}

std::vector<RawEntry> ValidRawEntries(std::string manifest = kManifest) {
  return {RawEntry{"data/greeting.txt", kGreeting}, RawEntry{"lib/hello.so", kLibrary, 0100755},
          RawEntry{"manifest.json", std::move(manifest)}};
}

std::vector<EntryInput> ValidEntries(std::string library = kLibrary) {
  return {EntryInput{"manifest.json", kManifest},
          EntryInput{"lib/hello.so", std::move(library), true},
          EntryInput{"data/greeting.txt", kGreeting}};
}

std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// Rewrites the uncompressed size that the local header and the central
// directory record of entry `name` declare (a lying header).
std::string PatchDeclaredSize(std::string bytes, const std::string& name, uint32_t size) {
  auto put32 = [&](size_t at) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  };
  int patched = 0;
  for (size_t at = 0; at + 46 + name.size() <= bytes.size(); ++at) {
    if (bytes.compare(at, 4, "PK\x03\x04") == 0 && bytes.compare(at + 30, name.size(), name) == 0) {
      put32(at + 22);
      ++patched;
    } else if (bytes.compare(at, 4, "PK\x01\x02") == 0 &&
               bytes.compare(at + 46, name.size(), name) == 0) {
      put32(at + 24);
      ++patched;
    }
  }
  EXPECT_EQ(patched, 2);
  return bytes;
}

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(key_, GenerateKeyPair());
    ASSERT_OK(WriteKeyPair(key_, dir_.path(), "test"));
    trust_ = std::make_unique<TrustStore>(dir_.path() + "/trusted");
    ASSERT_OK_AND_ASSIGN(TrustOutcome trusted, trust_->Trust(dir_.path() + "/test.pub"));
    key_id_ = trusted.key_id;
  }

  absl::StatusOr<VerifiedBundle> Verify(std::string bytes, const Limits& limits = {}) {
    return VerifyBundle(std::move(bytes), kWhere, *trust_, limits);
  }

  // Expects `result` to be refused with `code` and exactly `message`.
  static void ExpectRefused(const absl::StatusOr<VerifiedBundle>& result, std::string_view message,
                            absl::StatusCode code = absl::StatusCode::kFailedPrecondition) {
    ASSERT_FALSE(result.ok()) << "expected: " << message;
    EXPECT_EQ(result.status().code(), code) << result.status();
    EXPECT_EQ(std::string(result.status().message()), message);
  }
  // Expects `result` to be refused with a message containing every part.
  static void ExpectRefusedWith(const absl::StatusOr<VerifiedBundle>& result,
                                std::vector<std::string> parts,
                                absl::StatusCode code = absl::StatusCode::kFailedPrecondition) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), code) << result.status();
    for (const std::string& part : parts) {
      EXPECT_CONTAINS(std::string(result.status().message()), part);
    }
  }

  TempDir dir_;
  KeyPair key_;
  std::string key_id_;
  std::unique_ptr<TrustStore> trust_;
};

// ---------------------------------------------------------------- building

TEST_F(BundleTest, BuiltBundleVerifies) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  ASSERT_OK_AND_ASSIGN(VerifiedBundle bundle, Verify(bytes));
  EXPECT_EQ(bundle.key_id, key_id_);
  EXPECT_EQ(bundle.source_hash.size(), 64u);
  EXPECT_EQ(bundle.manifest.group(), "hello");
  EXPECT_EQ(bundle.bytes, bytes);
  ASSERT_EQ(bundle.entries.size(), 3u);
  EXPECT_EQ(bundle.entries[0].name, "data/greeting.txt");
  EXPECT_EQ(bundle.entries[1].name, "lib/hello.so");
  EXPECT_EQ(bundle.entries[1].size, sizeof(kLibrary) - 1);
  EXPECT_EQ(bundle.entries[1].blake2b, Blake2bHex(kLibrary));
  EXPECT_EQ(bundle.entries[2].name, "manifest.json");
  ASSERT_OK_AND_ASSIGN(std::string library, bundle.ReadEntry("lib/hello.so"));
  EXPECT_EQ(library, kLibrary);
  EXPECT_EQ(bundle.ReadEntry("lib/other.so").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(bundle.ReadEntry("TROUPE-INDEX").status().code(), absl::StatusCode::kNotFound);
}

// Whatever single byte of a signed bundle is changed, verification refuses it
// with an error naming the bundle, and never crashes or accepts it.
TEST_F(BundleTest, EveryFlippedByteIsRefused) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  size_t refused = 0, bytes_checked = 0;
  for (size_t offset = 0; offset < bytes.size(); ++offset) {
    std::string damaged = bytes;
    damaged[offset] = static_cast<char>(damaged[offset] ^ 0x20);
    absl::StatusOr<VerifiedBundle> result = Verify(damaged);
    ++bytes_checked;
    if (result.ok()) {
      // Only bytes no reader interprets may change unnoticed: then the
      // content must still be exactly what was signed.
      EXPECT_EQ(result->source_hash, Verify(bytes)->source_hash) << "offset " << offset;
      continue;
    }
    ++refused;
    EXPECT_TRUE(result.status().code() == absl::StatusCode::kFailedPrecondition ||
                result.status().code() == absl::StatusCode::kInvalidArgument)
        << "offset " << offset << ": " << result.status();
    EXPECT_CONTAINS(std::string(result.status().message()), kWhere);
  }
  EXPECT_EQ(bytes_checked, bytes.size());
  EXPECT_GT(refused, bytes.size() / 2) << "most bytes of a bundle matter";
}

TEST_F(BundleTest, ReadEntryRechecksTheSignedHash) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  ASSERT_OK_AND_ASSIGN(VerifiedBundle bundle, Verify(bytes));
  std::vector<RawEntry> entries = ReadZip(bytes);
  FindEntry(entries, "lib/hello.so")->content = "not really an ELF file: HELLO";
  bundle.bytes = CraftZip(entries);
  absl::StatusOr<std::string> read = bundle.ReadEntry("lib/hello.so");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(read.status().message()),
            "bundle " + bundle.source_hash +
                ": entry 'lib/hello.so' was tampered with (does not match its signed hash)");
  ASSERT_OK(bundle.ReadEntry("data/greeting.txt"));
}

TEST_F(BundleTest, BuiltBundleHasTheDocumentedLayout) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  std::vector<RawEntry> entries = ReadZip(bytes);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].name, "data/greeting.txt");
  EXPECT_EQ(entries[0].mode, 0100644u);
  EXPECT_EQ(entries[1].name, "lib/hello.so");
  EXPECT_EQ(entries[1].mode, 0100755u);
  EXPECT_EQ(entries[2].name, "manifest.json");
  EXPECT_EQ(entries[3].name, "TROUPE-INDEX");
  std::string unsigned_index = UnsignedIndexFor(ValidRawEntries(), key_);
  EXPECT_EQ(entries[3].content.substr(0, unsigned_index.size()), unsigned_index);
  // The source hash covers the header and entry lines only.
  ASSERT_OK_AND_ASSIGN(VerifiedBundle bundle, Verify(bytes));
  EXPECT_EQ(bundle.source_hash, Blake2bHex(unsigned_index.substr(0, unsigned_index.find("key "))));
}

TEST_F(BundleTest, BuildingTwiceGivesTheSameBytesAndHash) {
  ASSERT_OK_AND_ASSIGN(std::string first, BuildBundle(ValidEntries(), key_));
  std::vector<EntryInput> reordered = ValidEntries();
  std::reverse(reordered.begin(), reordered.end());
  ASSERT_OK_AND_ASSIGN(std::string second, BuildBundle(reordered, key_));
  EXPECT_EQ(first, second);
  ASSERT_OK_AND_ASSIGN(VerifiedBundle a, Verify(first));
  ASSERT_OK_AND_ASSIGN(VerifiedBundle b, Verify(second));
  EXPECT_EQ(a.source_hash, b.source_hash);
}

TEST_F(BundleTest, BuildingDoesNotDependOnTheTimeZone) {
  ASSERT_OK_AND_ASSIGN(std::string first, BuildBundle(ValidEntries(), key_));
  const char* old_tz = getenv("TZ");
  std::string saved = old_tz ? old_tz : "";
  setenv("TZ", "Pacific/Kiritimati", 1);
  tzset();
  absl::StatusOr<std::string> second = BuildBundle(ValidEntries(), key_);
  if (old_tz) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  ASSERT_OK(second);
  EXPECT_EQ(first, *second);
}

TEST_F(BundleTest, AnotherKeyGivesTheSameSourceHashAndAnotherKeyId) {
  ASSERT_OK_AND_ASSIGN(KeyPair other, GenerateKeyPair());
  ASSERT_OK(WriteKeyPair(other, dir_.path(), "other"));
  ASSERT_OK(trust_->Trust(dir_.path() + "/other.pub"));
  ASSERT_OK_AND_ASSIGN(std::string first, BuildBundle(ValidEntries(), key_));
  ASSERT_OK_AND_ASSIGN(std::string second, BuildBundle(ValidEntries(), other));
  EXPECT_NE(first, second);
  ASSERT_OK_AND_ASSIGN(VerifiedBundle a, Verify(first));
  ASSERT_OK_AND_ASSIGN(VerifiedBundle b, Verify(second));
  EXPECT_EQ(a.source_hash, b.source_hash);
  EXPECT_NE(a.key_id, b.key_id);
  EXPECT_EQ(b.key_id, KeyId(other.public_key));
}

TEST_F(BundleTest, DifferentContentGivesADifferentSourceHash) {
  ASSERT_OK_AND_ASSIGN(std::string first, BuildBundle(ValidEntries(), key_));
  ASSERT_OK_AND_ASSIGN(std::string second, BuildBundle(ValidEntries("other library"), key_));
  ASSERT_OK_AND_ASSIGN(VerifiedBundle a, Verify(first));
  ASSERT_OK_AND_ASSIGN(VerifiedBundle b, Verify(second));
  EXPECT_NE(a.source_hash, b.source_hash);
}

TEST_F(BundleTest, BuildRefusesBadInputs) {
  std::vector<EntryInput> unsafe = ValidEntries();
  unsafe.push_back(EntryInput{"data/../x", "x"});
  EXPECT_EQ(std::string(BuildBundle(unsafe, key_).status().message()),
            "bundle entry 'data/../x' has an unsafe path ('..' component)");

  std::vector<EntryInput> duplicate = ValidEntries();
  duplicate.push_back(EntryInput{"data/greeting.txt", "again"});
  EXPECT_EQ(std::string(BuildBundle(duplicate, key_).status().message()),
            "duplicate bundle entry 'data/greeting.txt'");

  std::vector<EntryInput> no_manifest = ValidEntries();
  no_manifest.erase(no_manifest.begin());
  EXPECT_EQ(std::string(BuildBundle(no_manifest, key_).status().message()),
            "bundle has no manifest.json");

  std::vector<EntryInput> no_library = ValidEntries();
  no_library.erase(no_library.begin() + 1);
  absl::StatusOr<std::string> built = BuildBundle(no_library, key_);
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(built.status().message()),
            "manifest names library 'lib/hello.so', which is not in the bundle");

  std::vector<EntryInput> bad_manifest = ValidEntries();
  bad_manifest[0].content = "{";
  EXPECT_EQ(BuildBundle(bad_manifest, key_).status().code(), absl::StatusCode::kInvalidArgument);

  std::vector<EntryInput> reserved = ValidEntries();
  reserved.push_back(EntryInput{"TROUPE-INDEX", "x"});
  EXPECT_EQ(BuildBundle(reserved, key_).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BundleTest, BuildRefusesWhatTheVerifierWouldRefuse) {
  std::vector<EntryInput> zeros = ValidEntries();
  zeros.push_back(EntryInput{"data/zeros.bin", std::string(1 << 20, '\0')});
  absl::StatusOr<std::string> built = BuildBundle(zeros, key_);
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(std::string(built.status().message()),
                  "new bundle: entry 'data/zeros.bin' expands from ");
}

TEST_F(BundleTest, BundleFileNameIsGroupDashVersion) {
  EXPECT_EQ(BundleFileName("hello", "1.2"), "hello-1.2.troupe");
}

TEST_F(BundleTest, VerifyBundleFileReadsAndNamesTheFile) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  std::string path = dir_.path() + "/hello-1.0.troupe";
  std::ofstream(path, std::ios::binary) << bytes;
  ASSERT_OK_AND_ASSIGN(VerifiedBundle bundle, VerifyBundleFile(path, *trust_));
  EXPECT_EQ(bundle.bytes, bytes);

  absl::StatusOr<VerifiedBundle> missing = VerifyBundleFile(dir_.path() + "/none.troupe", *trust_);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(std::string(missing.status().message()), dir_.path() + "/none.troupe");

  ASSERT_OK(trust_->Untrust(key_id_));
  absl::StatusOr<VerifiedBundle> untrusted = VerifyBundleFile(path, *trust_);
  EXPECT_CONTAINS(std::string(untrusted.status().message()), path + ": signed by key ");
}

TEST_F(BundleTest, VerificationSaysWhetherTheSignerIsTrustedIsolated) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  ASSERT_OK_AND_ASSIGN(VerifiedBundle plain, Verify(bytes));
  EXPECT_FALSE(plain.signer_isolated);

  // The trust store is read at verification: a mark counts from then on.
  ASSERT_OK(trust_->Trust(dir_.path() + "/test.pub", IsolationMark::kIsolated));
  ASSERT_OK_AND_ASSIGN(VerifiedBundle marked, Verify(bytes));
  EXPECT_TRUE(marked.signer_isolated);
  EXPECT_EQ(marked.source_hash, plain.source_hash) << "the mark is no part of the bundle";

  // A mark that is not sound refuses the bundle rather than guess.
  const std::string mark = trust_->dir() + "/" + key_id_ + ".isolated";
  std::ofstream(mark, std::ios::binary) << "yes please";
  ExpectRefusedWith(Verify(bytes), {std::string(kWhere) + ": cannot check signer key " + key_id_,
                                    mark + ": not an isolation mark"});

  ASSERT_OK(trust_->Trust(dir_.path() + "/test.pub", IsolationMark::kInline));
  ASSERT_OK_AND_ASSIGN(VerifiedBundle lifted, Verify(bytes));
  EXPECT_FALSE(lifted.signer_isolated);
}

TEST_F(BundleTest, VerifyBundleFileRefusesAFifoAndAFileOverTheLimitBeforeReading) {
  // Read through ReadSmallFile: a FIFO without a writer is refused at once
  // (never waited on), a file over max_file_bytes by its size.
  const std::string fifo = dir_.path() + "/fifo.troupe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  absl::StatusOr<VerifiedBundle> from_fifo = VerifyBundleFile(fifo, *trust_);
  EXPECT_EQ(from_fifo.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(from_fifo.status().message(), fifo + " is not a regular file (a fifo)");

  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  const std::string path = dir_.path() + "/hello-1.0.troupe";
  std::ofstream(path, std::ios::binary) << bytes;
  Limits limits;
  limits.max_file_bytes = bytes.size() - 1;
  absl::StatusOr<VerifiedBundle> large = VerifyBundleFile(path, *trust_, limits);
  EXPECT_EQ(large.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(large.status().message(), path + " is " + std::to_string(bytes.size()) +
                                          " bytes, more than the limit of " +
                                          std::to_string(bytes.size() - 1));
  limits.max_file_bytes = bytes.size();
  EXPECT_OK(VerifyBundleFile(path, *trust_, limits));
}

TEST_F(BundleTest, CraftedValidBundleVerifies) {
  // The test helpers write what the verifier accepts, so the rejection tests
  // below each change one thing.
  ASSERT_OK_AND_ASSIGN(VerifiedBundle bundle, Verify(CraftBundle(ValidRawEntries(), key_)));
  EXPECT_EQ(bundle.key_id, key_id_);
}

// ---------------------------------------------------------------- signature

TEST_F(BundleTest, RejectsUnsignedBundle) {
  ExpectRefused(Verify(CraftZip(ValidRawEntries())),
                "test.troupe: not signed (no TROUPE-INDEX entry)");
}

TEST_F(BundleTest, RejectsBadSignature) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  std::vector<RawEntry> entries = ReadZip(bytes);
  RawEntry* index = FindEntry(entries, "TROUPE-INDEX");
  size_t digit = index->content.find("signature ") + 10 + 5;
  index->content[digit] = index->content[digit] == '0' ? '1' : '0';
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: bad signature (index altered, or not signed by key " + key_id_ + ")");
}

TEST_F(BundleTest, RejectsAlteredIndex) {
  // Change the listed hash of the library to that of other content, keeping
  // the old signature: the signature no longer covers the index.
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  std::vector<RawEntry> entries = ReadZip(bytes);
  RawEntry* index = FindEntry(entries, "TROUPE-INDEX");
  std::string other = "not really an ELF file: HELLO";
  index->content = ReplaceAll(index->content, Blake2bHex(kLibrary), Blake2bHex(other));
  FindEntry(entries, "lib/hello.so")->content = other;
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: bad signature (index altered, or not signed by key " + key_id_ + ")");
}

TEST_F(BundleTest, RejectsSignatureByAnotherKeyClaimingOurId) {
  ASSERT_OK_AND_ASSIGN(KeyPair other, GenerateKeyPair());
  std::string index = SignIndex(UnsignedIndexFor(ValidRawEntries(), key_), other);
  std::vector<RawEntry> entries = ValidRawEntries();
  entries.push_back(RawEntry{"TROUPE-INDEX", index});
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: bad signature (index altered, or not signed by key " + key_id_ + ")");
}

TEST_F(BundleTest, RejectsUnknownKey) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  ASSERT_OK(trust_->Untrust(key_id_));
  ExpectRefused(Verify(bytes), "test.troupe: signed by key " + key_id_ +
                                   ", which is not trusted (trusted keys are in " + trust_->dir() +
                                   ")");
}

TEST_F(BundleTest, RejectsUnsupportedIndexVersion) {
  std::string index = ReplaceAll(UnsignedIndexFor(ValidRawEntries(), key_), "troupe-bundle-index 1",
                                 "troupe-bundle-index 2");
  std::vector<RawEntry> entries = ValidRawEntries();
  entries.push_back(RawEntry{"TROUPE-INDEX", SignIndex(index, key_)});
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: index format version '2' is not supported (this reader knows "
                "'troupe-bundle-index 1')");
}

TEST_F(BundleTest, RejectsMalformedIndex) {
  std::string index =
      ReplaceAll(UnsignedIndexFor(ValidRawEntries(), key_), "entry 13 ", "entry 013 ");
  std::vector<RawEntry> entries = ValidRawEntries();
  entries.push_back(RawEntry{"TROUPE-INDEX", SignIndex(index, key_)});
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: index is malformed (line 2: size is not a decimal number)");
}

// ---------------------------------------------------------------- content

TEST_F(BundleTest, RejectsTamperedEntry) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  std::vector<RawEntry> entries = ReadZip(bytes);
  FindEntry(entries, "lib/hello.so")->content = "not really an ELF file: HELLO";  // same size
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: entry 'lib/hello.so' was tampered with (does not match its signed "
                "hash)");
}

TEST_F(BundleTest, RejectsTamperedEntryOfAnotherSize) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  std::vector<RawEntry> entries = ReadZip(bytes);
  FindEntry(entries, "data/greeting.txt")->content += "more";
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: entry 'data/greeting.txt' was tampered with (does not match its "
                "signed hash)");
}

TEST_F(BundleTest, RejectsTamperedManifest) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  std::vector<RawEntry> entries = ReadZip(bytes);
  RawEntry* manifest = FindEntry(entries, "manifest.json");
  manifest->content = ReplaceAll(manifest->content, "\"1.0\"", "\"9.0\"");
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: manifest was tampered with (does not match its signed hash)");
}

TEST_F(BundleTest, RejectsExtraEntry) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  std::vector<RawEntry> entries = ReadZip(bytes);
  entries.insert(entries.begin(), RawEntry{"deps/libevil.so", "evil"});
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: extra entry 'deps/libevil.so' (not in the signed index)");
}

TEST_F(BundleTest, RejectsMissingEntry) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  std::vector<RawEntry> entries = ReadZip(bytes);
  entries.erase(entries.begin());  // data/greeting.txt
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: missing entry 'data/greeting.txt' (listed in the signed index)");
}

TEST_F(BundleTest, RejectsEntrySwappedBetweenTwoValidBundles) {
  ASSERT_OK_AND_ASSIGN(std::string a, BuildBundle(ValidEntries("library A"), key_));
  ASSERT_OK_AND_ASSIGN(std::string b, BuildBundle(ValidEntries("library B"), key_));
  ASSERT_OK(Verify(a));
  ASSERT_OK(Verify(b));
  std::vector<RawEntry> entries = ReadZip(a);
  std::vector<RawEntry> from_b = ReadZip(b);
  FindEntry(entries, "lib/hello.so")->content = FindEntry(from_b, "lib/hello.so")->content;
  ExpectRefused(Verify(CraftZip(entries)),
                "test.troupe: entry 'lib/hello.so' was tampered with (does not match its signed "
                "hash)");
}

// ---------------------------------------------------------------- not a zip

TEST_F(BundleTest, RejectsTruncatedFile) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  for (size_t size : {bytes.size() - 1, bytes.size() - 30, bytes.size() / 2, size_t{10}}) {
    ExpectRefusedWith(Verify(bytes.substr(0, size)),
                      {"test.troupe: not a bundle (not a zip file: "},
                      absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(BundleTest, RejectsNonZipFile) {
  ExpectRefused(Verify("#!/bin/sh\necho hello\n"),
                "test.troupe: not a bundle (not a zip file: not a zip archive)",
                absl::StatusCode::kInvalidArgument);
  ExpectRefused(Verify(""), "test.troupe: not a bundle (empty file)",
                absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- paths and types

TEST_F(BundleTest, RejectsAbsolutePath) {
  std::vector<RawEntry> entries = ValidRawEntries();
  entries.push_back(RawEntry{"/etc/cron.d/evil", "x"});
  ExpectRefused(Verify(CraftBundle(entries, key_)),
                "test.troupe: entry '/etc/cron.d/evil' has an unsafe path (absolute path)");
}

TEST_F(BundleTest, RejectsDotDotPath) {
  std::vector<RawEntry> entries = ValidRawEntries();
  entries.push_back(RawEntry{"data/../../evil", "x"});
  ExpectRefused(Verify(CraftBundle(entries, key_)),
                "test.troupe: entry 'data/../../evil' has an unsafe path ('..' component)");
}

TEST_F(BundleTest, RejectsOtherUnsafePaths) {
  const std::pair<std::string, std::string> cases[] = {
      {"data\\evil", "entry 'data\\x5cevil' has an unsafe path (backslash)"},
      {"data/./x", "entry 'data/./x' has an unsafe path ('.' component)"},
      {"data//x", "entry 'data//x' has an unsafe path (empty path component)"},
      {"data/", "entry 'data/' is a directory (only regular files are allowed)"},
      {"data/\x1b[2Jx",
       "entry 'data/\\x1b[2Jx' has an unsafe path (non-printable or non-ASCII "
       "character)"},
      {"evil.sh",
       "entry 'evil.sh' has an unsafe path (outside the bundle layout: manifest.json, "
       "lib/, deps/, data/)"},
      {"data/" + std::string(300, 'a'), "has an unsafe path (longer than 255 bytes)"},
  };
  for (const auto& [name, message] : cases) {
    std::vector<RawEntry> entries = ValidRawEntries();
    entries.push_back(RawEntry{name, "x"});
    ExpectRefusedWith(Verify(CraftBundle(entries, key_)), {"test.troupe: ", message});
  }
}

TEST_F(BundleTest, RejectsSymlinkEntry) {
  std::vector<RawEntry> entries = ValidRawEntries();
  entries.push_back(RawEntry{"lib/link.so", "/etc/passwd", 0120777});
  ExpectRefused(Verify(CraftBundle(entries, key_)),
                "test.troupe: entry 'lib/link.so' is a symlink (only regular files are allowed)");
}

TEST_F(BundleTest, RejectsDeviceEntry) {
  std::vector<RawEntry> entries = ValidRawEntries();
  entries.push_back(RawEntry{"data/null", "", 0020666});
  ExpectRefused(
      Verify(CraftBundle(entries, key_)),
      "test.troupe: entry 'data/null' is a character device (only regular files are allowed)");
  entries.back().mode = 0060660;
  ExpectRefused(
      Verify(CraftBundle(entries, key_)),
      "test.troupe: entry 'data/null' is a block device (only regular files are allowed)");
}

TEST_F(BundleTest, RejectsSetuidEntry) {
  std::vector<RawEntry> entries = ValidRawEntries();
  entries[1].mode = 0104755;
  ExpectRefused(Verify(CraftBundle(entries, key_)),
                "test.troupe: entry 'lib/hello.so' has setuid, setgid or sticky bits (only plain "
                "modes are allowed)");
}

TEST_F(BundleTest, RejectsDuplicateEntryNames) {
  // libzip refuses to add a name twice (zip_file_add fails with "file already
  // exists"), so write two entries with names of the same length and patch
  // every occurrence of the second name (its local header and its central
  // directory record; the deflated contents do not contain it) into the
  // first. libzip 1.7.3 opening with ZIP_CHECKCONS refuses such a zip
  // (ZIP_ER_EXISTS); the verifier reports the duplicated name.
  std::vector<RawEntry> entries = ValidRawEntries();
  entries.push_back(RawEntry{"data/aaaa.txt", "first"});
  entries.push_back(RawEntry{"data/bbbb.txt", "second"});
  std::string bytes = CraftBundle(entries, key_);
  std::string index_name = "data/bbbb.txt";
  // The signed index also names data/bbbb.txt; the duplicate is caught
  // before the index is read, whatever it says.
  bytes = ReplaceAll(bytes, index_name, "data/aaaa.txt");
  ExpectRefused(Verify(bytes), "test.troupe: duplicate entry 'data/aaaa.txt'");
}

// ---------------------------------------------------------------- limits

TEST_F(BundleTest, RejectsEntryOverTheSizeLimit) {
  ASSERT_OK_AND_ASSIGN(std::string bytes,
                       BuildBundle(ValidEntries(std::string(200, 'x') + "y"), key_));
  Limits limits;
  limits.max_entry_bytes = 100;
  ExpectRefused(Verify(bytes, limits),
                "test.troupe: entry 'lib/hello.so' is 201 bytes, over the limit of 100 bytes");
}

TEST_F(BundleTest, RejectsManifestOverItsLimit) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  Limits limits;
  limits.max_manifest_bytes = 50;
  ExpectRefusedWith(Verify(bytes, limits),
                    {"test.troupe: entry 'manifest.json' is ", "over the limit of 50 bytes"});
}

TEST_F(BundleTest, RejectsTotalOverTheLimit) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  Limits limits;
  limits.max_total_bytes = 300;
  ExpectRefused(Verify(bytes, limits),
                "test.troupe: entries add up to more than the limit of 300 bytes (uncompressed)");
}

TEST_F(BundleTest, RejectsTooManyEntries) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  Limits limits;
  limits.max_entries = 3;
  ExpectRefused(Verify(bytes, limits), "test.troupe: has 4 entries, over the limit of 3");
}

// Little-endian bytes of `v`, `width` long.
std::string Le(uint64_t v, int width) {
  std::string out;
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}

// An end-of-central-directory record declaring `entries` and `directory` bytes.
std::string EndRecord(uint64_t entries, uint64_t directory, std::string_view comment = "") {
  return "PK\x05\x06" + Le(0, 2) + Le(0, 2) + Le(entries, 2) + Le(entries, 2) + Le(directory, 4) +
         Le(0, 4) + Le(comment.size(), 2) + std::string(comment);
}

// libzip would build a record per directory entry before any count check:
// declared sizes are refused first, whatever end record libzip would pick.
TEST_F(BundleTest, RejectsAHugeDeclaredDirectoryBeforeParsingIt) {
  ExpectRefused(Verify(std::string(64, 'x') + EndRecord(100, 100u << 20)),
                "test.troupe: declares a 104857600-byte directory, over the limit of 2281472 "
                "bytes for 4096 entries");
  ExpectRefused(Verify(std::string(64, 'x') + EndRecord(60000, 0, "an archive comment")),
                "test.troupe: has 60000 entries, over the limit of 4096");
  // zip64: the 16-bit count says "see the zip64 record", which declares 10^9.
  std::string zip64 = "PK\x06\x06" + Le(44, 8) + Le(45, 2) + Le(45, 2) + Le(0, 4) + Le(0, 4) +
                      Le(1000000000, 8) + Le(1000000000, 8) + Le(0, 8) + Le(0, 8);
  std::string locator = "PK\x06\x07" + Le(0, 4) + Le(0, 8) + Le(1, 4);
  ExpectRefused(Verify(zip64 + locator + EndRecord(0xFFFF, 0xFFFFFFFF)),
                "test.troupe: has 1000000000 entries, over the limit of 4096");
}

// lib/ and deps/ hold plain files the loader writes out by name.
TEST_F(BundleTest, LibAndDepsEntriesArePlainFiles) {
  for (const char* name : {"lib/sub/x.so", "lib/notes.txt", "deps/sub/libz.so.1"}) {
    std::vector<EntryInput> entries = ValidEntries();
    entries.push_back({name, "x", false});
    absl::StatusOr<std::string> built = BuildBundle(entries, key_);
    ASSERT_FALSE(built.ok()) << name;
    EXPECT_CONTAINS(std::string(built.status().message()), name);
  }
}

TEST_F(BundleTest, RejectsFileOverTheLimit) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(ValidEntries(), key_));
  Limits limits;
  limits.max_file_bytes = 100;
  ExpectRefused(Verify(bytes, limits), "test.troupe: bundle is " + std::to_string(bytes.size()) +
                                           " bytes, over the limit of 100 bytes");
}

TEST_F(BundleTest, RejectsCompressionRatioPastTheLimit) {
  std::vector<EntryInput> entries = ValidEntries();
  entries.push_back(EntryInput{"data/zeros.bin", std::string(1 << 20, '\0')});
  Limits loose;
  loose.max_compression_ratio = 100000;
  ASSERT_OK_AND_ASSIGN(std::string bytes, BuildBundle(entries, key_, loose));
  ASSERT_OK(Verify(bytes, loose));
  ExpectRefusedWith(Verify(bytes),  // the default limit, 200
                    {"test.troupe: entry 'data/zeros.bin' expands from ",
                     " to 1048576 bytes, a compression ratio over the limit of 200"});
  Limits strict;
  strict.max_compression_ratio = 10;
  ExpectRefusedWith(Verify(bytes, strict), {"a compression ratio over the limit of 10"});
}

TEST_F(BundleTest, LyingSizeHeaderCannotMakeTheReaderInflateMore) {
  // data/big.bin holds 100000 bytes but its headers (and the signed index)
  // claim 1000: the reader stops at the declared size.
  std::string big(100000, 'a');
  std::vector<RawEntry> listed = ValidRawEntries();
  listed.push_back(RawEntry{"data/big.bin", big.substr(0, 1000)});
  std::vector<RawEntry> actual = ValidRawEntries();
  actual.push_back(RawEntry{"data/big.bin", big});
  actual.push_back(RawEntry{"TROUPE-INDEX", SignIndex(UnsignedIndexFor(listed, key_), key_)});
  Limits limits;
  limits.max_compression_ratio = 100000;
  std::string bytes = PatchDeclaredSize(CraftZip(actual), "data/big.bin", 1000);
  ExpectRefused(Verify(bytes, limits),
                "test.troupe: entry 'data/big.bin' holds more data than its header declares (1000 "
                "bytes)");
}

// ---------------------------------------------------------------- manifest

TEST_F(BundleTest, RejectsManifestThatDoesNotParse) {
  ExpectRefusedWith(Verify(CraftBundle(ValidRawEntries("{\"group\": "), key_)),
                    {"test.troupe: manifest.json: invalid JSON: "});
}

TEST_F(BundleTest, RejectsManifestWithUnknownField) {
  std::string manifest = ReplaceAll(kManifest, "\"group\"", "\"colour\": \"red\", \"group\"");
  ExpectRefusedWith(Verify(CraftBundle(ValidRawEntries(manifest), key_)),
                    {"test.troupe: manifest.json: invalid JSON: ", "colour"});
}

TEST_F(BundleTest, RejectsManifestWithWrongType) {
  std::string manifest = ReplaceAll(kManifest, "\"group\"", "\"keep_limit\": \"many\", \"group\"");
  ExpectRefusedWith(Verify(CraftBundle(ValidRawEntries(manifest), key_)),
                    {"test.troupe: manifest.json: invalid JSON: ", "keep_limit"});
}

TEST_F(BundleTest, RejectsManifestNamingAMissingLibrary) {
  std::string manifest =
      ReplaceAll(kManifest, "[\"lib/hello.so\"]", "[\"lib/hello.so\", \"lib/missing.so\"]");
  ExpectRefused(Verify(CraftBundle(ValidRawEntries(manifest), key_)),
                "test.troupe: manifest names library 'lib/missing.so', which is not in the "
                "bundle");
}

TEST_F(BundleTest, RejectsUnsupportedAbiMajor) {
  std::string manifest = ReplaceAll(kManifest, "\"major\": 1", "\"major\": 99");
  ExpectRefusedWith(Verify(CraftBundle(ValidRawEntries(manifest), key_)),
                    {"test.troupe: manifest.json: bundle 'hello' needs ABI major 99"});
}

TEST_F(BundleTest, RejectsBundleWithoutManifest) {
  std::vector<RawEntry> entries = ValidRawEntries();
  entries.pop_back();
  ExpectRefused(Verify(CraftBundle(entries, key_)), "test.troupe: no manifest.json entry");
}

}  // namespace
}  // namespace troupe::bundle
