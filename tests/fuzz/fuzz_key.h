// fuzz_key.h - the fixed Ed25519 key pair the bundle fuzzer trusts and the
// seed generator signs with. Derived from a constant seed, so it is the same
// in every build: a test key, never trust it anywhere else.
#pragma once

#include "absl/status/statusor.h"
#include "daemon/bundle/keys.h"

namespace troupe::fuzz {

absl::StatusOr<troupe::bundle::KeyPair> FuzzKeyPair();

}  // namespace troupe::fuzz
