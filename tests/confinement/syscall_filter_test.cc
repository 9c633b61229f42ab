// Tests of InstallSyscallFilter (daemon/confinement/syscall_filter.h): the
// lists themselves, then probes that install the filter and try what a
// hostile handler would (refused with EPERM, the probe lives) and what the
// host's runtime needs (still works).
#include "daemon/confinement/syscall_filter.h"

#include <seccomp.h>
#include <signal.h>

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"
#include "tests/confinement/probe_runner.h"

namespace troupe::confinement {
namespace {

using testing::ProbeResult;
using testing::Refused;
using testing::RunProbe;

std::set<std::string> AllowedNames(const SyscallFilterOptions& options) {
  std::set<std::string> names;
  for (const AllowedSyscall& allowed : DescribeSyscallFilter(options)) names.insert(allowed.name);
  return names;
}

SyscallFilterOptions WithFileWrites() {
  SyscallFilterOptions options;
  options.allow_file_writes = true;
  return options;
}

TEST(SyscallFilterListTest, EveryNameIsKnownToLibseccomp) {
  for (const SyscallFilterOptions& options : {SyscallFilterOptions{}, WithFileWrites()}) {
    for (const AllowedSyscall& allowed : DescribeSyscallFilter(options)) {
      EXPECT_NE(seccomp_syscall_resolve_name(allowed.name.c_str()), __NR_SCMP_ERROR)
          << allowed.name;
    }
  }
  for (std::string_view refused : RefusedSyscallNames()) {
    EXPECT_NE(seccomp_syscall_resolve_name(std::string(refused).c_str()), __NR_SCMP_ERROR)
        << refused;
  }
}

TEST(SyscallFilterListTest, NoRefusedSyscallIsEverAllowed) {
  for (const SyscallFilterOptions& options : {SyscallFilterOptions{}, WithFileWrites()}) {
    const std::set<std::string> allowed = AllowedNames(options);
    for (std::string_view refused : RefusedSyscallNames()) {
      EXPECT_EQ(allowed.count(std::string(refused)), 0u) << refused << " is allowed";
    }
  }
  // The calls a hostile handler reaches for first, whatever the list says.
  for (const char* name : {"socket", "execve", "ptrace", "fork", "vfork", "unshare", "bpf",
                           "io_uring_setup", "setuid", "clone3", "openat2"}) {
    EXPECT_EQ(AllowedNames(WithFileWrites()).count(name), 0u) << name << " is allowed";
  }
}

TEST(SyscallFilterListTest, FileWritesAddOnlyFileCallsAndUnconditionalOpens) {
  const std::set<std::string> read_only = AllowedNames({});
  const std::set<std::string> writes = AllowedNames(WithFileWrites());
  std::set<std::string> added;
  for (const std::string& name : writes) {
    if (read_only.count(name) == 0) added.insert(name);
  }
  EXPECT_EQ(added, (std::set<std::string>{"creat", "fallocate", "mkdir", "mkdirat", "rename",
                                          "renameat", "renameat2", "rmdir", "unlink", "unlinkat"}));
  for (const SyscallFilterOptions& options : {SyscallFilterOptions{}, WithFileWrites()}) {
    for (const AllowedSyscall& allowed : DescribeSyscallFilter(options)) {
      if (allowed.name != "openat") continue;
      if (options.allow_file_writes) {
        EXPECT_EQ(allowed.condition, "writes confined by landlock");
      } else {
        EXPECT_NE(allowed.condition.find("without O_WRONLY"), std::string::npos)
            << allowed.condition;
      }
    }
  }
}

// A refused call: the probe prints its line and ends by itself (exit 1,
// an operation failed), it is not killed.
void ExpectRefusedAndAlive(const ProbeResult& result, const std::string& line) {
  EXPECT_TRUE(result.Has(line)) << result;
  EXPECT_TRUE(result.exited) << result;
  EXPECT_EQ(result.exit_code, 1) << result;
}

TEST(SyscallFilterTest, RefusesSocketsWithEperm) {
  ExpectRefusedAndAlive(RunProbe({"--step", "seccomp", "--try", "socket"}), Refused("socket"));
  ExpectRefusedAndAlive(RunProbe({"--step", "seccomp", "--try", "socketpair"}),
                        Refused("socketpair"));
  // Unconfined the same calls work: the EPERM is the filter's.
  const ProbeResult control = RunProbe({"--try", "socket", "--try", "socketpair"});
  EXPECT_TRUE(control.Has("socket: ok") && control.Has("socketpair: ok")) << control;
}

TEST(SyscallFilterTest, RefusesExecve) {
  ExpectRefusedAndAlive(RunProbe({"--step", "seccomp", "--try", "execve"}), Refused("execve"));
}

TEST(SyscallFilterTest, RefusesNewProcessesButNotThreads) {
  ExpectRefusedAndAlive(RunProbe({"--step", "seccomp", "--try", "fork"}), Refused("fork"));
  // posix_spawn: clone3 gets ENOSYS, glibc falls back to clone(CLONE_VFORK),
  // which has no CLONE_THREAD.
  ExpectRefusedAndAlive(RunProbe({"--step", "seccomp", "--try", "spawn"}), Refused("spawn"));
  const ProbeResult threads = RunProbe({"--step", "seccomp", "--try", "thread"});
  EXPECT_TRUE(threads.Has("thread: ok 42")) << threads;
  EXPECT_EQ(threads.exit_code, 0) << threads;
}

TEST(SyscallFilterTest, RefusesPtrace) {
  ExpectRefusedAndAlive(RunProbe({"--step", "seccomp", "--try", "ptrace"}), Refused("ptrace"));
}

TEST(SyscallFilterTest, SignalsOnlyTheHostItself) {
  const ProbeResult result =
      RunProbe({"--step", "seccomp", "--try", "kill-self", "--try", "kill-parent"});
  EXPECT_TRUE(result.Has("kill-self: ok")) << result;
  ExpectRefusedAndAlive(result, Refused("kill-parent"));
}

TEST(SyscallFilterTest, RefusesOpeningForWriteWithoutLandlock) {
  troupe::testing::TempDir dir("confinement_seccomp");
  const std::string path = dir.path() + "/x";
  ExpectRefusedAndAlive(RunProbe({"--step", "seccomp", "--try", "open-write=" + path}),
                        Refused("open-write " + path));
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << path << " was created";
  // Reading stays allowed (Landlock, not the filter, confines reads).
  troupe::testing::WriteFileForTest(path, "data\n");
  const ProbeResult read = RunProbe({"--step", "seccomp", "--try", "open-read=" + path});
  EXPECT_TRUE(read.Has("open-read " + path + ": ok 5 bytes")) << read;
}

TEST(SyscallFilterTest, RefusesEveryListedCallWithEperm) {
  const ProbeResult result = RunProbe({"--step", "seccomp", "--try", "raw-refused"});
  EXPECT_TRUE(result.exited) << result;
  // Sanitizer builds let pipes through (syscall_filter.h); pipe2(nullptr)
  // then fails with EFAULT.
  const bool pipes_allowed = AllowedNames({}).count("pipe2") == 1;
  int lines = 0;
  for (const std::string& line : troupe::testing::Lines(result.out)) {
    if (line.rfind("raw ", 0) != 0) continue;
    ++lines;
    std::string expected = ": errno EPERM";
    if (line.rfind("raw clone3:", 0) == 0 || line.rfind("raw openat2:", 0) == 0) {
      expected = ": errno ENOSYS";
    } else if (line.rfind("raw pipe2:", 0) == 0 && pipes_allowed) {
      expected = ": errno EFAULT";
    }
    EXPECT_NE(line.find(expected), std::string::npos) << line;
  }
  EXPECT_GE(lines, 50) << result;
}

TEST(SyscallFilterTest, ListedCallsAreNotRefusedWithoutTheFilter) {
  // The control for the test above: unconfined, the harmless variants the
  // probe makes succeed or fail for another reason than EPERM.
  const ProbeResult result = RunProbe({"--try", "raw-refused"});
  for (const char* line :
       {"raw unshare: returned 0", "raw kill parent: returned 0", "raw tgkill parent: returned 0",
        "raw tkill: returned 0", "raw setresuid: returned 0", "raw prlimit64 set: returned 0",
        "raw prlimit64 parent: returned 0", "raw fcntl F_SETOWN: returned 0"}) {
    EXPECT_TRUE(result.Has(line)) << line << "\n" << result;
  }
  EXPECT_FALSE(result.Has("raw clone3: errno ENOSYS")) << result;
  EXPECT_FALSE(result.Has("raw socket: errno EPERM")) << result;
}

TEST(SyscallFilterTest, KillsTheHostWhenThePolicySaysSo) {
  const ProbeResult result =
      RunProbe({"--step", "seccomp", "--kill-on-refused", "--try", "socket"});
  EXPECT_TRUE(result.Killed(SIGSYS)) << result;
  EXPECT_FALSE(result.Has(Refused("socket"))) << result;
}

TEST(SyscallFilterTest, MallocAndFreeStillWork) {
  const ProbeResult result = RunProbe({"--step", "seccomp", "--try", "malloc"});
  EXPECT_TRUE(result.Has("malloc: ok")) << result;
  EXPECT_EQ(result.exit_code, 0) << result;
}

TEST(SyscallFilterTest, ConditionVariableWaitsStillWork) {
  const ProbeResult result = RunProbe({"--step", "seccomp", "--try", "condvar"});
  EXPECT_TRUE(result.Has("condvar: ok timed out yes, woken yes")) << result;
}

TEST(SyscallFilterTest, LoggingToStderrStillWorks) {
  const ProbeResult result = RunProbe({"--step", "seccomp", "--try", "stderr"});
  EXPECT_TRUE(result.Has("stderr: ok")) << result;
  EXPECT_NE(result.err.find("confinement probe: stderr still works"), std::string::npos) << result;
}

TEST(SyscallFilterTest, AbortStillEndsTheHostWithSigabrt) {
  const ProbeResult result = RunProbe({"--step", "seccomp", "--try", "abort"});
  EXPECT_TRUE(result.Has("abort: calling abort()")) << result;
  EXPECT_TRUE(result.Killed(SIGABRT)) << result;
}

TEST(SyscallFilterTest, DlopenStillWorks) {
  const std::string library = TROUPE_CONFINEMENT_PROBE_LIBRARY;
  const ProbeResult result = RunProbe({"--step", "seccomp", "--try", "dlopen=" + library});
  EXPECT_TRUE(result.Has("dlopen " + library + ": ok 42")) << result;
  EXPECT_EQ(result.exit_code, 0) << result;
}

TEST(SyscallFilterTest, DlopenFromAMemfdStillWorks) {
  const std::string library = TROUPE_CONFINEMENT_PROBE_LIBRARY;
  const ProbeResult result = RunProbe({"--step", "seccomp", "--try", "dlopen-memfd=" + library});
  EXPECT_TRUE(result.Has("dlopen-memfd " + library + ": ok 42")) << result;
}

}  // namespace
}  // namespace troupe::confinement
