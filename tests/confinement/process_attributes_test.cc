// Tests of DieWithParent, ForbidNewPrivileges and the thread count
// (daemon/confinement/process_attributes.h).
#include "daemon/confinement/process_attributes.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"
#include "tests/confinement/probe_runner.h"

namespace troupe::confinement {
namespace {

using testing::ProbeResult;
using testing::RunProbe;

TEST(ForbidNewPrivilegesTest, IsReportedSetByTheKernel) {
  const ProbeResult confined = RunProbe({"--step", "nnp", "--try", "no-new-privs"});
  EXPECT_TRUE(confined.Has("no-new-privs: 1")) << confined;
  const ProbeResult control = RunProbe({"--try", "no-new-privs"});
  EXPECT_TRUE(control.Has("no-new-privs: 0")) << control;
}

// How a grandchild probe ended, found as its subreaper.
struct Orphan {
  pid_t pid = 0;
  int status = 0;
};

// Waits for the orphan `pid`, re-parented to this process (a subreaper), to
// end: a pidfd tells when, 60 s bound the wait when nothing kills it.
Orphan WaitForOrphan(pid_t pid) {
  Orphan orphan{pid, 0};
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    ADD_FAILURE() << "pidfd_open " << pid << ": " << ::strerror(errno);
    return orphan;
  }
  pollfd ended = {pidfd, POLLIN, 0};
  if (::poll(&ended, 1, 60000) != 1) {
    ADD_FAILURE() << "orphan " << pid << " did not end within 60 s";
    ::kill(pid, SIGKILL);
  }
  ::close(pidfd);
  EXPECT_EQ(::waitpid(pid, &orphan.status, 0), pid) << ::strerror(errno);
  return orphan;
}

// The pid in "<prefix><pid>..." on one of `text`'s lines, or 0.
pid_t PidAfter(const std::string& text, const std::string& prefix) {
  for (const std::string& line : troupe::testing::Lines(text)) {
    if (line.rfind(prefix, 0) == 0) return std::atoi(line.c_str() + prefix.size());
  }
  return 0;
}

TEST(DieWithParentTest, KillsTheHostWhenItsParentEnds) {
  // Orphans come to this process, so the grandchild can be waited for.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
  // The middle probe starts one that arms DieWithParent against it and
  // reports ready, then exits.
  const ProbeResult middle = RunProbe({"--try", "orphan-armed"});
  ASSERT_TRUE(middle.exited && middle.exit_code == 0) << middle;
  const pid_t orphan = PidAfter(middle.out, "orphan-armed: child ");
  ASSERT_GT(orphan, 0) << middle;
  EXPECT_NE(middle.out.find("said block: ready " + std::to_string(orphan)), std::string::npos)
      << middle;
  const Orphan ended = WaitForOrphan(orphan);
  ASSERT_TRUE(WIFSIGNALED(ended.status)) << "status " << ended.status;
  EXPECT_EQ(WTERMSIG(ended.status), SIGKILL);
}

TEST(DieWithParentTest, FailsWhenTheParentEndedBeforeTheRequest) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
  // The grandchild waits for EOF on a pipe the middle probe holds, i.e. for
  // the middle probe to end, and only then calls DieWithParent. Its output
  // goes to the same pipe as the middle probe's, so RunProbe returns after
  // both ended.
  const ProbeResult both = RunProbe({"--try", "orphan-late"});
  int orphan = 0, middle = 0;
  for (const std::string& line : troupe::testing::Lines(both.out)) {
    std::sscanf(line.c_str(), "orphan-late: child %d of %d", &orphan, &middle);
  }
  ASSERT_GT(orphan, 0) << both;
  ASSERT_GT(middle, 0) << both;
  const Orphan ended = WaitForOrphan(orphan);
  ASSERT_TRUE(WIFEXITED(ended.status)) << "status " << ended.status;
  EXPECT_EQ(WEXITSTATUS(ended.status), 10) << both;  // a step failed
  // Re-parented to this process, the subreaper.
  EXPECT_TRUE(both.Has("step parent: FAILED_PRECONDITION: parent death signal: parent " +
                       std::to_string(middle) + " has ended (the parent is now " +
                       std::to_string(::getpid()) + ")"))
      << both;
}

TEST(DieWithParentTest, ArmsTheSignalWhileTheParentLives) {
  const ProbeResult result = RunProbe({"--step", "parent", "--try", "pdeathsig"});
  EXPECT_TRUE(result.Has("pdeathsig: " + std::to_string(SIGKILL))) << result;
  const ProbeResult control = RunProbe({"--try", "pdeathsig"});
  EXPECT_TRUE(control.Has("pdeathsig: 0")) << control;
}

TEST(DieWithParentTest, RefusesANonPid) {
  const absl::Status status = DieWithParent(-5);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(), "parent death signal: -5 is not a parent pid");
}

TEST(CountThreadsTest, CountsEveryThread) {
  // Two threads, counted with one and with both running. (ThreadSanitizer
  // starts a thread of its own with the first one: compare the two counts.)
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> first_started, second_started;
  std::thread first([&] {
    first_started.set_value();
    released.wait();
  });
  first_started.get_future().wait();
  const absl::StatusOr<int> with_one = CountThreads();
  std::thread second([&] {
    second_started.set_value();
    released.wait();
  });
  second_started.get_future().wait();
  const absl::StatusOr<int> with_two = CountThreads();
  const absl::Status single = RequireSingleThread("landlock");
  release.set_value();
  first.join();
  second.join();
  ASSERT_OK(with_one);
  ASSERT_OK(with_two);
  EXPECT_GE(*with_one, 2);
  EXPECT_EQ(*with_two, *with_one + 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(single)) << single;
  EXPECT_NE(single.message().find("landlock: the process has " + std::to_string(*with_two) +
                                  " threads; this step confines the calling thread only"),
            std::string::npos)
      << single;
}

}  // namespace
}  // namespace troupe::confinement
