// permissions_config_test.cc - daemon/config/permissions.h and the problems
// Config::LoadFrom records for a TROUPE_DIR, keys/, keys/trusted/, config/,
// capabilities/, loaded/ or socket directory, or a setting, trusted key or
// capability file, that another user owns or that group or others may write.
#include "daemon/config/permissions.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/common/strings.h"
#include "daemon/config/capabilities.h"
#include "daemon/config/config.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::config {
namespace {

namespace fs = std::filesystem;
using ::troupe::testing::TempDir;

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

// Gives `path` to uid 65534 when running as root and returns the owner to
// expect (the daemon's user); else returns another uid than the file's.
uid_t GiveAwayOrExpectAnother(const std::string& path) {
  const uid_t me = ::geteuid();
  if (me != 0) return me + 1;
  EXPECT_EQ(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0) << path;
  return 0;
}

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

TEST(PermissionsConfigTest, TheTrustedKeysAndLoadedDirectoriesAreChecked) {
  TempDir dir;
  MakeDir(dir.path() + "/keys", 0755);
  MakeDir(dir.path() + "/keys/trusted", 0777);
  MakeDir(dir.path() + "/loaded", 0700);
  MakeDir(dir.path() + "/loaded/code", 0775);
  const Config config = Config::LoadFrom(dir.path(), "--dir");
  ASSERT_EQ(config.problems().size(), 2u) << config.Check();
  EXPECT_EQ(config.problems()[0], "trusted keys directory " + dir.path() +
                                      "/keys/trusted is writable by others (mode 0777): "
                                      "chmod go-w " +
                                      dir.path() + "/keys/trusted");
  EXPECT_EQ(config.problems()[1], "bundle code directory " + dir.path() +
                                      "/loaded/code is writable by its group (mode 0775): "
                                      "chmod go-w " +
                                      dir.path() + "/loaded/code");
}

TEST(PermissionsConfigTest, ASettingOthersCanWriteIsRefusedWithTheFix) {
  TempDir dir;
  const std::string path = dir.path() + "/config/listen_tcp";
  WriteFile(path, "0.0.0.0:7000\n", 0666);
  MakeDir(dir.path() + "/config", 0755);
  const Config config = Config::LoadFrom(dir.path(), "--dir");
  ASSERT_EQ(config.problems().size(), 1u) << config.Check();
  EXPECT_EQ(config.problems()[0],
            path + ": listen_tcp: writable by others (mode 0666): chmod go-w " + path);
  // The value is not used: troupd does not listen on a planted address.
  EXPECT_EQ(config.Daemon().status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const Config fixed = Config::LoadFrom(dir.path(), "--dir");
  EXPECT_OK(fixed.Check());
  ASSERT_OK_AND_ASSIGN(DaemonSettings settings, fixed.Daemon());
  EXPECT_EQ(settings.listen_tcp, "0.0.0.0:7000");
}

TEST(PermissionsConfigTest, ASettingOfAnotherUserIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/config/worker_threads";
  WriteFile(path, "4\n", 0644);
  MakeDir(dir.path() + "/config", 0755);
  const uid_t owner = GiveAwayOrExpectAnother(path);
  const uid_t file_owner = ::geteuid() == 0 ? 65534 : ::geteuid();
  const Config config = Config::LoadFrom(dir.path(), "--dir", owner);
  // Not root: the directories are not `owner`'s either, and are problems too.
  EXPECT_NE(std::find(config.problems().begin(), config.problems().end(),
                      troupe::StrCat(path, ": worker_threads: owned by uid ", file_owner,
                                     ", not by the daemon's user (uid ", owner, "): chown ", owner,
                                     " ", path)),
            config.problems().end())
      << config.Check();
  EXPECT_EQ(config.problems().size(), ::geteuid() == 0 ? 1u : 3u) << config.Check();
}

TEST(PermissionsConfigTest, AGroupWritableTrustedKeyIsRefusedWithTheFix) {
  TempDir dir;
  MakeDir(dir.path() + "/keys/trusted", 0755);
  MakeDir(dir.path() + "/keys", 0700);
  const std::string key = dir.path() + "/keys/trusted/0123456789abcdef.pub";
  WriteFile(key, "troupe-ed25519-public AAAA\n", 0664);
  WriteFile(dir.path() + "/keys/trusted/README", "not a key; not read\n", 0666);
  const Config config = Config::LoadFrom(dir.path(), "--dir");
  ASSERT_EQ(config.problems().size(), 1u) << config.Check();
  EXPECT_EQ(config.problems()[0],
            "trusted key " + key + " is writable by its group (mode 0664): chmod go-w " + key);
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  EXPECT_OK(Config::LoadFrom(dir.path(), "--dir").Check());
}

TEST(PermissionsConfigTest, ACapabilityFileOfAnotherUserIsRefused) {
  TempDir dir;
  MakeDir(dir.path() + "/capabilities", 0755);
  const std::string path = dir.path() + "/capabilities/zone";
  WriteFile(path, "eu\n", 0644);
  const uid_t owner = GiveAwayOrExpectAnother(path);
  const uid_t file_owner = ::geteuid() == 0 ? 65534 : ::geteuid();
  const std::string expected =
      troupe::StrCat(path, " is owned by uid ", file_owner, ", not by the daemon's user (uid ",
                     owner, "): chown ", owner, " ", path);
  absl::StatusOr<std::vector<CapabilityValue>> loaded = LoadCapabilities(dir.path(), owner);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(loaded.status().message(), expected);
  if (::geteuid() == 0) {
    // What troupd and `director config check` see: the daemon's user is root.
    const Config config = Config::LoadFrom(dir.path(), "--dir");
    ASSERT_EQ(config.problems().size(), 1u) << config.Check();
    EXPECT_EQ(config.problems()[0], expected);
  }
}

TEST(PermissionsConfigTest, ACapabilityObjectOthersCanWriteIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/capabilities.json";
  WriteFile(path, "{\"zone\": \"eu\"}\n", 0646);
  const Config config = Config::LoadFrom(dir.path(), "--dir");
  ASSERT_EQ(config.problems().size(), 1u) << config.Check();
  EXPECT_EQ(config.problems()[0], path + " is writable by others (mode 0646): chmod go-w " + path);
}

}  // namespace
}  // namespace troupe::config
