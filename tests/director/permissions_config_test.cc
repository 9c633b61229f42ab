// permissions_config_test.cc - daemon/config/permissions.h and the problems
// Config::LoadFrom records for a TROUPE_DIR, keys/, config/, capabilities/ or
// socket directory that another user owns or that group or others may write.
#include "daemon/config/permissions.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "daemon/common/strings.h"
#include "daemon/config/config.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::config {
namespace {

namespace fs = std::filesystem;
using ::troupe::testing::TempDir;

void MakeDir(const std::string& path, mode_t mode) {
  fs::create_directories(path);
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(PermissionsConfigTest, PrivateDirectoriesPass) {
  TempDir dir;  // mkdtemp: 0700
  MakeDir(dir.path() + "/keys", 0700);
  MakeDir(dir.path() + "/config", 0755);  // create_directories under umask 022
  MakeDir(dir.path() + "/run", 0700);
  EXPECT_OK(Config::LoadFrom(dir.path(), "--dir").Check());
}

TEST(PermissionsConfigTest, ATroupeDirOthersCanWriteIsRefusedWithTheFix) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
  const Config config = Config::LoadFrom(dir.path(), "--dir");
  ASSERT_EQ(config.problems().size(), 1u) << config.Check();
  EXPECT_EQ(
      config.problems()[0],
      "TROUPE_DIR " + dir.path() + " is writable by others (mode 0777): chmod go-w " + dir.path());
  EXPECT_EQ(config.Check().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PermissionsConfigTest, KeysConfigAndCapabilitiesDirectoriesAreChecked) {
  TempDir dir;
  MakeDir(dir.path() + "/keys", 0775);
  MakeDir(dir.path() + "/config", 0777);
  MakeDir(dir.path() + "/capabilities", 0770);
  const Config config = Config::LoadFrom(dir.path(), "--dir");
  ASSERT_EQ(config.problems().size(), 3u) << config.Check();
  EXPECT_EQ(config.problems()[0], "keys directory " + dir.path() +
                                      "/keys is writable by its group (mode 0775): chmod go-w " +
                                      dir.path() + "/keys");
  EXPECT_EQ(config.problems()[1], "config directory " + dir.path() +
                                      "/config is writable by others (mode 0777): chmod go-w " +
                                      dir.path() + "/config");
  EXPECT_EQ(config.problems()[2], "capabilities directory " + dir.path() +
                                      "/capabilities is writable by its group (mode 0770): "
                                      "chmod go-w " +
                                      dir.path() + "/capabilities");
}

TEST(PermissionsConfigTest, TheSocketDirectoryIsCheckedWhereverTheSettingPutsIt) {
  TempDir dir;
  MakeDir(dir.path() + "/run", 0777);  // the default socket directory
  const Config by_default = Config::LoadFrom(dir.path(), "--dir");
  ASSERT_EQ(by_default.problems().size(), 1u) << by_default.Check();
  EXPECT_EQ(by_default.problems()[0], "socket directory " + dir.path() +
                                          "/run is writable by others (mode 0777): chmod go-w " +
                                          dir.path() + "/run");
  // A sticky directory anyone can write is no better: another user can bind
  // the socket's name first.
  TempDir elsewhere;
  MakeDir(elsewhere.path() + "/shared", 01777);
  MakeDir(dir.path() + "/config", 0700);
  std::ofstream(dir.path() + "/config/socket") << elsewhere.path() << "/shared/troupd.sock\n";
  ASSERT_EQ(::chmod((dir.path() + "/run").c_str(), 0700), 0);
  const Config by_setting = Config::LoadFrom(dir.path(), "--dir");
  ASSERT_EQ(by_setting.problems().size(), 1u) << by_setting.Check();
  EXPECT_EQ(by_setting.problems()[0], "socket directory " + elsewhere.path() +
                                          "/shared is writable by others (mode 1777): chmod go-w " +
                                          elsewhere.path() + "/shared");
}

TEST(PermissionsConfigTest, ATroupeDirOfAnotherUserIsRefused) {
  TempDir dir;
  const uid_t me = ::geteuid();
  if (me == 0) {
    // Root owns every file it creates, and a root-owned directory passes, so
    // give the directory away instead of naming another expected owner.
    ASSERT_EQ(::chown(dir.path().c_str(), 65534, static_cast<gid_t>(-1)), 0);
    const Config config = Config::LoadFrom(dir.path(), "--dir");
    ASSERT_EQ(config.problems().size(), 1u) << config.Check();
    EXPECT_EQ(config.problems()[0], "TROUPE_DIR " + dir.path() +
                                        " is owned by uid 65534, not by the daemon's user "
                                        "(uid 0): chown 0 " +
                                        dir.path());
  } else {
    const Config config = Config::LoadFrom(dir.path(), "--dir", me + 1);
    ASSERT_EQ(config.problems().size(), 1u) << config.Check();
    EXPECT_EQ(config.problems()[0], troupe::StrCat("TROUPE_DIR ", dir.path(), " is owned by uid ",
                                                   me, ", not by the daemon's user (uid ", me + 1,
                                                   "): chown ", me + 1, " ", dir.path()));
  }
}

TEST(PermissionsConfigTest, ADirectoryRootOwnsPasses) {
  EXPECT_OK(CheckPrivateDirectory("TROUPE_DIR", "/", 12345));
}

TEST(PermissionsConfigTest, ASymlinkedTroupeDirIsCheckedAtItsTarget) {
  TempDir dir;
  MakeDir(dir.path() + "/target", 0777);
  const std::string link = dir.path() + "/link";
  ASSERT_EQ(::symlink((dir.path() + "/target").c_str(), link.c_str()), 0);
  const Config config = Config::LoadFrom(link, "--dir");
  ASSERT_EQ(config.problems().size(), 1u) << config.Check();
  EXPECT_EQ(config.problems()[0],
            "TROUPE_DIR " + link + " is writable by others (mode 0777): chmod go-w " + link);
}

TEST(PermissionsConfigTest, EnsurePrivateDirectoryCreates0700AndChecksWhatExists) {
  TempDir dir;
  const std::string run = dir.path() + "/new/run";
  const mode_t old_umask = ::umask(0);
  const absl::Status created = EnsurePrivateDirectory("socket directory", run, ::geteuid());
  ::umask(old_umask);
  ASSERT_OK(created);
  EXPECT_EQ(ModeOf(dir.path() + "/new"), 0700u);
  EXPECT_EQ(ModeOf(run), 0700u);
  ASSERT_EQ(::chmod(run.c_str(), 0777), 0);  // pre-created by someone else's rules
  const absl::Status open = EnsurePrivateDirectory("socket directory", run, ::geteuid());
  EXPECT_EQ(open.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(open.message(),
            "socket directory " + run + " is writable by others (mode 0777): chmod go-w " + run);
}

}  // namespace
}  // namespace troupe::config
