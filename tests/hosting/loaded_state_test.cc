// Tests of the loaded-state file: its line format, what a damaged file
// yields, and the atomic replace.
#include "daemon/hosting/loaded_state.h"

#include <sys/stat.h>

#include <cerrno>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::hosting {
namespace {

const std::string kHashA(64, 'a');
const std::string kHashB = std::string(63, '0') + "b";

TEST(LoadedStateTest, FormatAndParseRoundTripInLoadOrder) {
  std::vector<StateEntry> entries = {{kHashB, false, "hello 1.0"}, {kHashA, true, ""}};
  const std::string text = FormatLoadedState(entries);
  EXPECT_NE(text.find(kHashB + " inactive # hello 1.0\n"), std::string::npos) << text;
  EXPECT_NE(text.find(kHashA + " active\n"), std::string::npos) << text;
  ParsedState parsed = ParseLoadedState(text, "state");
  EXPECT_TRUE(parsed.problems.empty());
  ASSERT_EQ(parsed.entries.size(), 2u);
  EXPECT_EQ(parsed.entries[0].hash, kHashB);
  EXPECT_FALSE(parsed.entries[0].active);
  EXPECT_EQ(parsed.entries[0].name, "hello 1.0");
  EXPECT_EQ(parsed.entries[1].hash, kHashA);
  EXPECT_TRUE(parsed.entries[1].active);
  EXPECT_EQ(parsed.entries[1].name, "");
}

TEST(LoadedStateTest, TheNameCommentIsOptionalAndMayBeSpacedFreely) {
  ParsedState parsed =
      ParseLoadedState(kHashA + "\tactive#hello 2.0 \n" + kHashB + " inactive   #   \n", "state");
  EXPECT_TRUE(parsed.problems.empty());
  ASSERT_EQ(parsed.entries.size(), 2u);
  EXPECT_TRUE(parsed.entries[0].active);
  EXPECT_EQ(parsed.entries[0].name, "hello 2.0");
  EXPECT_FALSE(parsed.entries[1].active);
  EXPECT_EQ(parsed.entries[1].name, "");
}

TEST(LoadedStateTest, BadLinesAreSkippedAndReportedWithTheirNumber) {
  std::string text = "# comment\n\n" + kHashA + " active\nnot-a-hash active\n" + kHashB +
                     " sleeping\n" + kHashA + " inactive\n";
  ParsedState parsed = ParseLoadedState(text, "loaded/state");
  ASSERT_EQ(parsed.entries.size(), 1u);
  EXPECT_EQ(parsed.entries[0].hash, kHashA);
  ASSERT_EQ(parsed.problems.size(), 3u);
  EXPECT_CONTAINS(parsed.problems[0], "loaded/state:4: 'not-a-hash' is not a source hash");
  EXPECT_CONTAINS(parsed.problems[1], "loaded/state:5: bundle " + kHashB + ": state 'sleeping'");
  EXPECT_CONTAINS(parsed.problems[2], "loaded/state:6: bundle " + kHashA + " is listed twice");
}

TEST(LoadedStateTest, WriteFileAtomicallyReplacesTheFileAndLeavesNoTemporary) {
  troupe::testing::TempDir dir("loaded_state");
  const std::string path = dir.path() + "/state";
  ASSERT_OK(WriteFileAtomically(path, "one", 0600));
  ASSERT_OK(WriteFileAtomically(path, "two", 0600));
  ASSERT_OK_AND_ASSIGN(std::string content, ReadWholeFile(path));
  EXPECT_EQ(content, "two");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadWholeFile(dir.path() + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(LoadedStateTest, AWrittenTemporaryReplacesTheFileOnlyWhenRenamed) {
  troupe::testing::TempDir dir("loaded_state");
  const std::string path = dir.path() + "/state";
  ASSERT_OK(WriteFileAtomically(path, "old", 0600));
  ASSERT_OK(WriteTempFile(path, "new", 0600));
  EXPECT_EQ(*ReadWholeFile(path), "old") << "a crash here leaves the old file";
  EXPECT_EQ(*ReadWholeFile(path + ".tmp"), "new");
  ASSERT_OK(ReplaceWithTemp(path));
  EXPECT_EQ(*ReadWholeFile(path), "new");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(LoadedStateTest, ErrnoErrorNamesThePathAndTheOsErrorWithTheClosestCode) {
  absl::Status full = ErrnoError(ENOSPC, "/d/loaded/state.tmp", "cannot write");
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(full.message(), "/d/loaded/state.tmp: cannot write: No space left on device");
  EXPECT_EQ(ErrnoError(ENOENT, "x", "cannot open").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoError(EACCES, "x", "cannot open").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoError(EIO, "x", "cannot write").code(), absl::StatusCode::kInternal);
}

TEST(LoadedStateTest, AppendLineAddsALineAndCreatesTheFile) {
  troupe::testing::TempDir dir("loaded_state");
  const std::string path = dir.path() + "/running";
  ASSERT_OK(AppendLine(path, "one"));
  ASSERT_OK(AppendLine(path, "two"));
  EXPECT_EQ(*ReadWholeFile(path), "one\ntwo\n");
}

TEST(LoadedStateTest, MakePrivateDirectoryCreatesOrTightensToMode0700) {
  troupe::testing::TempDir dir("loaded_state");
  const std::string path = dir.path() + "/loaded";
  ASSERT_OK(MakePrivateDirectory(path));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::chmod(path.c_str(), 0755), 0);
  ASSERT_OK(MakePrivateDirectory(path));
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

}  // namespace
}  // namespace troupe::hosting
