#include "daemon/hosting/crash_record.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/numbers.h"
#include "daemon/common/strings.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/hosting/loaded_state.h"
#include "daemon/runtime/actor_class.h"

namespace troupe::hosting {
namespace {

// Splits `line` at its first space: the word before it, the rest after it.
std::pair<std::string_view, std::string_view> FirstWord(std::string_view line) {
  size_t space = line.find(' ');
  if (space == std::string_view::npos) return {line, {}};
  return {line.substr(0, space), line.substr(space + 1)};
}

template <typename F>
void ForEachLine(std::string_view text, F f) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.front() != '#') f(line);
  }
}

}  // namespace

const std::string* CrashHistory::HeldReason(std::string_view hash) const {
  for (const auto& [held_hash, reason] : held) {
    if (held_hash == hash) return &reason;
  }
  return nullptr;
}

bool CrashHistory::Forget(std::string_view hash) {
  const size_t before = crashes.size() + held.size();
  crashes.erase(std::remove_if(crashes.begin(), crashes.end(),
                               [&](const Crash& c) { return c.hash == hash; }),
                crashes.end());
  held.erase(
      std::remove_if(held.begin(), held.end(), [&](const auto& h) { return h.first == hash; }),
      held.end());
  return crashes.size() + held.size() != before;
}

std::string CrashHistory::RecordUncleanExit(std::string_view suspect, absl::Time now,
                                            absl::Duration window) {
  crashes.erase(std::remove_if(crashes.begin(), crashes.end(),
                               [&](const Crash& c) { return c.at <= now - window; }),
                crashes.end());
  if (suspect.empty()) return "";
  crashes.push_back(Crash{now, std::string(suspect)});
  if (HeldReason(suspect) != nullptr) return "";
  const size_t count = std::count_if(crashes.begin(), crashes.end(),
                                     [&](const Crash& c) { return c.hash == suspect; });
  if (count < kCrashesToHold) return "";
  static_assert(kCrashesToHold == 2, "the reason says 'twice'");
  std::string reason = troupe::StrCat(
      "the daemon died twice within ", absl::FormatDuration(window),
      " while it ran this bundle; not restored (unload it, or load it again to retry)");
  held.emplace_back(std::string(suspect), reason);
  return reason;
}

CrashHistory ParseCrashHistory(std::string_view text) {
  CrashHistory history;
  ForEachLine(text, [&](std::string_view line) {
    auto [kind, rest] = FirstWord(line);
    if (kind == "crash") {
      auto [ms, hash] = FirstWord(rest);
      int64_t unix_ms = 0;
      if (absl::SimpleAtoi(troupe::ToAbsl(ms), &unix_ms) && IsSourceHash(hash)) {
        history.crashes.push_back({absl::FromUnixMillis(unix_ms), std::string(hash)});
      }
    } else if (kind == "held") {
      auto [hash, reason] = FirstWord(rest);
      if (IsSourceHash(hash) && history.HeldReason(hash) == nullptr) {
        history.held.emplace_back(std::string(hash), std::string(reason));
      }
    }
  });
  return history;
}

std::string FormatCrashHistory(const CrashHistory& history) {
  std::string out =
      "# Runs of troupd that died of a fault in a bundle's code, found at start-up, and\n"
      "# the bundles held back for them:\n"
      "# crash <unix ms> <hash of the bundle whose code faulted>\n"
      "# held <hash> <reason>: not restored until it is loaded again or unloaded\n";
  for (const CrashHistory::Crash& c : history.crashes) {
    troupe::StrAppend(&out, "crash ", absl::ToUnixMillis(c.at), " ", c.hash, "\n");
  }
  for (const auto& [hash, reason] : history.held) {
    troupe::StrAppend(&out, "held ", hash, " ", reason, "\n");
  }
  return out;
}

std::vector<CrashHistory::Charged> CrashHistory::ChargeDeadRun(std::string_view running,
                                                                absl::Time now,
                                                                absl::Duration window) {
  std::vector<Charged> charged;
  const std::vector<Fault> faults = FaultsInRunning(running);
  if (faults.empty()) RecordUncleanExit("", now, window);  // prunes only
  for (const Fault& fault : faults) {
    std::string reason = RecordUncleanExit(fault.hash, now, window);
    charged.push_back(Charged{fault.hash, fault.signal, std::move(reason)});
  }
  return charged;
}

std::string FormatRunning(absl::Time started) {
  return troupe::StrCat(
      "# troupd runs (removed at a clean shutdown; found at start-up: the last run died).\n"
      "# fault <hash> <signal>: a fatal signal hit a thread running that bundle's code\n",
      "started ", absl::ToUnixMillis(started), "\n");
}

std::vector<Fault> FaultsInRunning(std::string_view running) {
  std::vector<Fault> faults;
  ForEachLine(running, [&](std::string_view line) {
    auto [kind, rest] = FirstWord(line);
    if (kind != "fault") return;
    auto [hash, number] = FirstWord(rest);
    int signal = 0;
    if (!IsSourceHash(hash) || !absl::SimpleAtoi(troupe::ToAbsl(number), &signal)) return;
    for (const Fault& f : faults) {
      if (f.hash == hash) return;
    }
    faults.push_back(Fault{std::string(hash), signal});
  });
  return faults;
}

std::string SignalName(int signal) {
  switch (signal) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    default:
      return troupe::StrCat("signal ", signal);
  }
}

// ---------------------------------------------------------------------------
// The fault handler. Everything below runs in a signal handler, or is read by
// it: only async-signal-safe calls (write, getpid, sigaction, raise) and a
// lock-free atomic.

namespace {

std::atomic<int> fault_record{-1};
static_assert(std::atomic<int>::is_always_lock_free);

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

void OnFatalSignal(int signal, siginfo_t* info, void*) {
  const int saved_errno = errno;
  // A fault of the thread itself (si_code > 0: raised by the CPU or the
  // kernel for this instruction) or a signal this process sent (abort,
  // raise); not one sent from outside (`kill -SEGV`, a stop timeout's
  // SIGABRT), which is no bundle's doing.
  if (info == nullptr || info->si_code > 0 || info->si_pid == ::getpid()) RecordFault(signal);
  errno = saved_errno;
  // SA_RESETHAND made the action the default again. The signal is blocked
  // until the handler returns: re-raised, it is delivered then; a fault of an
  // instruction also happens again when it is retried.
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

}  // namespace

size_t FormatFaultLine(const char* hash, int signal, char* out) {
  size_t n = 0;
  for (const char* p = "fault "; *p != '\0'; ++p) out[n++] = *p;
  for (size_t i = 0; i < 64 && hash[i] != '\0'; ++i) out[n++] = hash[i];
  out[n++] = ' ';
  unsigned value = signal < 0 ? 0u : static_cast<unsigned>(signal);
  char digits[10];
  size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (count > 0) out[n++] = digits[--count];
  out[n++] = '\n';
  return n;
}

int ExchangeFaultRecord(int fd) { return fault_record.exchange(fd); }

bool ReleaseFaultRecord(int fd) { return fault_record.compare_exchange_strong(fd, -1); }

bool RecordFault(int signal) {
  const char* hash = runtime::CurrentBundleCode();
  const int fd = fault_record.load(std::memory_order_relaxed);
  if (hash == nullptr || fd < 0) return false;
  char line[kMaxFaultLine];
  const size_t length = FormatFaultLine(hash, signal, line);
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::write(fd, line + done, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

absl::Status InstallFaultHandler() {
  struct sigaction action {};
  action.sa_sigaction = OnFatalSignal;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int signal : kFatalSignals) {
    if (::sigaction(signal, &action, nullptr) != 0) {
      return absl::InternalError(troupe::StrCat("cannot install the handler of ",
                                                SignalName(signal), ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace troupe::hosting
