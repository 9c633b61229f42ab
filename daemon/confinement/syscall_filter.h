// syscall_filter.h - the seccomp allowlist of an isolated host (libseccomp,
// by syscall name, so the same list serves every architecture).
//
// A call not on the list fails with EPERM: the actor's handler sees an error
// and the host goes on (or, if the policy says so, the host is killed).
// clone3 and openat2 fail with ENOSYS instead, so glibc falls back to clone
// and openat, which the filter can inspect. Allowed:
//
//   threads      clone only with CLONE_THREAD and no CLONE_NEW* flag; futex,
//                futex_waitv, set_robust_list, set_tid_address, rseq,
//                membarrier, gettid, sched_yield, sched_getaffinity, getcpu
//   memory       brk, mmap, munmap, mremap, mprotect, madvise, mincore, msync
//   descriptors  read, write and their v/p variants, lseek, close,
//                close_range, dup, dup2, dup3, fstat/stat/newfstatat/statx,
//                statfs, getdents, readlink, access, getcwd, fadvise64,
//                flock, ftruncate, fsync, fdatasync, memfd_create;
//                fcntl only F_DUPFD*, F_GETFD, F_SETFD, F_GETFL, F_SETFL,
//                locks and seals (not F_SETOWN/F_SETSIG/F_SETLEASE/F_NOTIFY);
//                ioctl only TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX,
//                FIONCLEX (never TIOCSTI)
//   files        open/openat only without O_WRONLY, O_RDWR, O_CREAT,
//                O_TRUNC, O_APPEND, O_TMPFILE, so a write to /tmp is refused
//                even without Landlock; with allow_file_writes (only when
//                Landlock confines writes) any open, creat, mkdir(at),
//                rmdir, unlink(at), rename(at, at2), fallocate
//   sockets      on descriptors the host already has: sendmsg, recvmsg,
//                sendmmsg, recvmmsg, sendto, recvfrom, shutdown, get/
//                setsockopt, getsockname, getpeername
//   waiting      poll, ppoll, select, pselect6, epoll_*, eventfd(2),
//                timerfd_*, timer_*, nanosleep, clock_nanosleep, alarm,
//                get/setitimer
//   signals      rt_sigaction, rt_sigprocmask, rt_sigreturn, sigreturn,
//                sigaltstack, rt_sigpending, rt_sigsuspend, rt_sigtimedwait;
//                kill and tgkill only aimed at the host itself (abort()
//                raises SIGABRT on itself)
//   process      exit, exit_group, restart_syscall, getpid, getppid,
//                get[e]uid/get[e]gid/getres[ug]id/getgroups, getrandom,
//                getrusage, times, uname, sysinfo, getpriority, getrlimit,
//                prlimit64 only reading the own limits, arch_prctl, prctl
//                only PR_SET_NAME, PR_GET_NAME, PR_SET_VMA, PR_GET_NO_NEW_PRIVS,
//                PR_GET_PDEATHSIG, PR_GET_DUMPABLE, clock_gettime,
//                clock_getres, gettimeofday, time
//
// Everything else is refused, among it (RefusedSyscallNames, checked by the
// tests): socket, socketpair, connect, bind, listen, accept(4), execve(at),
// fork, vfork, clone without CLONE_THREAD, ptrace, process_vm_readv/writev,
// unshare, setns, mount and the new mount API, umount2, chroot, pivot_root,
// bpf, perf_event_open, keyctl, add_key, request_key, init/finit/
// delete_module, kexec_load, kexec_file_load, io_uring_*, userfaultfd,
// personality, every set*id and setgroups, capset, reboot, swapon/off, tkill
// (its target cannot be checked), pidfd_*, wait4/waitid, setrlimit, the clock
// setters, SysV IPC and message queues.
//
// pipe and pipe2 are refused too (a host needs none), except in builds with
// sanitizers (TROUPE_SANITIZE): their runtimes test whether memory is
// readable by writing it into a pipe (UBSan's vptr check, ASan's reports).
// Leak checking under LeakSanitizer needs ptrace and a non-thread clone at
// exit: a host built with ASan runs with detect_leaks=0.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace troupe::confinement {

// What happens to a call the filter refuses.
enum class RefusedSyscallAction {
  kFailWithEperm,  // it returns -1 with errno EPERM; the host goes on (default)
  kKillProcess,    // the whole host is killed with SIGSYS
};

struct SyscallFilterOptions {
  RefusedSyscallAction on_refused = RefusedSyscallAction::kFailWithEperm;
  // Lets opens for writing, creat, mkdir, rmdir, unlink, rename and
  // fallocate through. Only safe once Landlock confines writes to the
  // read-write paths; ApplyAll sets it only then.
  bool allow_file_writes = false;
};

// Installs the allowlist for every thread of the process (TSYNC) and sets
// no_new_privs (needed for an unprivileged filter). Irreversible. Calls made
// with another architecture's syscall numbers (x32, int 0x80) are refused the
// same way. Errors name the step: InternalError for a syscall name or rule
// libseccomp does not accept, the kernel's error when it refuses the filter.
absl::Status InstallSyscallFilter(const SyscallFilterOptions& options = {});

// One entry of the allowlist, for logs, docs and tests.
struct AllowedSyscall {
  std::string name;       // libseccomp's name, e.g. "openat"
  std::string condition;  // "" or when it is allowed, e.g. "flags without O_WRONLY|..."
};

// The allowlist InstallSyscallFilter installs with `options` (names that do
// not exist on this architecture included; libseccomp skips them).
std::vector<AllowedSyscall> DescribeSyscallFilter(const SyscallFilterOptions& options = {});

// Syscalls that are never allowed, whatever the options: the security
// argument of the filter, checked against the allowlist by the tests.
const std::vector<std::string_view>& RefusedSyscallNames();

}  // namespace troupe::confinement
