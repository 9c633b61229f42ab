// Tests of ApplyResourceLimits (daemon/confinement/resource_limits.h): the
// limits as the kernel reports them, and what each does to a probe.
#include "daemon/confinement/resource_limits.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/confinement/probe_runner.h"

namespace troupe::confinement {
namespace {

using testing::ProbeResult;
using testing::Refused;
using testing::RunProbe;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(ResourceLimitsTest, SetsEachLimitAndNoCoreFiles) {
  std::vector<std::string> args = {"--step",       "rlimits", "--cpu-seconds", "50",
                                   "--open-files", "40",      "--try",         "limits"};
  // Under ASan and TSan an RLIMIT_AS breaks the sanitizer: left out there.
  const std::string memory = std::to_string(3 * kGiB);
  if (!TROUPE_TEST_SANITIZER_RESERVES_MEMORY) {
    args.insert(args.begin(), {"--memory-bytes", memory});
  }
  const ProbeResult result = RunProbe(args);
  // RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL one second later.
  EXPECT_NE(result.out.find(" cpu 50/51 nofile 40/40 core 0/0"), std::string::npos) << result;
  if (!TROUPE_TEST_SANITIZER_RESERVES_MEMORY) {
    EXPECT_NE(result.out.find("limits: as " + memory + "/" + memory + " cpu"), std::string::npos)
        << result;
  }
}

TEST(ResourceLimitsTest, ZeroLeavesALimitAsItIs) {
  rlimit files{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
  const ProbeResult result = RunProbe({"--step", "rlimits", "--try", "limits"});
  const std::string nofile = " nofile " + std::to_string(files.rlim_cur) + "/" +
                             std::to_string(files.rlim_max) + " core 0/0";
  EXPECT_NE(result.out.find(nofile), std::string::npos) << nofile << "\n" << result;
}

TEST(ResourceLimitsTest, AddressSpaceLimitMakesA10GiBAllocationFail) {
  if (TROUPE_TEST_SANITIZER_RESERVES_MEMORY) {
    GTEST_SKIP() << "ASan and TSan reserve terabytes of address space at start: any RLIMIT_AS "
                    "breaks the sanitizer before the allocation under test";
  }
  const std::string ten_gib = std::to_string(10 * kGiB);
  const ProbeResult result = RunProbe(
      {"--step", "rlimits", "--memory-bytes", std::to_string(1 * kGiB), "--try", "alloc=" + ten_gib,
       "--try", "new=" + ten_gib, "--try", "alloc=" + std::to_string(64 * kMiB)});
  EXPECT_TRUE(result.Has(Refused("alloc " + ten_gib, "ENOMEM"))) << result;
  EXPECT_TRUE(result.Has("new " + ten_gib + ": bad_alloc")) << result;
  // The process goes on: a small allocation still works and it exits.
  EXPECT_TRUE(result.Has("alloc " + std::to_string(64 * kMiB) + ": ok")) << result;
  EXPECT_TRUE(result.exited) << result;
  EXPECT_EQ(result.exit_code, 1) << result;
}

TEST(ResourceLimitsTest, AddressSpaceLimitIsWhatRefusesTheAllocation) {
  if (TROUPE_TEST_SANITIZER_RESERVES_MEMORY) {
    GTEST_SKIP() << "ASan and TSan reserve terabytes of address space at start: any RLIMIT_AS "
                    "breaks the sanitizer before the allocation under test";
  }
  // 768 MiB fits any test machine without a limit, and not under 512 MiB.
  const std::string size = std::to_string(768 * kMiB);
  const ProbeResult limited = RunProbe({"--step", "rlimits", "--memory-bytes",
                                        std::to_string(512 * kMiB), "--try", "alloc=" + size});
  EXPECT_TRUE(limited.Has(Refused("alloc " + size, "ENOMEM"))) << limited;
  const ProbeResult unlimited = RunProbe({"--step", "rlimits", "--try", "alloc=" + size});
  EXPECT_TRUE(unlimited.Has("alloc " + size + ": ok")) << unlimited;
}

TEST(ResourceLimitsTest, OpenFilesLimitStopsOpensWithEmfile) {
  const ProbeResult limited =
      RunProbe({"--step", "rlimits", "--open-files", "32", "--try", "open-many=64"});
  // stdin, stdout and stderr are open already, so fewer than 30 more fit.
  bool found = false;
  for (const std::string& line : troupe::testing::Lines(limited.out)) {
    int opened = -1;
    if (std::sscanf(line.c_str(), "open-many 64: opened %d then errno EMFILE", &opened) == 1) {
      found = true;
      EXPECT_GT(opened, 0) << line;
      EXPECT_LE(opened, 29) << line;
    }
  }
  EXPECT_TRUE(found) << limited;
  const ProbeResult unlimited = RunProbe({"--step", "rlimits", "--try", "open-many=64"});
  EXPECT_TRUE(unlimited.Has("open-many 64: ok 64")) << unlimited;
}

// RLIMIT_CPU counts CPU time, so this test burns about one second of it: the
// only honest way to see the kernel act on the limit.
TEST(ResourceLimitsTest, CpuLimitEndsTheHostWithSigxcpu) {
  const ProbeResult result =
      RunProbe({"--step", "rlimits", "--cpu-seconds", "1", "--try", "cpu-burn"});
  EXPECT_TRUE(result.Killed(SIGXCPU)) << result;
}

// About two seconds of CPU: the hard limit one second after the soft one.
TEST(ResourceLimitsTest, CpuHardLimitKillsAHostThatIgnoresSigxcpu) {
  const ProbeResult result = RunProbe(
      {"--ignore-sigxcpu", "--step", "rlimits", "--cpu-seconds", "1", "--try", "cpu-burn"});
  EXPECT_TRUE(result.Killed(SIGKILL)) << result;
}

TEST(ResourceLimitsTest, ARequestAboveTheHardLimitGetsTheHardLimit) {
  // In a forked child (this test binary runs no other thread): lower the
  // hard limit, then ask for more than it. Without privileges a raise would
  // fail; the request is clamped instead, never raised.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const rlimit low{64, 64};
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) ::_exit(2);
    ResourceLimits limits;
    limits.open_files = 100000;
    if (!ApplyResourceLimits(limits).ok()) ::_exit(3);
    rlimit now{};
    ::getrlimit(RLIMIT_NOFILE, &now);
    ::_exit(now.rlim_cur == 64 && now.rlim_max == 64 ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: setrlimit, 3: ApplyResourceLimits, 4: not clamped";
}

}  // namespace
}  // namespace troupe::confinement
