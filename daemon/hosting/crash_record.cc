#include "daemon/hosting/crash_record.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/numbers.h"
#include "daemon/common/strings.h"
#include "daemon/hosting/loaded_state.h"

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
      "# Unclean exits of troupd found at start-up, and the bundles held back for them:\n"
      "# crash <unix ms> <hash of the bundle whose code started last before it>\n"
      "# held <hash> <reason>: not restored until it is loaded again or unloaded\n";
  for (const CrashHistory::Crash& c : history.crashes) {
    troupe::StrAppend(&out, "crash ", absl::ToUnixMillis(c.at), " ", c.hash, "\n");
  }
  for (const auto& [hash, reason] : history.held) {
    troupe::StrAppend(&out, "held ", hash, " ", reason, "\n");
  }
  return out;
}

std::string FormatRunning(absl::Time started) {
  return troupe::StrCat(
      "# troupd runs (removed at a clean shutdown; found at start-up: the last run died)\n",
      "started ", absl::ToUnixMillis(started), "\n");
}

std::string RunningCodeLine(std::string_view hash) { return troupe::StrCat("code ", hash); }

std::string LastStartedCode(std::string_view running) {
  std::string last;
  ForEachLine(running, [&](std::string_view line) {
    auto [kind, hash] = FirstWord(line);
    if (kind == "code" && IsSourceHash(hash)) last = std::string(hash);
  });
  return last;
}

}  // namespace troupe::hosting
