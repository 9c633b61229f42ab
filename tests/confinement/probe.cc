// probe.cc - confinement_probe: applies confinement steps to itself, then
// tries operations and prints one line per operation. Confinement cannot be
// undone, so the tests (confinement_test) run each case in a fresh probe.
//
//   confinement_probe [--step STEP]... [options] --try OP[=ARG]...
//
// Steps, applied in the order given: parent (DieWithParent), nnp
// (ForbidNewPrivileges), rlimits (ApplyResourceLimits), user or user=NAME
// (RunAsUser), landlock (RestrictFiles), seccomp (InstallSyscallFilter), all
// (ApplyAll).
// Options: --expected-parent PID (default: the parent at start),
// --memory-bytes N, --cpu-seconds N, --open-files N, --user NAME,
// --read-only PATH, --read-write PATH, --kill-on-refused, --allow-file-writes,
// --require-landlock; before the steps: --wait-eof FD (read FD until EOF),
// --start-thread (leave a second thread running), --ignore-sigxcpu.
//
// Each operation prints "<op>[ <arg>]: ok[ detail]" or "<op>[ <arg>]: errno
// <NAME>" (or another outcome it names). Exit status: 0 when every operation succeeded,
// 1 when one failed, 10 when a step failed ("step <name>: <status>"), 64 for
// a bad command line.
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/confinement/confinement_policy.h"
#include "daemon/confinement/file_access.h"
#include "daemon/confinement/process_attributes.h"
#include "daemon/confinement/resource_limits.h"
#include "daemon/confinement/run_as_user.h"
#include "daemon/confinement/syscall_filter.h"

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer's exit-time check needs ptrace and a non-thread clone, which
// the syscall filter refuses (syscall_filter.h).
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }
#endif

namespace {

namespace confinement = troupe::confinement;

struct Options {
  std::vector<std::string> steps;
  pid_t expected_parent = 0;
  confinement::ResourceLimits limits;
  std::string user = "nobody";
  confinement::FileAccess files;
  bool kill_on_refused = false;
  bool allow_file_writes = false;
  bool require_landlock = false;
  int wait_eof_fd = -1;
  bool start_thread = false;
  bool ignore_sigxcpu = false;
  std::vector<std::string> ops;  // "name" or "name=argument"
};

// Prints `line` at once (a later abort or kill loses nothing).
void Say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

std::string ErrnoName(int error) {
  const char* name = ::strerrorname_np(error);
  return name != nullptr ? name : std::to_string(error);
}

// "<op>: ok[ detail]" when `ok`, else "<op>: errno <NAME>" with `error`;
// returns `ok`.
bool ReportError(const std::string& op, bool ok, int error, const std::string& detail = "") {
  if (ok) {
    Say(op + ": ok" + (detail.empty() ? "" : " " + detail));
  } else {
    Say(op + ": errno " + ErrnoName(error));
  }
  return ok;
}

// ReportError with the errno of the call that computed `ok`: it is read
// here, after every argument (the call among them) has been evaluated.
bool Report(const std::string& op, bool ok, const std::string& detail = "") {
  return ReportError(op, ok, errno, detail);
}

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (flag == "--step") {
      options->steps.push_back(value());
    } else if (flag == "--expected-parent") {
      options->expected_parent = std::atoi(value().c_str());
    } else if (flag == "--memory-bytes") {
      options->limits.memory_bytes = std::strtoull(value().c_str(), nullptr, 10);
    } else if (flag == "--cpu-seconds") {
      options->limits.cpu_seconds = std::strtoull(value().c_str(), nullptr, 10);
    } else if (flag == "--open-files") {
      options->limits.open_files = std::strtoull(value().c_str(), nullptr, 10);
    } else if (flag == "--user") {
      options->user = value();
    } else if (flag == "--read-only") {
      options->files.read_only_paths.push_back(value());
    } else if (flag == "--read-write") {
      options->files.read_write_paths.push_back(value());
    } else if (flag == "--kill-on-refused") {
      options->kill_on_refused = true;
    } else if (flag == "--allow-file-writes") {
      options->allow_file_writes = true;
    } else if (flag == "--require-landlock") {
      options->require_landlock = true;
    } else if (flag == "--wait-eof") {
      options->wait_eof_fd = std::atoi(value().c_str());
    } else if (flag == "--start-thread") {
      options->start_thread = true;
    } else if (flag == "--ignore-sigxcpu") {
      options->ignore_sigxcpu = true;
    } else if (flag == "--try") {
      options->ops.push_back(value());
    } else {
      std::fprintf(stderr, "confinement_probe: unknown option %s\n", flag.c_str());
      return false;
    }
  }
  return !options->ops.empty();
}

confinement::SyscallFilterOptions FilterOptions(const Options& options) {
  confinement::SyscallFilterOptions filter;
  if (options.kill_on_refused) filter.on_refused = confinement::RefusedSyscallAction::kKillProcess;
  filter.allow_file_writes = options.allow_file_writes;
  return filter;
}

// Applies one step; prints "step <name>: <status>" and returns false on an error.
bool ApplyStep(const std::string& step, const Options& options) {
  absl::Status status;
  if (step == "parent") {
    status = confinement::DieWithParent(options.expected_parent);
  } else if (step == "nnp") {
    status = confinement::ForbidNewPrivileges();
  } else if (step == "rlimits") {
    status = confinement::ApplyResourceLimits(options.limits);
  } else if (step == "user") {
    status = confinement::RunAsUser(options.user);
  } else if (step.rfind("user=", 0) == 0) {
    status = confinement::RunAsUser(step.substr(5));
  } else if (step == "landlock") {
    status = confinement::RestrictFiles(options.files);
  } else if (step == "seccomp") {
    status = confinement::InstallSyscallFilter(FilterOptions(options));
  } else if (step == "all") {
    confinement::ConfinementPolicy policy;
    policy.parent = options.expected_parent;
    policy.limits = options.limits;
    policy.user = options.user;
    policy.files = options.files;
    policy.require_landlock = options.require_landlock;
    if (options.kill_on_refused) {
      policy.on_refused_syscall = confinement::RefusedSyscallAction::kKillProcess;
    }
    absl::StatusOr<confinement::ConfinementReport> report = confinement::ApplyAll(policy);
    status = report.status();
    if (report.ok()) {
      for (const std::string& skipped : report->skipped) Say("skipped: " + skipped);
      Say("landlock abi: " + std::to_string(report->landlock_abi));
      Say(std::string("user changed: ") + (report->user_changed ? "yes" : "no"));
      Say(std::string("file writes: ") + (report->file_writes_allowed ? "yes" : "no"));
    }
  } else {
    Say("step " + step + ": unknown step");
    return false;
  }
  if (!status.ok()) {
    Say("step " + step + ": " + status.ToString());
    return false;
  }
  return true;
}

// The calls the syscall filter must refuse, with arguments that do no harm
// when a call is not refused (invalid descriptors, null pointers, no-op
// values), so a broken filter shows up as a wrong line, not as damage.
struct RefusedCall {
  const char* name;
  std::function<long()> call;
};

std::vector<RefusedCall> RefusedCalls() {
  const pid_t parent = ::getppid();
  return {
    {"socket", [] { return ::syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0); }},
        {"socketpair",
         [] {
           int fds[2];
           return ::syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, fds);
         }},
        {"connect", [] { return ::syscall(SYS_connect, -1, nullptr, 0); }},
        {"bind", [] { return ::syscall(SYS_bind, -1, nullptr, 0); }},
        {"listen", [] { return ::syscall(SYS_listen, -1, 0); }},
        {"accept", [] { return ::syscall(SYS_accept, -1, nullptr, nullptr); }},
        {"accept4", [] { return ::syscall(SYS_accept4, -1, nullptr, nullptr, 0); }},
        {"execve", [] { return ::syscall(SYS_execve, nullptr, nullptr, nullptr); }},
        {"execveat", [] { return ::syscall(SYS_execveat, -1, "", nullptr, nullptr, 0); }},
        {"ptrace", [] { return ::syscall(SYS_ptrace, -1, 0, nullptr, nullptr); }},
        {"process_vm_readv",
         [parent] { return ::syscall(SYS_process_vm_readv, parent, nullptr, 0, nullptr, 0, 0); }},
        {"process_vm_writev",
         [parent] { return ::syscall(SYS_process_vm_writev, parent, nullptr, 0, nullptr, 0, 0); }},
        {"unshare", [] { return ::syscall(SYS_unshare, 0); }},
        {"setns", [] { return ::syscall(SYS_setns, -1, 0); }},
        {"mount", [] { return ::syscall(SYS_mount, nullptr, nullptr, nullptr, 0, nullptr); }},
        {"umount2", [] { return ::syscall(SYS_umount2, nullptr, 0); }},
        {"chroot", [] { return ::syscall(SYS_chroot, nullptr); }},
        {"pivot_root", [] { return ::syscall(SYS_pivot_root, nullptr, nullptr); }},
        {"bpf", [] { return ::syscall(SYS_bpf, -1, nullptr, 0); }},
        {"perf_event_open", [] { return ::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }},
        {"keyctl", [] { return ::syscall(SYS_keyctl, -1, 0, 0, 0, 0); }},
        {"add_key", [] { return ::syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, 0); }},
        {"request_key", [] { return ::syscall(SYS_request_key, nullptr, nullptr, nullptr, 0); }},
        {"init_module", [] { return ::syscall(SYS_init_module, nullptr, 0, nullptr); }},
        {"finit_module", [] { return ::syscall(SYS_finit_module, -1, nullptr, 0); }},
        {"delete_module", [] { return ::syscall(SYS_delete_module, nullptr, 0); }},
        // Invalid flags: refused before anything is loaded or unloaded.
        {"kexec_load", [] { return ::syscall(SYS_kexec_load, 0, 0, nullptr, 0xffffffffUL); }},
        {"kexec_file_load",
         [] { return ::syscall(SYS_kexec_file_load, -1, -1, 0, nullptr, 0xffffffffUL); }},
        {"reboot", [] { return ::syscall(SYS_reboot, 0, 0, 0, nullptr); }},  // bad magic
        {"swapon", [] { return ::syscall(SYS_swapon, nullptr, 0); }},
        {"io_uring_setup", [] { return ::syscall(SYS_io_uring_setup, 0, nullptr); }},
        {"io_uring_enter", [] { return ::syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0); }},
        {"userfaultfd", [] { return ::syscall(SYS_userfaultfd, ~0); }},
        {"personality", [] { return ::syscall(SYS_personality, 0xffffffffUL); }},  // a query
        {"setuid", [] { return ::syscall(SYS_setuid, -1); }},
        {"setgid", [] { return ::syscall(SYS_setgid, -1); }},
        {"setresuid", [] { return ::syscall(SYS_setresuid, -1, -1, -1); }},  // no change
        {"setgroups", [] { return ::syscall(SYS_setgroups, -1, nullptr); }},
        {"capset", [] { return ::syscall(SYS_capset, nullptr, nullptr); }},
        {"pipe2", [] { return ::syscall(SYS_pipe2, nullptr, 0); }},
        {"wait4", [] { return ::syscall(SYS_wait4, -1, nullptr, WNOHANG, nullptr); }},
        {"kill parent", [parent] { return ::syscall(SYS_kill, parent, 0); }},
        {"tgkill parent", [parent] { return ::syscall(SYS_tgkill, parent, parent, 0); }},
        {"tkill", [] { return ::syscall(SYS_tkill, ::gettid(), 0); }},
        {"prlimit64 set",
         [] {
           rlimit current{};
           ::getrlimit(RLIMIT_CORE, &current);  // set to what it is: no change
           return ::syscall(SYS_prlimit64, 0, RLIMIT_CORE, &current, nullptr);
         }},
        {"prlimit64 parent",
         [parent] {
           rlimit old{};
           return ::syscall(SYS_prlimit64, parent, RLIMIT_CORE, nullptr, &old);
         }},
        {"fcntl F_SETOWN", [] { return ::syscall(SYS_fcntl, 1, F_SETOWN, 0); }},
        {"ioctl TIOCSTI", [] { return ::syscall(SYS_ioctl, 2, TIOCSTI, "x"); }},
        {"prctl PR_SET_DUMPABLE",
         [] { return ::syscall(SYS_prctl, PR_SET_DUMPABLE, ::prctl(PR_GET_DUMPABLE), 0, 0, 0); }},
        {"chmod", [] { return ::syscall(SYS_chmod, nullptr, 0); }},
        {"mknodat", [] { return ::syscall(SYS_mknodat, AT_FDCWD, nullptr, 0, 0); }},
        {"shmget", [] { return ::syscall(SYS_shmget, IPC_PRIVATE, 0, 0); }},
        {"open_by_handle_at", [] { return ::syscall(SYS_open_by_handle_at, -1, nullptr, 0); }},
#if defined(__x86_64__)
        // The x32 ABI's number for getpid: another architecture for the filter.
        {"x32 getpid", [] { return ::syscall(0x40000000 | SYS_getpid); }},
#endif
        // These two fail with ENOSYS, so that libc falls back to clone / openat.
        {"clone3", [] { return ::syscall(SYS_clone3, nullptr, 0); }},
        {"openat2", [] { return ::syscall(SYS_openat2, AT_FDCWD, "/", nullptr, 0); }},
  };
}

std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, n);
  return text;
}

// Starts this program again with `args`; its stdout and stderr go to
// `output_fd` when >= 0. Returns the pid or -1.
pid_t SpawnProbe(const std::vector<std::string>& args, int output_fd,
                 posix_spawn_file_actions_t* actions_in = nullptr) {
  static char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return -1;
  self[n] = '\0';
  std::vector<std::string> all = {self};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t own;
  posix_spawn_file_actions_t* actions = actions_in;
  if (actions == nullptr) {
    posix_spawn_file_actions_init(&own);
    actions = &own;
  }
  if (output_fd >= 0) {
    posix_spawn_file_actions_adddup2(actions, output_fd, 1);
    posix_spawn_file_actions_adddup2(actions, output_fd, 2);
  }
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, self, actions, nullptr, argv.data(), environ);
  if (actions == &own) posix_spawn_file_actions_destroy(&own);
  return rc == 0 ? pid : -1;
}

// The library bytes copied into a memfd before confinement (dlopen-memfd).
int g_memfd = -1;
// The block of the "new" operation.
char* volatile g_block = nullptr;

// Work an operation must do before the steps (while files are still open).
bool Prepare(const std::string& name, const std::string& arg) {
  if (name == "dlopen-memfd") {
    const int in = ::open(arg.c_str(), O_RDONLY | O_CLOEXEC);
    g_memfd = ::memfd_create("probe_library", MFD_CLOEXEC);
    if (in < 0 || g_memfd < 0) return Report("dlopen-memfd prepare", false);
    const std::string bytes = ReadAll(in);
    ::close(in);
    if (::write(g_memfd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
      return Report("dlopen-memfd prepare", false);
    }
  }
  return true;
}

bool DlopenAndCall(const std::string& op, const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    Say(op + ": dlopen failed: " + ::dlerror());
    return false;
  }
  auto* answer = reinterpret_cast<int (*)()>(::dlsym(handle, "troupe_confinement_probe_answer"));
  if (answer == nullptr) {
    Say(op + ": dlsym failed");
    return false;
  }
  const int value = answer();
  Say(op + ": ok " + std::to_string(value));
  return value == 42;
}

// "<name> <soft>/<hard>" of one rlimit ("inf" for no limit).
std::string DescribeLimit(const char* name, int resource) {
  rlimit limit{};
  ::getrlimit(resource, &limit);
  auto text = [](rlim_t value) {
    return value == RLIM_INFINITY ? std::string("inf") : std::to_string(value);
  };
  return std::string(name) + " " + text(limit.rlim_cur) + "/" + text(limit.rlim_max);
}

// Runs one operation; returns whether it succeeded. `op` labels its line.
bool Try(const std::string& name, const std::string& arg) {
  const std::string op = arg.empty() ? name : name + " " + arg;
  if (name == "socket") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    return Report(op, fd >= 0);
  }
  if (name == "socketpair") {
    int fds[2];
    return Report(op, ::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  }
  if (name == "execve") {
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    ::execve("/bin/true", argv, environ);
    return Report(op, false);  // only reached when refused
  }
  if (name == "fork") {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    return Report(op, pid > 0);
  }
  if (name == "spawn") {
    pid_t pid = -1;
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    const int rc = ::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ);
    return ReportError(op, rc == 0, rc);
  }
  if (name == "ptrace") {
    return Report(op, ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0);
  }
  if (name == "kill-parent") {
    return Report(op, ::kill(::getppid(), 0) == 0);
  }
  if (name == "kill-self") {
    return Report(op, ::kill(::getpid(), 0) == 0);
  }
  if (name == "open-write") {
    const int fd = ::open(arg.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Report(op, false);
    const bool written = ::write(fd, "probe\n", 6) == 6;
    const int error = errno;
    ::close(fd);
    return ReportError(op, written, error);
  }
  if (name == "open-read") {
    const int fd = ::open(arg.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Report(op, false);
    const std::string text = ReadAll(fd);
    ::close(fd);
    return Report(op, true, std::to_string(text.size()) + " bytes");
  }
  if (name == "list-dir") {
    DIR* dir = ::opendir(arg.c_str());
    if (dir == nullptr) return Report(op, false);
    int entries = 0;
    while (::readdir(dir) != nullptr) ++entries;
    ::closedir(dir);
    return Report(op, true, std::to_string(entries) + " entries");
  }
  if (name == "thread") {
    std::atomic<int> value{0};
    std::thread thread([&value] { value.store(42); });
    thread.join();
    return Report(op, value.load() == 42, std::to_string(value.load()));
  }
  if (name == "malloc") {
    // One small block from the heap and one large enough to be mmapped.
    void* small = std::malloc(1 << 10);
    void* large = std::malloc(64 << 20);
    const bool ok = small != nullptr && large != nullptr;
    if (ok) std::memset(large, 1, 64 << 20);
    std::free(small);
    std::free(large);
    return ReportError(op, ok, ENOMEM);
  }
  if (name == "condvar") {
    std::mutex mu;
    std::condition_variable cv;
    bool flag = false;
    std::unique_lock<std::mutex> lock(mu);
    // Nobody signals: the wait must end by its timeout.
    const bool timed_out = !cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return flag; });
    // Then a thread signals: the wait must end by the signal.
    std::thread signaller([&] {
      std::lock_guard<std::mutex> guard(mu);
      flag = true;
      cv.notify_one();
    });
    const bool woken = cv.wait_for(lock, std::chrono::seconds(30), [&] { return flag; });
    lock.unlock();
    signaller.join();
    return Report(op, timed_out && woken,
                  std::string("timed out ") + (timed_out ? "yes" : "no") + ", woken " +
                      (woken ? "yes" : "no"));
  }
  if (name == "stderr") {
    troupe::LogInfo("confinement probe: stderr still works");
    return Report(op, true);
  }
  if (name == "abort") {
    Say("abort: calling abort()");
    std::abort();
  }
  if (name == "dlopen") return DlopenAndCall(op, arg);
  if (name == "dlopen-memfd") {
    return DlopenAndCall(op, "/proc/self/fd/" + std::to_string(g_memfd));
  }
  if (name == "alloc") {
    const size_t bytes = std::strtoull(arg.c_str(), nullptr, 10);
    void* block = std::malloc(bytes);
    const int error = errno;
    std::free(block);
    return ReportError(op, block != nullptr, error);
  }
  if (name == "new") {
    const size_t bytes = std::strtoull(arg.c_str(), nullptr, 10);
    try {
      // Kept in a volatile so that the compiler cannot elide the pair.
      g_block = new char[bytes];
      delete[] g_block;
      return Report(op, true);
    } catch (const std::bad_alloc&) {
      Say(op + ": bad_alloc");
      return false;
    }
  }
  if (name == "open-many") {
    const int wanted = std::atoi(arg.c_str());
    int opened = 0;
    while (opened < wanted && ::open("/dev/null", O_RDONLY) >= 0) ++opened;
    if (opened == wanted) return Report(op, true, std::to_string(opened));
    Say(op + ": opened " + std::to_string(opened) + " then errno " + ErrnoName(errno));
    return false;
  }
  if (name == "cpu-burn") {
    // Burns CPU until RLIMIT_CPU ends the process; gives up after 60 s of
    // wall time so that a broken limit fails the test instead of hanging it.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    volatile uint64_t sink = 0;
    while (std::chrono::steady_clock::now() < give_up) {
      for (int i = 0; i < 1000000; ++i) sink = sink + i;
    }
    Say(op + ": not stopped after 60 s");
    return false;
  }
  if (name == "no-new-privs") {
    Say(op + ": " + std::to_string(::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)));
    return true;
  }
  if (name == "pdeathsig") {
    int signal = -1;
    ::prctl(PR_GET_PDEATHSIG, &signal, 0, 0, 0);
    Say(op + ": " + std::to_string(signal));
    return true;
  }
  if (name == "ids") {
    Say(op + ": uid " + std::to_string(::getuid()) + " euid " + std::to_string(::geteuid()) +
        " gid " + std::to_string(::getgid()) + " egid " + std::to_string(::getegid()) + " groups " +
        std::to_string(::getgroups(0, nullptr)));
    return true;
  }
  if (name == "setuid-root") {
    return Report(op, ::setuid(0) == 0);
  }
  if (name == "raw-refused") {
    bool all_refused = true;
    for (const RefusedCall& call : RefusedCalls()) {
      const long rc = call.call();
      if (rc == -1) {
        Say(std::string("raw ") + call.name + ": errno " + ErrnoName(errno));
      } else {
        Say(std::string("raw ") + call.name + ": returned " + std::to_string(rc));
        all_refused = false;
      }
    }
    return all_refused;
  }
  if (name == "block") {
    // Waits to be killed; gives up after 60 s so that a test whose kill did
    // not come fails instead of hanging.
    Say(op + ": ready " + std::to_string(::getpid()));
    ::poll(nullptr, 0, 60000);
    Say(op + ": not killed after 60 s");
    return false;
  }
  if (name == "orphan-armed") {
    // Starts a probe that arms DieWithParent against us and blocks; exits as
    // soon as that probe is ready, which must kill it.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Report(op, false);
    const pid_t child = SpawnProbe(
        {"--step", "parent", "--expected-parent", std::to_string(::getpid()), "--try", "block"},
        fds[1]);
    ::close(fds[1]);
    if (child < 0) return Report(op, false);
    std::string line;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    Say(op + ": child " + std::to_string(child) + " said " + line);
    return true;  // exit now, leaving the child with its read end closed
  }
  if (name == "orphan-late") {
    // Starts a probe that waits until we have exited and only then arms
    // DieWithParent against us: it must see that we are gone.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Report(op, false);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], 3);  // dup2 clears O_CLOEXEC
    const pid_t child = SpawnProbe({"--wait-eof", "3", "--step", "parent", "--expected-parent",
                                    std::to_string(::getpid()), "--try", "pdeathsig"},
                                   -1, &actions);
    posix_spawn_file_actions_destroy(&actions);
    if (child < 0) return Report(op, false);
    Say(op + ": child " + std::to_string(child) + " of " + std::to_string(::getpid()));
    return true;  // exiting closes fds[1]: the child's EOF
  }
  if (name == "limits") {
    Say(op + ": " + DescribeLimit("as", RLIMIT_AS) + " " + DescribeLimit("cpu", RLIMIT_CPU) + " " +
        DescribeLimit("nofile", RLIMIT_NOFILE) + " " + DescribeLimit("core", RLIMIT_CORE));
    return true;
  }
  if (name == "connect-tcp") {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Report(op, false);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::atoi(arg.c_str())));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool connected =
        ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    const int error = errno;
    ::close(fd);
    return ReportError(op, connected, error);
  }
  Say(op + ": unknown operation");
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr, "usage: confinement_probe [--step STEP]... [options] --try OP[=ARG]...\n");
    return 64;
  }
  if (options.expected_parent == 0) options.expected_parent = ::getppid();
  if (options.ignore_sigxcpu) ::signal(SIGXCPU, SIG_IGN);

  std::vector<std::pair<std::string, std::string>> ops;
  for (const std::string& op : options.ops) {
    const size_t equals = op.find('=');
    ops.emplace_back(op.substr(0, equals),
                     equals == std::string::npos ? "" : op.substr(equals + 1));
  }
  for (const auto& [name, arg] : ops) {
    if (!Prepare(name, arg)) return 1;
  }
  if (options.wait_eof_fd >= 0) {
    ReadAll(options.wait_eof_fd);
    ::close(options.wait_eof_fd);
  }
  // A second thread for the steps that must refuse a multi-threaded process;
  // it waits until main exits.
  if (options.start_thread) std::thread([] { ::pause(); }).detach();

  for (const std::string& step : options.steps) {
    if (!ApplyStep(step, options)) return 10;
  }
  bool all_ok = true;
  for (const auto& [name, arg] : ops) all_ok = Try(name, arg) && all_ok;
  return all_ok ? 0 : 1;
}
