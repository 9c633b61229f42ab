// Tests of ApplyAll (daemon/confinement/confinement_policy.h): a probe is
// confined as an isolated host is, then tries what a hostile handler would.
#include "daemon/confinement/confinement_policy.h"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/root_access.h"
#include "tests/common/temp_dir.h"
#include "tests/confinement/probe_runner.h"

namespace troupe::confinement {
namespace {

using testing::ProbeResult;
using testing::Refused;
using testing::RunProbe;

class ApplyAllTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() == 0 && !troupe::testing::OthersCanSearchRoot()) {
      GTEST_SKIP() << troupe::testing::kRootNotSearchable;
    }
    for (const std::string* dir : {&data_, &scratch_, &outside_}) {
      ASSERT_EQ(::mkdir(dir->c_str(), 0755), 0) << *dir;
    }
    // The host may run as nobody: the tree must be theirs to read, and the
    // scratch directory theirs to write.
    ASSERT_EQ(::chmod(root_.path().c_str(), 0755), 0);
    ASSERT_EQ(::chmod(scratch_.c_str(), 0777), 0);
    troupe::testing::WriteFileForTest(data_ + "/data.txt", "bundle data\n");
    troupe::testing::WriteFileForTest(outside_ + "/secret.txt", "secret\n");
    ASSERT_EQ(::chmod((data_ + "/data.txt").c_str(), 0644), 0);
    ASSERT_EQ(::chmod((outside_ + "/secret.txt").c_str(), 0644), 0);
    landlock_ = LandlockAbiVersion().ok();
  }

  // The probe arguments of a host's policy, then `ops`.
  std::vector<std::string> Policy(const std::vector<std::string>& ops) const {
    std::vector<std::string> args = {"--step",        "all",   "--open-files", "64",
                                     "--cpu-seconds", "100",   "--read-only",  data_,
                                     "--read-write",  scratch_};
    if (!TROUPE_TEST_SANITIZER_RESERVES_MEMORY) {
      args.insert(args.end(), {"--memory-bytes", std::to_string(uint64_t{4} << 30)});
    }
    for (const std::string& op : ops) args.insert(args.end(), {"--try", op});
    return args;
  }

  troupe::testing::TempDir root_{"confinement_policy"};
  const std::string data_ = root_.path() + "/data";
  const std::string scratch_ = root_.path() + "/scratch";
  const std::string outside_ = root_.path() + "/outside";
  bool landlock_ = false;
};

TEST_F(ApplyAllTest, ConfinesTheHostAndItKeepsWorking) {
  const ProbeResult result = RunProbe(Policy(
      {"no-new-privs", "pdeathsig", "ids", "limits", "thread", "socket", "execve", "fork",
       "kill-parent", "open-read=" + data_ + "/data.txt", "open-write=" + scratch_ + "/out.txt",
       "open-write=/tmp/troupe-confinement-test-must-not-exist",
       "open-read=" + outside_ + "/secret.txt"}));
  ASSERT_TRUE(result.exited) << result;
  EXPECT_TRUE(result.Has("no-new-privs: 1")) << result;
  // Armed again after the change of user, which clears it.
  EXPECT_TRUE(result.Has("pdeathsig: " + std::to_string(SIGKILL))) << result;
  EXPECT_NE(result.out.find("nofile 64/64 core 0/0"), std::string::npos) << result;
  EXPECT_NE(result.out.find("cpu 100/101"), std::string::npos) << result;
  EXPECT_TRUE(result.Has("thread: ok 42")) << result;
  EXPECT_TRUE(result.Has(Refused("socket"))) << result;
  EXPECT_TRUE(result.Has(Refused("execve"))) << result;
  EXPECT_TRUE(result.Has(Refused("fork"))) << result;
  EXPECT_TRUE(result.Has(Refused("kill-parent"))) << result;
  EXPECT_TRUE(result.Has("open-read " + data_ + "/data.txt: ok 12 bytes")) << result;
  if (::geteuid() == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    const std::string uid = std::to_string(nobody->pw_uid);
    EXPECT_TRUE(result.Has("user changed: yes")) << result;
    EXPECT_NE(result.out.find("ids: uid " + uid + " euid " + uid), std::string::npos) << result;
  } else {
    EXPECT_TRUE(result.Has("user changed: no")) << result;
    EXPECT_NE(result.out.find("skipped: user: not root"), std::string::npos) << result;
  }
  if (landlock_) {
    EXPECT_TRUE(result.Has("file writes: yes")) << result;
    EXPECT_TRUE(result.Has("open-write " + scratch_ + "/out.txt: ok")) << result;
    EXPECT_TRUE(
        result.Has(Refused("open-write /tmp/troupe-confinement-test-must-not-exist", "EACCES")))
        << result;
    EXPECT_TRUE(result.Has(Refused("open-read " + outside_ + "/secret.txt", "EACCES"))) << result;
  } else {
    // Without Landlock: writes refused everywhere by the filter, reads open.
    EXPECT_TRUE(result.Has("file writes: no")) << result;
    EXPECT_TRUE(result.Has(Refused("open-write " + scratch_ + "/out.txt"))) << result;
    EXPECT_TRUE(result.Has(Refused("open-write /tmp/troupe-confinement-test-must-not-exist")))
        << result;
    EXPECT_NE(result.out.find("skipped: landlock: landlock unavailable"), std::string::npos)
        << result;
  }
  EXPECT_NE(::access("/tmp/troupe-confinement-test-must-not-exist", F_OK), 0);
}

TEST_F(ApplyAllTest, A10GiBAllocationFailsAndTheHostGoesOn) {
  if (TROUPE_TEST_SANITIZER_RESERVES_MEMORY) {
    GTEST_SKIP() << "ASan and TSan reserve terabytes of address space at start: any RLIMIT_AS "
                    "breaks the sanitizer before the allocation under test";
  }
  const std::string ten_gib = std::to_string(uint64_t{10} << 30);
  const ProbeResult result = RunProbe(Policy({"new=" + ten_gib, "thread"}));
  EXPECT_TRUE(result.Has("new " + ten_gib + ": bad_alloc")) << result;
  EXPECT_TRUE(result.Has("thread: ok 42")) << result;
  EXPECT_TRUE(result.exited) << result;
}

TEST_F(ApplyAllTest, KillsTheHostOnARefusedCallWhenThePolicySaysSo) {
  std::vector<std::string> args = Policy({"socket"});
  args.push_back("--kill-on-refused");
  const ProbeResult result = RunProbe(args);
  EXPECT_TRUE(result.Killed(SIGSYS)) << result;
}

TEST_F(ApplyAllTest, RefusesAMultiThreadedProcessBeforeAnyChange) {
  std::vector<std::string> args = {"--start-thread"};
  for (const std::string& arg : Policy({"ids"})) args.push_back(arg);
  const ProbeResult result = RunProbe(args);
  EXPECT_EQ(result.exit_code, 10) << result;
  EXPECT_GE(testing::ThreadsInRefusal(result, "step all: FAILED_PRECONDITION: confinement: "), 2)
      << result;
}

TEST_F(ApplyAllTest, RefusesAPolicyWithoutParent) {
  ConfinementPolicy policy;  // parent 0: checked before anything is changed
  const absl::StatusOr<ConfinementReport> report = ApplyAll(policy);
  EXPECT_TRUE(absl::IsInvalidArgument(report.status())) << report.status();
  EXPECT_EQ(report.status().message(), "confinement policy: parent 0 is not a pid");
}

TEST_F(ApplyAllTest, FailsClosedWhenTheParentIsNotTheExpectedOne) {
  std::vector<std::string> args = Policy({"ids"});
  args.insert(args.end(), {"--expected-parent", "1"});
  const ProbeResult result = RunProbe(args);
  EXPECT_EQ(result.exit_code, 10) << result;
  EXPECT_TRUE(
      result.Has("step all: FAILED_PRECONDITION: parent death signal: parent 1 has "
                 "ended (the parent is now " +
                 std::to_string(::getpid()) + ")"))
      << result;
  EXPECT_FALSE(result.Has("ids: ok")) << result;
}

TEST_F(ApplyAllTest, FailsClosedForAnUnknownUser) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "the user is only used as root; this test runs as uid " << ::geteuid();
  std::vector<std::string> args = Policy({"ids"});
  args.insert(args.end(), {"--user", "troupe-no-such-user"});
  const ProbeResult result = RunProbe(args);
  EXPECT_EQ(result.exit_code, 10) << result;
  EXPECT_TRUE(
      result.Has("step all: FAILED_PRECONDITION: unknown user 'troupe-no-such-user': no "
                 "such entry in the user database"))
      << result;
}

}  // namespace
}  // namespace troupe::confinement
