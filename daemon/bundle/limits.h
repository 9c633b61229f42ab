// limits.h - the sizes a bundle may not exceed. The verifier checks every one
// before it reads the entry they concern (zip bombs, huge manifests).
#pragma once

#include <cstdint>

namespace troupe::bundle {

struct Limits {
  uint64_t max_entries = 4096;
  uint64_t max_entry_bytes = uint64_t{256} << 20;  // one uncompressed entry
  uint64_t max_total_bytes = uint64_t{1} << 30;    // all entries, uncompressed
  uint64_t max_compression_ratio = 200;            // uncompressed / compressed, per entry
  uint64_t max_manifest_bytes = uint64_t{1} << 20;
  uint64_t max_path_bytes = 255;
  uint64_t max_file_bytes = uint64_t{1} << 30;     // the bundle file itself
};

}  // namespace troupe::bundle
