// fuzz_key.cc - see fuzz_key.h.
#include "tests/fuzz/fuzz_key.h"

#include <sodium.h>

#include <cstdint>

#include "absl/status/status.h"

namespace troupe::fuzz {

absl::StatusOr<troupe::bundle::KeyPair> FuzzKeyPair() {
  absl::Status init = troupe::bundle::InitSodium();
  if (!init.ok()) return init;
  unsigned char seed[crypto_sign_SEEDBYTES];
  for (unsigned i = 0; i < sizeof(seed); ++i) seed[i] = static_cast<unsigned char>(0xf0 + i);
  troupe::bundle::KeyPair pair;
  static_assert(sizeof(pair.public_key) == crypto_sign_PUBLICKEYBYTES);
  static_assert(sizeof(pair.secret_key) == crypto_sign_SECRETKEYBYTES);
  if (crypto_sign_seed_keypair(pair.public_key.data(), pair.secret_key.data(), seed) != 0) {
    return absl::InternalError("fuzz key: crypto_sign_seed_keypair failed");
  }
  return pair;
}

}  // namespace troupe::fuzz
