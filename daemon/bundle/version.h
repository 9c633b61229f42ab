// version.h - bundle versions: validation, ordering and "date" expansion.
//
// A version is one or more dot-separated numeric fields, optionally followed
// by '-' and a pre-release of dot-separated identifiers (letters, digits):
// "1", "1.10", "202611261200", "2.0-rc.1". Numeric fields compare as numbers
// (1.10 > 1.9, 2 > 1.99), missing trailing fields count as 0 (1.0 == 1), and
// a version with a pre-release sorts before the same version without one
// (2.0-rc.1 < 2.0); pre-release identifiers compare numerically when both
// are numbers, else bytewise, numbers before words (semver's rules).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace troupe::bundle {

// OK, or InvalidArgument saying what is wrong with `version` (empty, bad
// character, empty field, ...).
absl::Status ValidateVersion(std::string_view version);

// <0, 0, >0. Both must be valid.
int CompareVersions(std::string_view a, std::string_view b);

// "date" becomes `now` as UTC YYYYMMDDHHMM; any other spec is returned as is
// after validation. InvalidArgument for an empty or invalid spec.
absl::StatusOr<std::string> ExpandVersion(std::string_view spec, absl::Time now);

}  // namespace troupe::bundle
