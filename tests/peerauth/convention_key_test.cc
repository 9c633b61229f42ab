// convention_key_test.cc - creating, loading and refusing convention key files.
#include "daemon/peerauth/convention_key.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/common/command_result.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::peerauth {
namespace {

using troupe::testing::ReadFileForTest;
using troupe::testing::TempDir;
using troupe::testing::WriteFileForTest;

constexpr char kHexKey[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

unsigned ModeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

TEST(ConventionKeyTest, CreateWritesAPrivateHexFileThatLoadReads) {
  TempDir dir;
  const std::string path = dir.path() + "/keys/convention.key";  // keys/ does not exist yet
  ASSERT_OK_AND_ASSIGN(ConventionKey created, ConventionKey::Create(path, /*force=*/false));
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(dir.path() + "/keys"), 0700u);
  const std::string text = ReadFileForTest(path);
  ASSERT_EQ(text.size(), 65u);
  EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), 64u);
  EXPECT_EQ(text.back(), '\n');
  ASSERT_OK_AND_ASSIGN(ConventionKey loaded, ConventionKey::Load(path));
  EXPECT_EQ(loaded.bytes(), created.bytes());
  EXPECT_EQ(loaded.Fingerprint(), created.Fingerprint());
  EXPECT_EQ(loaded.Fingerprint().size(), 16u);
  EXPECT_EQ(text.find(loaded.Fingerprint()), std::string::npos);
}

TEST(ConventionKeyTest, CreateRefusesToOverwriteWithoutForce) {
  TempDir dir;
  const std::string path = dir.path() + "/convention.key";
  ASSERT_OK(ConventionKey::Create(path, false));
  const std::string before = ReadFileForTest(path);
  absl::StatusOr<ConventionKey> again = ConventionKey::Create(path, false);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_CONTAINS(again.status().message(), path);
  EXPECT_EQ(ReadFileForTest(path), before);

  ASSERT_OK_AND_ASSIGN(ConventionKey replaced, ConventionKey::Create(path, /*force=*/true));
  EXPECT_NE(ReadFileForTest(path), before);
  EXPECT_EQ(ModeOf(path), 0600u);
  ASSERT_OK_AND_ASSIGN(ConventionKey loaded, ConventionKey::Load(path));
  EXPECT_EQ(loaded.bytes(), replaced.bytes());
  // No temporary files left behind.
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(ConventionKeyTest, LoadRefusesAFileOthersCanRead) {
  TempDir dir;
  const std::string path = dir.path() + "/convention.key";
  WriteFileForTest(path, std::string(kHexKey) + "\n");
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    absl::StatusOr<ConventionKey> key = ConventionKey::Load(path);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << mode;
    EXPECT_CONTAINS(key.status().message(), "accessible by group or others");
    EXPECT_CONTAINS(key.status().message(), "chmod 600 " + path);
    EXPECT_EQ(std::string(key.status().message()).find(kHexKey), std::string::npos);
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  ASSERT_OK_AND_ASSIGN(ConventionKey key, ConventionKey::Load(path));
  EXPECT_EQ(key.bytes()[1], 0x11);
  EXPECT_EQ(key.bytes()[31], 0xff);
}

TEST(ConventionKeyTest, LoadSaysHowToCreateAMissingKey) {
  TempDir dir;
  absl::StatusOr<ConventionKey> key = ConventionKey::Load(dir.path() + "/convention.key");
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(key.status().message(), dir.path() + "/convention.key");
  EXPECT_CONTAINS(key.status().message(), "director keygen --convention");
}

TEST(ConventionKeyTest, LoadRefusesMalformedContent) {
  TempDir dir;
  const std::string path = dir.path() + "/convention.key";
  for (const std::string& text :
       {std::string(), std::string(kHexKey).substr(2), std::string(kHexKey) + "00",
        std::string(kHexKey).replace(10, 1, "g"), std::string(kHexKey) + " extra",
        std::string(300, 'a')}) {
    WriteFileForTest(path, text);
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    absl::StatusOr<ConventionKey> key = ConventionKey::Load(path);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_CONTAINS(key.status().message(), "64 hex digits");
  }
  ASSERT_EQ(::mkdir((dir.path() + "/dir.key").c_str(), 0700), 0);
  EXPECT_EQ(ConventionKey::Load(dir.path() + "/dir.key").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ConventionKeyTest, LoadRefusesAFifoAtOnce) {
  TempDir dir;
  const std::string path = dir.path() + "/convention.key";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  // Nothing writes the FIFO: a reader that waits for a writer never returns.
  absl::StatusOr<ConventionKey> key = ConventionKey::Load(path);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(key.status().message(), "convention key " + path + " is not a regular file (a fifo)");
}

TEST(ConventionKeyTest, LoadRefusesAKeyOfAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  TempDir dir;
  const std::string path = dir.path() + "/convention.key";
  WriteFileForTest(path, std::string(kHexKey) + "\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  absl::StatusOr<ConventionKey> key = ConventionKey::Load(path);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(key.status().message(),
            "convention key " + path +
                " is owned by uid 65534, not by the user reading it (uid 0); it is a secret: "
                "chown 0 " +
                path);
}

TEST(ConventionKeyTest, GeneratedKeysDiffer) {
  EXPECT_NE(ConventionKey::Generate().bytes(), ConventionKey::Generate().bytes());
  EXPECT_NE(ConventionKey::Generate().Fingerprint(), ConventionKey::Generate().Fingerprint());
}

}  // namespace
}  // namespace troupe::peerauth
