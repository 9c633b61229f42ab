// manifest.h - parsing and checking a bundle manifest (manifest.proto, as
// JSON). Unknown fields, wrong types and invalid values are errors that name
// `where` (a file or "bundle x: manifest.json") and the field.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "troupe/v1/manifest.pb.h"

namespace troupe::bundle {

// Parses and validates. InvalidArgument on any problem.
absl::StatusOr<troupe::v1::Manifest> ParseManifest(std::string_view json, std::string_view where);

// Only the JSON step of ParseManifest (unknown fields and wrong types are
// still errors), for callers that complete the manifest before validating it
// (`director gensrc` sets the version from --version).
absl::StatusOr<troupe::v1::Manifest> ParseManifestJson(std::string_view json,
                                                       std::string_view where);

// The checks ParseManifest applies after parsing: group name characters,
// version present and valid, ABI major equal to TROUPE_ABI_MAJOR and minor
// not newer than TROUPE_ABI_MINOR (FailedPrecondition), at least one
// library, library paths "lib/<name>.so" without '..', actor class names
// non-empty, requirement capabilities non-empty, actions with a type,
// isolation empty, "inline" or "process" (isolation.h).
absl::Status ValidateManifest(const troupe::v1::Manifest& manifest, std::string_view where);

// OK when `group` is a valid group name (see manifest.proto).
absl::Status ValidateGroupName(std::string_view group);

// The manifest as JSON (for `director tlsinfo`, docs and tests).
std::string ManifestToJson(const troupe::v1::Manifest& manifest);

}  // namespace troupe::bundle
