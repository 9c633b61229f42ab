// Tests of `director bootstart` (director/commands/bootstart_command.cc) and
// the unit it renders (systemd/troupd.service.in). The built director runs in
// a temporary directory with a bindir of symlinks to the build tree's
// director and troupd, and with PATH holding only a fake `systemctl` that
// logs its arguments, so nothing here can touch the machine's systemd.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/command_result.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

using Result = troupe::testing::CommandResult;
using troupe::testing::ReadFileForTest;
using troupe::testing::WriteFileForTest;

using troupe::testing::HasLine;
using troupe::testing::Lines;

// `program` found in the directories of this process's PATH (and the usual
// system directories), or "".
std::string FindProgram(const std::string& program) {
  std::string dirs = ::getenv("PATH") != nullptr ? ::getenv("PATH") : "";
  dirs += ":/usr/bin:/bin:/usr/sbin:/sbin";
  std::stringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty()) continue;
    const std::string path = dir + "/" + program;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

constexpr char kFakeSystemctl[] = R"(#!/bin/sh
# A stand-in for systemctl: logs its arguments; fails when they match $FAIL_ON.
echo "$*" >> "$SYSTEMCTL_LOG"
if [ -n "$FAIL_ON" ] && [ "$*" = "$FAIL_ON" ]; then
  echo "fake systemctl: failing on $*" >&2
  exit 1
fi
exit 0
)";

class BootstartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::chmod(root_.c_str(), 0755), 0);  // reachable for the unprivileged run
    for (const std::string& d : {bin_, units_, fakebin_}) fs::create_directories(d);
    fs::create_symlink(TROUPE_DIRECTOR_PATH, bin_ + "/director");
    fs::create_symlink(TROUPE_TROUPD_PATH, bin_ + "/troupd");
    WriteFileForTest(fakebin_ + "/systemctl", kFakeSystemctl);
    fs::permissions(fakebin_ + "/systemctl", fs::perms::owner_all | fs::perms::group_read |
                                                 fs::perms::group_exec | fs::perms::others_read |
                                                 fs::perms::others_exec);
  }

  // Runs `program args...` with PATH=fakebin_ only, SYSTEMCTL_LOG set and
  // `extra_env`; as user nobody when `unprivileged` and this test runs as root.
  Result RunProgram(const std::string& program, const std::vector<std::string>& args,
                    const std::vector<std::string>& extra_env = {}, bool unprivileged = false) {
    std::vector<std::string> argv = {program};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env = {"PATH=" + fakebin_, "SYSTEMCTL_LOG=" + log_, "HOME=" + root_,
                                    "LANG=C"};
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    return troupe::testing::RunCommandForTest(
        argv, env, root_, root_, [unprivileged] {
          if (unprivileged && ::geteuid() == 0) {
            // Root without the file-permission capabilities (dropped from the
            // bounding set, so execve does not give them back): mode bits bind it
            // like any user, and it still reaches the build tree. Where this
            // process may not drop them (a container without CAP_SETPCAP), run as
            // user nobody instead.
            const bool dropped = ::prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) == 0 &&
                                 ::prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0) == 0;
            if (!dropped &&
                (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) {
              ::_exit(126);
            }
          }
        });
  }

  // director --dir dir_ bootstart --bindir bin_ `args...`
  Result Bootstart(const std::vector<std::string>& args,
                   const std::vector<std::string>& extra_env = {}, bool unprivileged = false) {
    std::vector<std::string> all = {"--dir", dir_, "bootstart", "--bindir", bin_};
    all.insert(all.end(), args.begin(), args.end());
    return RunProgram(TROUPE_DIRECTOR_PATH, all, extra_env, unprivileged);
  }

  std::string Unit() { return ReadFileForTest(units_ + "/troupd.service"); }
  // What the fake systemctl was asked, one line per call; nullopt when never.
  std::optional<std::string> SystemctlLog() {
    if (!fs::exists(log_)) return std::nullopt;
    return ReadFileForTest(log_);
  }

  troupe::testing::TempDir temp_{"bootstart"};
  const std::string root_ = temp_.path();
  const std::string bin_ = root_ + "/bin";
  const std::string units_ = root_ + "/units";
  const std::string fakebin_ = root_ + "/fakebin";
  const std::string dir_ = root_ + "/troupe";
  const std::string log_ = root_ + "/systemctl.log";
};

TEST_F(BootstartTest, WithUnitDirAndNoStartItRendersTheUnitAndRunsNoSystemctl) {
  Result r = Bootstart({"--unit-dir", units_, "--no-start"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(SystemctlLog(), std::nullopt) << "systemctl ran: " << *SystemctlLog();

  const std::string unit = Unit();
  for (const std::string& line : std::vector<std::string>{
           "Type=notify",
           "NotifyAccess=main",
           "ExecStart=" + bin_ + "/troupd",
           "ExecStartPre=" + bin_ + "/director config check",
           "Environment=TROUPE_DIR=" + dir_,
           "Restart=on-failure",
           "StateDirectory=troupe",
           "RuntimeDirectory=troupe",
           "NoNewPrivileges=yes",
           "ProtectSystem=strict",
           "PrivateTmp=yes",
           "UMask=0077",
           "KillSignal=SIGTERM",
           "TimeoutStopSec=45s",  // drain_timeout_seconds (30) + 15
           // TROUPE_DIR is outside StateDirectory=, so it must be writable.
           "ReadWritePaths=" + dir_,
           "WantedBy=multi-user.target",
           // Only the Debian package's rendering names a user (packaging/).
           "# User= not set: the service runs as root (director bootstart)",
       }) {
    EXPECT_TRUE(HasLine(unit, line)) << "no line '" << line << "' in\n" << unit;
  }
  for (const std::string& line : Lines(unit)) {
    EXPECT_NE(line.rfind("User=", 0), 0u) << line;
    EXPECT_NE(line.rfind("MemoryDenyWriteExecute=", 0), 0u) << "see systemd/README.md";
    EXPECT_EQ(line.find('@'), std::string::npos) << "placeholder left: " << line;
  }
  EXPECT_EQ(ReadFileForTest(dir_ + "/config/socket"), "/run/troupe/troupd.sock\n");

  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{
                              "wrote " + units_ + "/troupd.service",
                              "wrote " + dir_ + "/config/socket = /run/troupe/troupd.sock",
                              "not run (--unit-dir without --system): systemctl daemon-reload",
                              "not run (--unit-dir without --system): systemctl enable "
                              "troupd.service",
                              "skipped systemctl start troupd.service (--no-start)",
                          }))
      << r;
}

TEST_F(BootstartTest, ASocketAlreadySetIsKept) {
  fs::create_directories(dir_ + "/config");
  WriteFileForTest(dir_ + "/config/socket", "/run/troupe/other.sock\n");
  Result r = Bootstart({"--unit-dir", units_, "--no-start"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(ReadFileForTest(dir_ + "/config/socket"), "/run/troupe/other.sock\n");
  EXPECT_TRUE(
      HasLine(r.out, "kept " + dir_ + "/config/socket = /run/troupe/other.sock (already set)"))
      << r;
  EXPECT_EQ(r.err, "");
}

TEST_F(BootstartTest, TimeoutStopSecFollowsTheDrainTimeout) {
  fs::create_directories(dir_ + "/config");
  WriteFileForTest(dir_ + "/config/drain_timeout_seconds", "100\n");
  Result r = Bootstart({"--unit-dir", units_, "--no-start"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(HasLine(Unit(), "TimeoutStopSec=115s")) << Unit();
}

TEST_F(BootstartTest, AnInvalidSettingExits7AndWritesNothing) {
  fs::create_directories(dir_ + "/config");
  WriteFileForTest(dir_ + "/config/drain_timeout_seconds", "soon\n");
  Result r = Bootstart({"--unit-dir", units_, "--no-start"});
  EXPECT_EQ(r.code, 7) << r;
  EXPECT_CONTAINS(r.err, "drain_timeout_seconds");
  EXPECT_FALSE(fs::exists(units_ + "/troupd.service"));
}

TEST_F(BootstartTest, WithSystemItReloadsBeforeEnablingThenStarts) {
  Result r = Bootstart({"--unit-dir", units_, "--system"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(SystemctlLog(), "daemon-reload\nenable troupd.service\nstart troupd.service\n");
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{
                              "wrote " + units_ + "/troupd.service",
                              "wrote " + dir_ + "/config/socket = /run/troupe/troupd.sock",
                              "ran systemctl daemon-reload",
                              "ran systemctl enable troupd.service",
                              "ran systemctl start troupd.service",
                          }))
      << r;
}

TEST_F(BootstartTest, NoStartEnablesWithoutStarting) {
  Result r = Bootstart({"--unit-dir", units_, "--system", "--no-start"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(SystemctlLog(), "daemon-reload\nenable troupd.service\n");
  EXPECT_TRUE(HasLine(r.out, "skipped systemctl start troupd.service (--no-start)")) << r;
}

TEST_F(BootstartTest, AFailingSystemctlStopsTheStepsAndSaysWhich) {
  Result r = Bootstart({"--unit-dir", units_, "--system"}, {"FAIL_ON=enable troupd.service"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(SystemctlLog(), "daemon-reload\nenable troupd.service\n") << "no start after";
  EXPECT_CONTAINS(r.err, "systemctl enable troupd.service failed");
  EXPECT_TRUE(HasLine(r.out, "ran systemctl daemon-reload")) << r;
}

TEST_F(BootstartTest, WithoutPermissionItRefusesNamingThePathAndSudo) {
  ASSERT_EQ(::chmod(units_.c_str(), 0555), 0);
  ASSERT_EQ(::chmod(root_.c_str(), 0755), 0);
  Result r = Bootstart({"--unit-dir", units_, "--no-start"}, {}, /*unprivileged=*/true);
  ::chmod(units_.c_str(), 0755);
  if (r.code == 0 && ::geteuid() != 0) GTEST_SKIP() << "this user may write a mode-0555 directory";
  EXPECT_EQ(r.code, 11) << r;
  EXPECT_CONTAINS(r.err, units_ + "/troupd.service");
  EXPECT_CONTAINS(r.err, "sudo director bootstart");
  EXPECT_FALSE(fs::exists(units_ + "/troupd.service"));
  EXPECT_FALSE(fs::exists(dir_ + "/config/socket")) << "nothing written before the refusal";
  EXPECT_EQ(SystemctlLog(), std::nullopt);
}

TEST_F(BootstartTest, AMissingTroupdIsNotFound) {
  fs::remove(bin_ + "/troupd");
  Result r = Bootstart({"--unit-dir", units_, "--no-start"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_CONTAINS(r.err, bin_ + "/troupd");
  EXPECT_CONTAINS(r.err, "--bindir");
}

TEST_F(BootstartTest, JsonIsOneObjectWithTheSteps) {
  Result r = RunProgram(TROUPE_DIRECTOR_PATH, {"--json", "--dir", dir_, "bootstart", "--bindir",
                                               bin_, "--unit-dir", units_, "--no-start"});
  ASSERT_EQ(r.code, 0) << r;
  ASSERT_EQ(Lines(r.out).size(), 1u) << r;
  EXPECT_CONTAINS(r.out, "{\"ok\":true,");
  EXPECT_CONTAINS(r.out, "\"systemctl\":false");
  EXPECT_CONTAINS(r.out, "\"steps\":[\"wrote " + units_ + "/troupd.service\"");
}

TEST_F(BootstartTest, HelpListsBootstart) {
  Result r = RunProgram(TROUPE_DIRECTOR_PATH, {"--help"});
  ASSERT_EQ(r.code, 0) << r;
  bool listed = false;
  for (const std::string& line : Lines(r.out)) {
    if (line.rfind("  bootstart ", 0) == 0 && line.size() > 30) listed = true;
  }
  EXPECT_TRUE(listed) << r.out;
  EXPECT_CONTAINS(r.out, "11 not permitted");
}

// systemd-analyze verify checks the unit as systemd would load it, including
// that ExecStart=/ExecStartPre= name executables (here the build tree's, via
// the bindir of symlinks). Unknown keys and bad values are only warnings
// (exit 0), so any line about troupd.service fails the test.
TEST_F(BootstartTest, SystemdAnalyzeVerifyAcceptsTheRenderedUnit) {
  const std::string analyze = FindProgram("systemd-analyze");
  if (analyze.empty()) {
    GTEST_SKIP() << "systemd-analyze is not installed (Debian package systemd; "
                    "scripts/install-deps.sh installs it)";
  }
  // First make sure verify works on this machine at all, and that the check
  // below would see a problem.
  const std::string probe_dir = root_ + "/probe";
  fs::create_directories(probe_dir);
  WriteFileForTest(
      probe_dir + "/troupe-probe.service",
      "[Service]\nType=oneshot\nExecStart=" + bin_ + "/troupd --version\nBogusKey=1\n");
  Result probe = RunProgram(analyze, {"verify", probe_dir + "/troupe-probe.service"});
  if (probe.err.find("Unknown key") == std::string::npos &&
      probe.err.find("BogusKey") == std::string::npos) {
    GTEST_SKIP() << "systemd-analyze verify does not work here, so the unit cannot be checked:\n"
                 << probe;
  }

  Result r = Bootstart({"--unit-dir", units_, "--no-start"});
  ASSERT_EQ(r.code, 0) << r;
  Result verify = RunProgram(analyze, {"verify", units_ + "/troupd.service"});
  EXPECT_EQ(verify.code, 0) << verify;
  for (const std::string& line : Lines(verify.out + verify.err)) {
    EXPECT_EQ(line.find("troupd.service"), std::string::npos) << line;
  }

  // And it does notice a binary that is not there.
  fs::remove(bin_ + "/troupd");
  Result missing = RunProgram(analyze, {"verify", units_ + "/troupd.service"});
  EXPECT_NE(missing.code, 0) << missing;
  EXPECT_CONTAINS(missing.err, bin_ + "/troupd");
}

}  // namespace
