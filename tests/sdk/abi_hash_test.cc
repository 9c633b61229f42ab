// abi_hash_test.cc - fails whenever sdk/include/troupe/abi.h changes without a
// version bump (Envoy's ABI version check). Each released (major, minor) is
// recorded with the FNV-1a 64 hash of the header's bytes.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "troupe/abi.h"

namespace {

struct RecordedAbi {
  uint32_t major;
  uint32_t minor;
  uint64_t hash;
};

// One row per ABI version ever released; append, never edit. (1.1 is the
// first version to ship; its ownership comments were completed before any
// library was built against it outside this repository.)
constexpr RecordedAbi kRecordedAbis[] = {
    {1, 1, 0x0d8e60e969d54df0ull},
    {1, 2, 0x0d892346edee5e98ull},  // capability changes, convention updates
};

uint64_t Fnv1a64(const std::string& bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string Hex(uint64_t value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "0x%016llxull", static_cast<unsigned long long>(value));
  return buffer;
}

TEST(AbiHashTest, AbiHeaderMatchesTheRecordedHashForItsVersion) {
  std::ifstream file(TROUPE_ABI_HEADER_PATH, std::ios::binary);
  ASSERT_TRUE(file.good()) << "cannot read " << TROUPE_ABI_HEADER_PATH;
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const uint64_t hash = Fnv1a64(bytes);

  const RecordedAbi* recorded = nullptr;
  for (const RecordedAbi& abi : kRecordedAbis) {
    if (abi.major == TROUPE_ABI_MAJOR && abi.minor == TROUPE_ABI_MINOR) recorded = &abi;
  }
  ASSERT_NE(recorded, nullptr) << "abi.h declares ABI " << TROUPE_ABI_MAJOR << "."
                               << TROUPE_ABI_MINOR << ", which is not recorded in " << __FILE__
                               << ". Append {" << TROUPE_ABI_MAJOR << ", " << TROUPE_ABI_MINOR
                               << ", " << Hex(hash) << "} to kRecordedAbis.";
  EXPECT_EQ(recorded->hash, hash)
      << "sdk/include/troupe/abi.h changed but its version did not. Bump TROUPE_ABI_MINOR for a "
         "compatible change (fields appended at the end of a table, guarded by "
         "TROUPE_ABI_TARGET_MINOR) or TROUPE_ABI_MAJOR for a breaking one, then append {major, "
         "minor, "
      << Hex(hash) << "} to kRecordedAbis in " << __FILE__
      << ". Never edit the header of a released version in place.";
}

TEST(AbiHashTest, VersionConstantsAreConsistent) {
  EXPECT_LE(TROUPE_ABI_OLDEST_MINOR, TROUPE_ABI_MINOR);
  EXPECT_EQ(TROUPE_ABI_TARGET_MINOR, TROUPE_ABI_MINOR);
}

}  // namespace
