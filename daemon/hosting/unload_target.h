// unload_target.h - which loaded bundles an unload target names. Private to
// daemon/hosting (BundleHost::Unload); a header of its own so the rules,
// ambiguous hash prefixes included, can be tested without crafting bundles.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace troupe::hosting {

// One loaded bundle as a target may name it.
struct LoadedName {
  std::string hash;  // 64 lowercase hex digits
  std::string group;
  std::string version;
};

// The shortest hash prefix a target may use.
inline constexpr size_t kMinHashPrefix = 8;

// Indices into `loaded` of the bundles `target` names, in `loaded` order:
//  - a source hash, or a prefix of one of at least kMinHashPrefix hex digits
//    (any case) that only one bundle has;
//  - a group: every loaded version of it;
//  - GROUP-VERSION, split at the first '-' (a group never has one); versions
//    compare by version order, so "hello-1" names hello 1.0.
// A hash (prefix) is tried first, then a group, then GROUP-VERSION.
// InvalidArgument for an empty target and for a prefix several bundles share
// (the message lists them); NotFound when nothing matches (the message says
// what is loaded and how to list it).
absl::StatusOr<std::vector<size_t>> MatchUnloadTarget(std::string_view target,
                                                      const std::vector<LoadedName>& loaded);

}  // namespace troupe::hosting
