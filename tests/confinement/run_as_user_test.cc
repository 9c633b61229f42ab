// Tests of RunAsUser (daemon/confinement/run_as_user.h). Dropping root
// needs root: CI runs the tests as root; elsewhere those cases skip.
#include "daemon/confinement/run_as_user.h"

#include <pwd.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "tests/common/root_access.h"
#include "tests/confinement/probe_runner.h"

namespace troupe::confinement {
namespace {

using testing::ProbeResult;
using testing::Refused;
using testing::RunProbe;

TEST(RunAsUserTest, RunsAsNobodyAndCannotRegainRoot) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "dropping root needs root; this test runs as uid " << ::geteuid();
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr) << "no user 'nobody' on this machine";
  const std::string uid = std::to_string(nobody->pw_uid);
  const std::string gid = std::to_string(nobody->pw_gid);
  const ProbeResult result =
      RunProbe({"--step", "user=nobody", "--try", "ids", "--try", "setuid-root"});
  EXPECT_TRUE(
      result.Has("ids: uid " + uid + " euid " + uid + " gid " + gid + " egid " + gid + " groups 0"))
      << result;
  EXPECT_TRUE(result.Has(Refused("setuid-root"))) << result;
}

TEST(RunAsUserTest, AsTheUserAlreadyItIsANoOpAndAnotherUserIsRefused) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "becoming 'nobody' first needs root; this test runs as "
                 << "uid " << ::geteuid();
  // As nobody it reads /etc/passwd again.
  if (!troupe::testing::OthersCanSearchRoot()) GTEST_SKIP() << troupe::testing::kRootNotSearchable;
  ASSERT_NE(::getpwnam("daemon"), nullptr) << "no user 'daemon' on this machine";
  // Once nobody, RunAsUser("nobody") is fine, RunAsUser("daemon") is not.
  const ProbeResult again =
      RunProbe({"--step", "user=nobody", "--step", "user=nobody", "--try", "ids"});
  EXPECT_EQ(again.exit_code, 0) << again;
  const ProbeResult other =
      RunProbe({"--step", "user=nobody", "--step", "user=daemon", "--try", "ids"});
  EXPECT_EQ(other.exit_code, 10) << other;
  EXPECT_NE(other.out.find("step user=daemon: PERMISSION_DENIED: user 'daemon' (uid "),
            std::string::npos)
      << other;
  EXPECT_NE(other.out.find("cannot switch to it without root"), std::string::npos) << other;
}

TEST(RunAsUserTest, UnknownUserIsAClearError) {
  const absl::Status status = RunAsUser("troupe-no-such-user");
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_EQ(status.message(),
            "unknown user 'troupe-no-such-user': no such entry in the user database");
}

TEST(RunAsUserTest, RootIsNeverTheTarget) {
  const absl::Status status = RunAsUser("root");
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(),
            "user 'root' has uid 0 and gid 0: a confined host never runs as root");
  EXPECT_EQ(::getuid(), ::geteuid());  // nothing changed here
}

TEST(RunAsUserTest, EmptyNameIsRefused) {
  const absl::Status status = RunAsUser("");
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(), "user: the name is empty");
}

}  // namespace
}  // namespace troupe::confinement
