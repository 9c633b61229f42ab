// version.cc - bundle versions; see version.h.
//
// Numeric fields are compared as digit strings (leading zeros stripped, then
// the longer string is larger, then bytewise), so a field of any length
// compares correctly without overflow, and "05" equals "5".
#include "daemon/bundle/version.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "daemon/common/strings.h"

namespace troupe::bundle {
namespace {

constexpr size_t kMaxVersionLength = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

std::vector<std::string_view> SplitDots(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
}

std::string_view StripLeadingZeros(std::string_view digits) {
  size_t first = digits.find_first_not_of('0');
  return first == std::string_view::npos ? std::string_view() : digits.substr(first);
}

// Compares two digit strings as numbers of any size.
int CompareNumbers(std::string_view a, std::string_view b) {
  a = StripLeadingZeros(a);
  b = StripLeadingZeros(b);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

struct SplitVersion {
  std::string_view release;     // "1.2.3"
  std::string_view prerelease;  // "rc.1", empty when there is none
  bool has_prerelease = false;
};

SplitVersion Split(std::string_view version) {
  SplitVersion split;
  size_t dash = version.find('-');
  if (dash == std::string_view::npos) {
    split.release = version;
  } else {
    split.release = version.substr(0, dash);
    split.prerelease = version.substr(dash + 1);
    split.has_prerelease = true;
  }
  return split;
}

int CompareRelease(std::string_view a, std::string_view b) {
  std::vector<std::string_view> fa = SplitDots(a);
  std::vector<std::string_view> fb = SplitDots(b);
  size_t n = std::max(fa.size(), fb.size());
  for (size_t i = 0; i < n; ++i) {
    std::string_view x = i < fa.size() ? fa[i] : std::string_view("0");
    std::string_view y = i < fb.size() ? fb[i] : std::string_view("0");
    if (int c = CompareNumbers(x, y); c != 0) return c;
  }
  return 0;
}

// semver's precedence for pre-release identifiers.
int ComparePrerelease(std::string_view a, std::string_view b) {
  std::vector<std::string_view> ia = SplitDots(a);
  std::vector<std::string_view> ib = SplitDots(b);
  size_t n = std::min(ia.size(), ib.size());
  for (size_t i = 0; i < n; ++i) {
    bool na = AllDigits(ia[i]);
    bool nb = AllDigits(ib[i]);
    int c = 0;
    if (na && nb) {
      c = CompareNumbers(ia[i], ib[i]);
    } else if (na != nb) {
      c = na ? -1 : 1;  // numbers before words
    } else {
      int raw = ia[i].compare(ib[i]);
      c = raw < 0 ? -1 : (raw > 0 ? 1 : 0);
    }
    if (c != 0) return c;
  }
  if (ia.size() == ib.size()) return 0;
  return ia.size() < ib.size() ? -1 : 1;
}

}  // namespace

absl::Status ValidateVersion(std::string_view version) {
  if (version.empty()) {
    return absl::InvalidArgumentError(
        "version is empty: set a version such as \"1.0\" or \"date\" (an unversioned bundle would "
        "outrank every release)");
  }
  if (version.size() > kMaxVersionLength) {
    return absl::InvalidArgumentError(troupe::StrCat("version '", version, "' is longer than ",
                                                     kMaxVersionLength, " characters"));
  }
  SplitVersion split = Split(version);
  std::vector<std::string_view> fields = SplitDots(split.release);
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string_view field = fields[i];
    if (field.empty()) {
      return absl::InvalidArgumentError(
          troupe::StrCat("version '", version, "': numeric field ", i + 1, " is empty"));
    }
    for (char c : field) {
      if (!IsDigit(c)) {
        return absl::InvalidArgumentError(troupe::StrCat(
            "version '", version, "': character '", std::string_view(&c, 1),
            "' is not allowed before '-': the release part is dot-separated numbers (letters go in "
            "a pre-release after '-', e.g. \"2.0-rc.1\")"));
      }
    }
  }
  if (!split.has_prerelease) return absl::OkStatus();
  if (split.prerelease.empty()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("version '", version, "': pre-release after '-' is empty"));
  }
  std::vector<std::string_view> ids = SplitDots(split.prerelease);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) {
      return absl::InvalidArgumentError(
          troupe::StrCat("version '", version, "': pre-release identifier ", i + 1, " is empty"));
    }
    for (char c : ids[i]) {
      if (!IsDigit(c) && !IsAlpha(c)) {
        return absl::InvalidArgumentError(
            troupe::StrCat("version '", version, "': character '", std::string_view(&c, 1),
                           "' is not allowed in the pre-release: use letters and digits, "
                           "separated by '.'"));
      }
    }
  }
  return absl::OkStatus();
}

int CompareVersions(std::string_view a, std::string_view b) {
  SplitVersion sa = Split(a);
  SplitVersion sb = Split(b);
  if (int c = CompareRelease(sa.release, sb.release); c != 0) return c;
  if (sa.has_prerelease != sb.has_prerelease) return sa.has_prerelease ? -1 : 1;
  if (!sa.has_prerelease) return 0;
  return ComparePrerelease(sa.prerelease, sb.prerelease);
}

absl::StatusOr<std::string> ExpandVersion(std::string_view spec, absl::Time now) {
  if (spec == "date") return absl::FormatTime("%Y%m%d%H%M", now, absl::UTCTimeZone());
  if (absl::Status status = ValidateVersion(spec); !status.ok()) return status;
  return std::string(spec);
}

}  // namespace troupe::bundle
