// capabilities.h - this node's capabilities as written in TROUPE_DIR: the JSON
// object <TROUPE_DIR>/capabilities.json and/or one file per capability,
// <TROUPE_DIR>/capabilities/<name>. troupd loads them at start (before it
// restores bundles, whose requirements they may satisfy); Config::LoadFrom
// records their problems, so `director config check` and troupd's start
// refuse a bad file the same way. Changes made at run time (director,
// clients, actors) are not written back: these files are the durable way.
//
// Rules (docs/daemon.md "Capabilities"):
//  - capabilities.json: one JSON object, name -> any JSON value (string,
//    number, bool, null, list, object). Anything else is a problem naming the
//    file, line and column; so is a name given twice.
//  - capabilities/<name>: the file's text, whitespace trimmed, is the value:
//    JSON when it parses (`8`, `true`, `"eu"`, `[1, 2]`), otherwise a string
//    (`eu-west` means "eu-west"). Text that starts like JSON ('{', '[' or '"')
//    but does not parse is a problem, not a string; so is an empty file.
//    Files whose names start with '.' or end with '~' are ignored.
//  - A name in both places: the per-file value wins.
//  - The read-only names below are troupd's own; setting one in a file is a
//    problem.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace troupe::config {

// The capabilities troupd sets itself and nobody else may change: host name,
// usable cores, physical memory in bytes, Troupe's version, the ABI version
// it hosts ("1.2").
inline constexpr std::string_view kReadOnlyCapabilities[] = {
    "troupe.host", "troupe.cores", "troupe.memory_bytes", "troupe.version", "troupe.abi_version"};

// True for a name in kReadOnlyCapabilities.
bool IsReadOnlyCapability(std::string_view name);

struct CapabilityValue {
  std::string name;
  std::string value_json;  // compact JSON
  std::string source;      // the file it came from
};

// Reads <troupe_dir>/capabilities.json and <troupe_dir>/capabilities/*, in
// that order (a later value of a name replaces the earlier, keeping its
// place); names from the directory come sorted. Neither existing: none.
// InvalidArgument listing every problem, one per line, each starting with
// its file: "<dir>/capabilities.json: at line 3, column 9: expected ':' after
// a member name". A capability decides where requirements send bundles, so a
// file that another user than `owner` (default: the effective uid) or root
// owns, or that group or others may write, is a problem too, with the
// chown/chmod that fixes it (SmallFileOptions::trusted_owner).
absl::StatusOr<std::vector<CapabilityValue>> LoadCapabilities(
    std::string_view troupe_dir, std::optional<uid_t> owner = std::nullopt);

}  // namespace troupe::config
