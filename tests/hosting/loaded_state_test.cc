// Tests of the loaded-state file: its line format, what a damaged file
// yields, the atomic replace, and the bounded read (a FIFO or an oversized
// file in loaded/ is refused at once, also by BundleHost::Restore).
#include "daemon/hosting/loaded_state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/common/clock.h"
#include "daemon/common/logging.h"
#include "daemon/common/mutex.h"
#include "daemon/common/strings.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/runtime/actor_system.h"
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

TEST(LoadedStateTest, ReadWholeFileRefusesAFifoAtOnce) {
  troupe::testing::TempDir dir("loaded_state");
  const std::string path = dir.path() + "/state";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  // No writer ever opens the FIFO: a blocking open or read would hang here.
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(text.status().message(), path + " is not a regular file (a fifo)");
}

TEST(LoadedStateTest, ReadWholeFileRefusesAFileLargerThanTheLimit) {
  troupe::testing::TempDir dir("loaded_state");
  const std::string path = dir.path() + "/state";
  ASSERT_OK(WriteFileAtomically(path, "", 0600));
  // Sparse: refused from its size, before any byte is read.
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(kMaxLoadedFileBytes) + 1), 0);
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(text.status().message(), path + " is 16777217 bytes, more than the limit");
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(kMaxLoadedFileBytes)), 0);
  ASSERT_OK_AND_ASSIGN(std::string at_limit, ReadWholeFile(path));
  EXPECT_EQ(at_limit.size(), kMaxLoadedFileBytes);
}

// Log lines captured from any thread.
class LogLines {
 public:
  LogLines() {
    SetLogSinkForTest([this](LogLevel, std::string_view text) {
      troupe::MutexLock lock(&mu_);
      lines_.emplace_back(text);
    });
  }
  ~LogLines() { SetLogSinkForTest(nullptr); }
  // The lines containing `part`.
  std::vector<std::string> With(std::string_view part) const {
    troupe::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const std::string& line : lines_) {
      if (line.find(part) != std::string::npos) out.push_back(line);
    }
    return out;
  }

 private:
  mutable troupe::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// A BundleHost on `troupe_dir` and the actor system it needs.
struct TestHost {
  explicit TestHost(const std::string& troupe_dir)
      : system(runtime::SystemOptions{.worker_threads = 1, .clock = &clock}),
        host(&system, Options(troupe_dir, &clock)) {}
  static HostOptions Options(const std::string& troupe_dir, Clock* clock) {
    HostOptions options;
    options.troupe_dir = troupe_dir;
    options.clock = clock;
    return options;
  }
  ~TestHost() {
    host.Shutdown();
    system.Shutdown();
  }
  ManualClock clock;
  runtime::ActorSystem system;
  BundleHost host;
};

TEST(LoadedStateTest, RestoreRefusesAFifoAtLoadedStateAtOnce) {
  LogLines log;
  troupe::testing::TempDir dir("loaded_state");
  ASSERT_OK(MakePrivateDirectory(dir.path() + "/loaded"));
  const std::string state = dir.path() + "/loaded/state";
  ASSERT_EQ(::mkfifo(state.c_str(), 0600), 0) << std::strerror(errno);
  TestHost test(dir.path());
  std::vector<std::string> problems = test.host.Restore();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], state + " is not a regular file (a fifo)");
  EXPECT_EQ(log.With("not a regular file (a fifo)").size(), 1u);
  EXPECT_TRUE(test.host.List().empty());
}

TEST(LoadedStateTest, RestoreWarnsOfAFifoAtLoadedRunningOrCrashesAndGoesOn) {
  LogLines log;
  troupe::testing::TempDir dir("loaded_state");
  ASSERT_OK(MakePrivateDirectory(dir.path() + "/loaded"));
  for (const char* name : {"running", "crashes"}) {
    const std::string path = troupe::StrCat(dir.path(), "/loaded/", name);
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  }
  TestHost test(dir.path());
  EXPECT_TRUE(test.host.Restore().empty()) << "no loaded/state: nothing to restore";
  EXPECT_EQ(log.With(dir.path() + "/loaded/running is not a regular file (a fifo)").size(), 1u);
  EXPECT_EQ(log.With(dir.path() + "/loaded/crashes is not a regular file (a fifo)").size(), 1u);
  // The running mark replaced the FIFO.
  ASSERT_OK_AND_ASSIGN(std::string running, ReadWholeFile(dir.path() + "/loaded/running"));
  EXPECT_FALSE(running.empty());
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
