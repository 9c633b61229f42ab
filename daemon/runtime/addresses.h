// addresses.h - SplitAddress: the one reader of the printed actor address
// "troupe://NODE/ID" (ActorSystem::FormatAddress writes it). Syntax only: what
// the parts name (this node or another, a live actor or not) is for the
// caller (ActorSystem::ParseAddress, the convention's name table).
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace troupe::runtime {

// The two parts of a well-formed address. `node` points into the text given
// to SplitAddress.
struct AddressParts {
  std::string_view node;  // never empty
  uint64_t id = 0;        // 1 .. 2^62 - 1 (the ids ActorSystem hands out)
};

// Splits "troupe://NODE/ID" at its last '/': NODE is everything between the
// scheme and that slash, ID is decimal digits only (no sign, no space, no
// trailing text). InvalidArgument otherwise, with `text` quoted (troupe::Quoted),
// checked in this order:
//   "'x' is not an address (expected troupe://NODE/ID)"   no "troupe://" prefix
//   "address 'x' has no actor id"        no '/' after the scheme
//   "address 'x' has a bad actor id"     ID empty, not decimal, or over 2^64 - 1
//   "address 'x' has no node"            NODE empty
//   "address 'x' has an actor id out of range"   ID 0 or at least 2^62
absl::StatusOr<AddressParts> SplitAddress(std::string_view text);

}  // namespace troupe::runtime
