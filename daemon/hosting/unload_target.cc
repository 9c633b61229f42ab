#include "daemon/hosting/unload_target.h"

#include <algorithm>
#include <cctype>

#include "daemon/bundle/version.h"
#include "daemon/common/strings.h"

namespace troupe::hosting {
namespace {

bool IsHex(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "hello 1.0 (0123abcd...)" for messages.
std::string Describe(const LoadedName& name) {
  return troupe::StrCat(name.group, " ", name.version, " (", name.hash.substr(0, 16), ")");
}

}  // namespace

absl::StatusOr<std::vector<size_t>> MatchUnloadTarget(std::string_view target,
                                                      const std::vector<LoadedName>& loaded) {
  if (target.empty()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("unload needs a target: a source hash (or a prefix of at least ",
                       kMinHashPrefix, " hex digits), a group or GROUP-VERSION"));
  }
  std::vector<size_t> matches;
  const bool hex = IsHex(target);
  if (hex && target.size() >= kMinHashPrefix) {
    const std::string prefix = Lower(target);
    for (size_t i = 0; i < loaded.size(); ++i) {
      if (loaded[i].hash.compare(0, prefix.size(), prefix) == 0) matches.push_back(i);
    }
    if (matches.size() > 1) {
      std::string listed;
      for (size_t i : matches) {
        troupe::StrAppend(&listed, listed.empty() ? "" : ", ", loaded[i].hash, " (",
                          loaded[i].group, " ", loaded[i].version, ")");
      }
      return absl::InvalidArgumentError(troupe::StrCat("hash prefix '", target,
                                                       "' is ambiguous: ", "it matches ", listed,
                                                       "; give more digits"));
    }
    if (!matches.empty()) return matches;
  }
  for (size_t i = 0; i < loaded.size(); ++i) {
    if (loaded[i].group == target) matches.push_back(i);
  }
  if (!matches.empty()) return matches;
  if (size_t dash = target.find('-'); dash != std::string_view::npos) {
    std::string_view group = target.substr(0, dash);
    std::string_view version = target.substr(dash + 1);
    const bool valid = bundle::ValidateVersion(version).ok();
    for (size_t i = 0; i < loaded.size(); ++i) {
      if (loaded[i].group != group) continue;
      if (loaded[i].version == version ||
          (valid && bundle::ValidateVersion(loaded[i].version).ok() &&
           bundle::CompareVersions(loaded[i].version, version) == 0)) {
        matches.push_back(i);
      }
    }
    if (!matches.empty()) return matches;
  }
  std::string message = troupe::StrCat("no loaded bundle matches '", target, "'");
  if (hex && target.size() < kMinHashPrefix) {
    troupe::StrAppend(&message, " (a hash prefix needs at least ", kMinHashPrefix, " hex digits)");
  }
  if (loaded.empty()) {
    troupe::StrAppend(&message, "; no bundle is loaded");
  } else {
    std::string listed;
    for (const LoadedName& name : loaded) {
      troupe::StrAppend(&listed, listed.empty() ? "" : ", ", Describe(name));
    }
    troupe::StrAppend(&message, "; loaded: ", listed, " (see `director list`)");
  }
  return absl::NotFoundError(message);
}

}  // namespace troupe::hosting
