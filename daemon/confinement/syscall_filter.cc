// syscall_filter.cc - the seccomp allowlist (see syscall_filter.h for the
// list and why).
#include "daemon/confinement/syscall_filter.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>

#include "daemon/common/posix_io.h"
#include "daemon/common/strings.h"

namespace troupe::confinement {
namespace {

// When an allowlisted syscall is allowed.
enum class When {
  kAlways,
  kThreadClone,     // clone: CLONE_THREAD set, no CLONE_NEW* flag
  kReadOnlyOpen1,   // open: flags (argument 1) without write or create bits
  kReadOnlyOpen2,   // openat: flags (argument 2) likewise
  kAtSelf,          // kill, tgkill: argument 0 is the host's pid
  kReadOwnLimits,   // prlimit64: pid 0, no new limit
  kFcntlCommand,    // fcntl: argument 1 in kFcntlCommands
  kIoctlRequest,    // ioctl: argument 1 in kIoctlRequests
  kPrctlOption,     // prctl: argument 0 in kPrctlOptions
  kFileWrites,      // only with allow_file_writes
  kFailWithEnosys,  // not allowed, but fails with ENOSYS so libc falls back
  kSanitizerBuild,  // only in builds with sanitizers (their runtimes need it)
};

struct Entry {
  const char* name;
  When when;
};

// The allowlist; syscall_filter.h explains it by group. Names of other
// architectures (…64, …_time64, …32) keep the list arch-neutral.
constexpr Entry kAllowlist[] = {
    // threads
    {"clone", When::kThreadClone},
    {"clone3", When::kFailWithEnosys},
    {"futex", When::kAlways},
    {"futex_time64", When::kAlways},
    {"futex_waitv", When::kAlways},
    {"set_robust_list", When::kAlways},
    {"set_tid_address", When::kAlways},
    {"rseq", When::kAlways},
    {"membarrier", When::kAlways},
    {"gettid", When::kAlways},
    {"sched_yield", When::kAlways},
    {"sched_getaffinity", When::kAlways},
    {"getcpu", When::kAlways},
    // memory
    {"brk", When::kAlways},
    {"mmap", When::kAlways},
    {"mmap2", When::kAlways},
    {"munmap", When::kAlways},
    {"mremap", When::kAlways},
    {"mprotect", When::kAlways},
    {"madvise", When::kAlways},
    {"mincore", When::kAlways},
    {"msync", When::kAlways},
    // descriptors
    {"read", When::kAlways},
    {"readv", When::kAlways},
    {"pread64", When::kAlways},
    {"preadv", When::kAlways},
    {"preadv2", When::kAlways},
    {"write", When::kAlways},
    {"writev", When::kAlways},
    {"pwrite64", When::kAlways},
    {"pwritev", When::kAlways},
    {"pwritev2", When::kAlways},
    {"lseek", When::kAlways},
    {"_llseek", When::kAlways},
    {"close", When::kAlways},
    {"close_range", When::kAlways},
    {"dup", When::kAlways},
    {"dup2", When::kAlways},
    {"dup3", When::kAlways},
    {"fcntl", When::kFcntlCommand},
    {"fcntl64", When::kFcntlCommand},
    {"ioctl", When::kIoctlRequest},
    {"fstat", When::kAlways},
    {"fstat64", When::kAlways},
    {"stat", When::kAlways},
    {"stat64", When::kAlways},
    {"lstat", When::kAlways},
    {"lstat64", When::kAlways},
    {"newfstatat", When::kAlways},
    {"fstatat64", When::kAlways},
    {"statx", When::kAlways},
    {"statfs", When::kAlways},
    {"statfs64", When::kAlways},
    {"fstatfs", When::kAlways},
    {"fstatfs64", When::kAlways},
    {"getdents", When::kAlways},
    {"getdents64", When::kAlways},
    {"readlink", When::kAlways},
    {"readlinkat", When::kAlways},
    {"access", When::kAlways},
    {"faccessat", When::kAlways},
    {"faccessat2", When::kAlways},
    {"getcwd", When::kAlways},
    {"fadvise64", When::kAlways},
    {"fadvise64_64", When::kAlways},
    {"flock", When::kAlways},
    {"ftruncate", When::kAlways},
    {"ftruncate64", When::kAlways},
    {"fsync", When::kAlways},
    {"fdatasync", When::kAlways},
    {"memfd_create", When::kAlways},
    // files
    {"open", When::kReadOnlyOpen1},
    {"openat", When::kReadOnlyOpen2},
    {"openat2", When::kFailWithEnosys},
    {"creat", When::kFileWrites},
    {"mkdir", When::kFileWrites},
    {"mkdirat", When::kFileWrites},
    {"rmdir", When::kFileWrites},
    {"unlink", When::kFileWrites},
    {"unlinkat", When::kFileWrites},
    {"rename", When::kFileWrites},
    {"renameat", When::kFileWrites},
    {"renameat2", When::kFileWrites},
    {"fallocate", When::kFileWrites},
    // sanitizer runtimes test whether memory is readable by writing it into
    // a pipe (UBSan's vptr check, ASan's reports)
    {"pipe", When::kSanitizerBuild},
    {"pipe2", When::kSanitizerBuild},
    // sockets the host already has
    {"sendmsg", When::kAlways},
    {"recvmsg", When::kAlways},
    {"sendmmsg", When::kAlways},
    {"recvmmsg", When::kAlways},
    {"recvmmsg_time64", When::kAlways},
    {"sendto", When::kAlways},
    {"recvfrom", When::kAlways},
    {"shutdown", When::kAlways},
    {"getsockopt", When::kAlways},
    {"setsockopt", When::kAlways},
    {"getsockname", When::kAlways},
    {"getpeername", When::kAlways},
    // waiting
    {"poll", When::kAlways},
    {"ppoll", When::kAlways},
    {"ppoll_time64", When::kAlways},
    {"select", When::kAlways},
    {"_newselect", When::kAlways},
    {"pselect6", When::kAlways},
    {"pselect6_time64", When::kAlways},
    {"epoll_create", When::kAlways},
    {"epoll_create1", When::kAlways},
    {"epoll_ctl", When::kAlways},
    {"epoll_wait", When::kAlways},
    {"epoll_pwait", When::kAlways},
    {"epoll_pwait2", When::kAlways},
    {"eventfd", When::kAlways},
    {"eventfd2", When::kAlways},
    {"timerfd_create", When::kAlways},
    {"timerfd_settime", When::kAlways},
    {"timerfd_settime64", When::kAlways},
    {"timerfd_gettime", When::kAlways},
    {"timerfd_gettime64", When::kAlways},
    {"timer_create", When::kAlways},
    {"timer_settime", When::kAlways},
    {"timer_settime64", When::kAlways},
    {"timer_gettime", When::kAlways},
    {"timer_gettime64", When::kAlways},
    {"timer_getoverrun", When::kAlways},
    {"timer_delete", When::kAlways},
    {"nanosleep", When::kAlways},
    {"clock_nanosleep", When::kAlways},
    {"clock_nanosleep_time64", When::kAlways},
    {"alarm", When::kAlways},
    {"getitimer", When::kAlways},
    {"setitimer", When::kAlways},
    // signals
    {"rt_sigaction", When::kAlways},
    {"rt_sigprocmask", When::kAlways},
    {"rt_sigreturn", When::kAlways},
    {"sigreturn", When::kAlways},
    {"sigaltstack", When::kAlways},
    {"rt_sigpending", When::kAlways},
    {"rt_sigsuspend", When::kAlways},
    {"rt_sigtimedwait", When::kAlways},
    {"rt_sigtimedwait_time64", When::kAlways},
    {"kill", When::kAtSelf},
    {"tgkill", When::kAtSelf},
    // process
    {"exit", When::kAlways},
    {"exit_group", When::kAlways},
    {"restart_syscall", When::kAlways},
    {"getpid", When::kAlways},
    {"getppid", When::kAlways},
    {"getuid", When::kAlways},
    {"getuid32", When::kAlways},
    {"geteuid", When::kAlways},
    {"geteuid32", When::kAlways},
    {"getgid", When::kAlways},
    {"getgid32", When::kAlways},
    {"getegid", When::kAlways},
    {"getegid32", When::kAlways},
    {"getresuid", When::kAlways},
    {"getresuid32", When::kAlways},
    {"getresgid", When::kAlways},
    {"getresgid32", When::kAlways},
    {"getgroups", When::kAlways},
    {"getgroups32", When::kAlways},
    {"getrandom", When::kAlways},
    {"getrusage", When::kAlways},
    {"times", When::kAlways},
    {"uname", When::kAlways},
    {"sysinfo", When::kAlways},
    {"getpriority", When::kAlways},
    {"getrlimit", When::kAlways},
    {"ugetrlimit", When::kAlways},
    {"prlimit64", When::kReadOwnLimits},
    {"arch_prctl", When::kAlways},
    {"prctl", When::kPrctlOption},
    {"clock_gettime", When::kAlways},
    {"clock_gettime64", When::kAlways},
    {"clock_getres", When::kAlways},
    {"clock_getres_time64", When::kAlways},
    {"gettimeofday", When::kAlways},
    {"time", When::kAlways},
};

#if defined(TROUPE_CONFINEMENT_SANITIZER_BUILD)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif

// Bits of open's flags that write, create or truncate (O_TMPFILE without its
// O_DIRECTORY part).
constexpr uint64_t kWriteOpenFlags =
    O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY);
// clone flags a thread must have (CLONE_THREAD) and must not have.
constexpr uint64_t kCloneCheckedFlags = CLONE_THREAD | CLONE_NEWNS | CLONE_NEWCGROUP |
                                        CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                        CLONE_NEWNET;

constexpr uint64_t kFcntlCommands[] = {
    F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD,     F_SETFD,     F_GETFL,      F_SETFL,     F_GETLK,
    F_SETLK, F_SETLKW,        F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_ADD_SEALS, F_GET_SEALS,
};
constexpr uint64_t kIoctlRequests[] = {TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX};
constexpr uint64_t kPrctlOptions[] = {PR_SET_NAME,         PR_GET_NAME,      PR_SET_VMA,
                                      PR_GET_NO_NEW_PRIVS, PR_GET_PDEATHSIG, PR_GET_DUMPABLE};

// The kernel reads these arguments as 32-bit ints: compare their low half.
constexpr uint64_t kLow32 = 0xffffffffu;

const char* Describe(When when) {
  switch (when) {
    case When::kAlways:
      return "";
    case When::kThreadClone:
      return "flags with CLONE_THREAD and no CLONE_NEW* (threads only)";
    case When::kReadOnlyOpen1:
    case When::kReadOnlyOpen2:
      return "flags without O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_TMPFILE";
    case When::kAtSelf:
      return "aimed at the host's own pid";
    case When::kReadOwnLimits:
      return "own limits, read only";
    case When::kFcntlCommand:
      return "F_DUPFD(_CLOEXEC), F_GETFD, F_SETFD, F_GETFL, F_SETFL, locks, seals";
    case When::kIoctlRequest:
      return "TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX";
    case When::kPrctlOption:
      return "PR_SET_NAME, PR_GET_NAME, PR_SET_VMA, PR_GET_NO_NEW_PRIVS, PR_GET_PDEATHSIG, "
             "PR_GET_DUMPABLE";
    case When::kFileWrites:
      return "writes confined by landlock";
    case When::kFailWithEnosys:
      return "fails with ENOSYS (libc falls back)";
    case When::kSanitizerBuild:
      return "sanitizer builds only";
  }
  return "";
}

// The argument of clone that holds the flags: the first, except on s390,
// where the first two are swapped.
unsigned CloneFlagsArgument() {
  const uint32_t arch = seccomp_arch_native();
  return (arch == SCMP_ARCH_S390 || arch == SCMP_ARCH_S390X) ? 1 : 0;
}

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

// libseccomp's negative errno results as a Status naming `what`.
absl::Status Check(int rc, std::string_view what) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(StrCat("syscall filter: ", what, ": ", ErrnoText(-rc)));
}

// Adds the rules of one allowlist entry.
absl::Status AddEntry(scmp_filter_ctx ctx, const Entry& entry, const SyscallFilterOptions& options,
                      pid_t self) {
  const int nr = seccomp_syscall_resolve_name(entry.name);
  if (nr == __NR_SCMP_ERROR) {
    return absl::InternalError(
        StrCat("syscall filter: libseccomp does not know the syscall '", entry.name, "'"));
  }
  const std::string what = StrCat("allow '", entry.name, "'");
  auto allow = [&](unsigned count, const scmp_arg_cmp* conditions) {
    return Check(seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, count, conditions), what);
  };
  auto allow_each = [&](unsigned argument, const auto& values) -> absl::Status {
    for (const uint64_t value : values) {
      const scmp_arg_cmp condition = {argument, SCMP_CMP_MASKED_EQ, kLow32, value & kLow32};
      if (absl::Status added = allow(1, &condition); !added.ok()) return added;
    }
    return absl::OkStatus();
  };
  switch (entry.when) {
    case When::kAlways:
      return allow(0, nullptr);
    case When::kThreadClone: {
      const scmp_arg_cmp condition = {CloneFlagsArgument(), SCMP_CMP_MASKED_EQ, kCloneCheckedFlags,
                                      CLONE_THREAD};
      return allow(1, &condition);
    }
    case When::kReadOnlyOpen1:
    case When::kReadOnlyOpen2: {
      if (options.allow_file_writes) return allow(0, nullptr);
      const unsigned argument = entry.when == When::kReadOnlyOpen1 ? 1 : 2;
      const scmp_arg_cmp condition = {argument, SCMP_CMP_MASKED_EQ, kWriteOpenFlags, 0};
      return allow(1, &condition);
    }
    case When::kAtSelf: {
      const scmp_arg_cmp condition = {0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(self), 0};
      return allow(1, &condition);
    }
    case When::kReadOwnLimits: {
      const scmp_arg_cmp conditions[] = {{0, SCMP_CMP_EQ, 0, 0}, {2, SCMP_CMP_EQ, 0, 0}};
      return allow(2, conditions);
    }
    case When::kFcntlCommand:
      return allow_each(1, kFcntlCommands);
    case When::kIoctlRequest:
      return allow_each(1, kIoctlRequests);
    case When::kPrctlOption:
      return allow_each(0, kPrctlOptions);
    case When::kFileWrites:
      return options.allow_file_writes ? allow(0, nullptr) : absl::OkStatus();
    case When::kFailWithEnosys:
      return Check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0),
                   StrCat("ENOSYS for '", entry.name, "'"));
    case When::kSanitizerBuild:
      return kSanitizerBuild ? allow(0, nullptr) : absl::OkStatus();
  }
  return absl::InternalError(StrCat("syscall filter: no rule for '", entry.name, "'"));
}

}  // namespace

absl::Status InstallSyscallFilter(const SyscallFilterOptions& options) {
  const uint32_t refused = options.on_refused == RefusedSyscallAction::kKillProcess
                               ? SCMP_ACT_KILL_PROCESS
                               : SCMP_ACT_ERRNO(EPERM);
  Filter filter(seccomp_init(refused));
  if (filter == nullptr) {
    return absl::InternalError("syscall filter: libseccomp cannot make a filter (seccomp_init)");
  }
  scmp_filter_ctx ctx = filter.get();
  // Another architecture's numbers (x32, int 0x80 on x86-64) are refused alike.
  if (absl::Status s = Check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, refused),
                             "action for other architectures");
      !s.ok()) {
    return s;
  }
  // Every thread, or none: the load fails if a thread cannot be synchronised.
  if (absl::Status s = Check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1), "thread sync");
      !s.ok()) {
    return s;
  }
  const pid_t self = ::getpid();
  for (const Entry& entry : kAllowlist) {
    if (absl::Status added = AddEntry(ctx, entry, options, self); !added.ok()) return added;
  }
  const int rc = seccomp_load(ctx);
  if (rc != 0) {
    return ErrnoError(-rc, "syscall filter", "the kernel refuses the filter (seccomp_load)");
  }
  return absl::OkStatus();
}

std::vector<AllowedSyscall> DescribeSyscallFilter(const SyscallFilterOptions& options) {
  std::vector<AllowedSyscall> allowed;
  for (const Entry& entry : kAllowlist) {
    When when = entry.when;
    if (when == When::kFileWrites && !options.allow_file_writes) continue;
    if ((when == When::kReadOnlyOpen1 || when == When::kReadOnlyOpen2) &&
        options.allow_file_writes) {
      when = When::kFileWrites;
    }
    if (when == When::kFailWithEnosys) continue;  // not allowed
    if (when == When::kSanitizerBuild && !kSanitizerBuild) continue;
    allowed.push_back({entry.name, Describe(when)});
  }
  return allowed;
}

const std::vector<std::string_view>& RefusedSyscallNames() {
  static const std::vector<std::string_view>* const kRefused = new std::vector<std::string_view>{
      // new connections, programs and processes
      "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "execve",
      "execveat", "fork", "vfork",
      // other processes
      "ptrace", "process_vm_readv", "process_vm_writev", "tkill", "rt_sigqueueinfo",
      "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "kcmp", "wait4",
      "waitid",
      // namespaces, mounts, the root
      "unshare", "setns", "mount", "umount2", "chroot", "pivot_root", "open_tree", "move_mount",
      "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
      // the kernel
      "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "init_module", "finit_module",
      "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "syslog",
      "iopl", "ioperm", "quotactl", "acct", "userfaultfd", "io_uring_setup", "io_uring_enter",
      "io_uring_register", "personality",
      // identity and limits
      "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
      "setgroups", "capset", "setrlimit", "settimeofday", "clock_settime", "adjtimex",
      "clock_adjtime",
      // files by handle or metadata
      "open_by_handle_at", "name_to_handle_at", "mknod", "mknodat", "chmod", "fchmod", "fchmodat",
      "chown", "fchown", "lchown", "fchownat", "link", "linkat", "symlink", "symlinkat", "truncate",
      // host-wide IPC
      "shmget", "shmat", "msgget", "semget", "mq_open"};
  return *kRefused;
}

}  // namespace troupe::confinement
