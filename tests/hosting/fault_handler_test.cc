// Tests of the fatal-signal handler (InstallFaultHandler, crash_record.h)
// with real faults: each test forks a child (this binary starts no threads,
// so the fork is safe), which installs the handler, points it at a running
// file, marks a thread as running the code of bundle kHash and faults; the
// parent waits for the child's death and reads what the handler wrote.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "daemon/hosting/bundle_host.h"
#include "daemon/hosting/crash_record.h"
#include "daemon/runtime/actor_class.h"
#include "tests/common/temp_dir.h"

namespace troupe::hosting {
namespace {

const std::string kHash =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct Death {
  int signal = 0;      // the signal that ended the child; 0 when it exited
  std::string running;  // the running file afterwards
};

// Runs `fault` in a child whose fault handler appends to a fresh running
// file; `ready`, when set, is called in the parent once the child wrote a
// byte to the pipe whose write end `fault` gets.
Death DieInChild(const std::function<void(int ready_fd)>& fault,
                 const std::function<void(pid_t child)>& ready = {}) {
  troupe::testing::TempDir dir("fault_handler");
  const std::string path = dir.path() + "/running";
  std::ofstream(path) << "started 1\n";
  int pipe_fds[2];
  EXPECT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_fds[0]);
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);  // no core files from the tests
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || !InstallFaultHandler().ok()) ::_exit(2);
    ExchangeFaultRecord(fd);
    fault(pipe_fds[1]);
    ::_exit(3);  // the fault did not kill it
  }
  ::close(pipe_fds[1]);
  EXPECT_GT(child, 0);
  if (ready) {
    char byte;
    EXPECT_EQ(::read(pipe_fds[0], &byte, 1), 1);
    ready(child);
  }
  ::close(pipe_fds[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, 0), child);
  Death death;
  if (WIFSIGNALED(status)) {
    death.signal = WTERMSIG(status);
  } else {
    ADD_FAILURE() << "the child exited with " << WEXITSTATUS(status);
  }
  death.running = ReadFile(path);
  return death;
}

void SignalReady(int ready_fd) {
  const char byte = 1;
  if (::write(ready_fd, &byte, 1) != 1) ::_exit(4);
}

TEST(FaultHandlerTest, AnAbortInBundleCodeLeavesAFaultLineAndStillKills) {
  Death death = DieInChild([](int) {
    runtime::BundleCodeScope running(kHash.c_str());
    std::abort();
  });
  EXPECT_EQ(death.signal, SIGABRT);
  EXPECT_EQ(death.running, "started 1\nfault " + kHash + " 6\n");
}

TEST(FaultHandlerTest, ASegfaultInBundleCodeOnAnotherThreadLeavesAFaultLine) {
  Death death = DieInChild([](int) {
    // A page nobody may touch: a real SIGSEGV, which UBSan (unlike a store
    // through a null pointer) does not stop first.
    void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) std::_Exit(3);
    std::thread worker([page] {
      runtime::BundleCodeScope running(kHash.c_str());
      *static_cast<volatile int*>(page) = 1;
    });
    worker.join();
  });
  EXPECT_EQ(death.signal, SIGSEGV);
  EXPECT_EQ(death.running, "started 1\nfault " + kHash + " 11\n");
}

volatile bool keep_recursing = true;

[[gnu::noinline]] int Recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  int below = keep_recursing ? Recurse(depth + 1) : 0;
  return below + frame[0];
}

// The handler runs on the alternate stack the bundle code mark gave the
// thread: the thread's own stack is used up.
TEST(FaultHandlerTest, AStackOverflowInBundleCodeLeavesAFaultLine) {
  Death death = DieInChild([](int) {
    std::thread worker([] {
      runtime::BundleCodeScope running(kHash.c_str());
      (void)Recurse(0);
    });
    worker.join();
  });
  EXPECT_EQ(death.signal, SIGSEGV);
  EXPECT_EQ(death.running, "started 1\nfault " + kHash + " 11\n");
}

TEST(FaultHandlerTest, AnAbortOutsideBundleCodeChargesNobody) {
  Death death = DieInChild([](int) {
    { runtime::BundleCodeScope running(kHash.c_str()); }  // the bundle's call is over
    std::abort();
  });
  EXPECT_EQ(death.signal, SIGABRT);
  EXPECT_EQ(death.running, "started 1\n");
}

// `kill -ABRT` (or a stop timeout's SIGABRT) is not the bundle's doing, even
// while its code runs.
TEST(FaultHandlerTest, ASignalFromAnotherProcessChargesNobody) {
  Death death = DieInChild(
      [](int ready_fd) {
        runtime::BundleCodeScope running(kHash.c_str());
        SignalReady(ready_fd);
        for (;;) ::pause();
      },
      [](pid_t child) { ::kill(child, SIGABRT); });
  EXPECT_EQ(death.signal, SIGABRT);
  EXPECT_EQ(death.running, "started 1\n");
}

}  // namespace
}  // namespace troupe::hosting
