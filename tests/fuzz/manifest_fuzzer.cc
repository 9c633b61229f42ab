// manifest_fuzzer.cc - libFuzzer target: ParseManifest on arbitrary bytes.
// Any input may be refused; none may crash, leak or trip a sanitizer. A
// manifest that parses must survive ManifestToJson and parse again to the
// same message (the round trip `director tlsinfo` relies on).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <google/protobuf/util/message_differencer.h>

#include "absl/status/statusor.h"
#include "daemon/bundle/manifest.h"
#include "troupe/v1/manifest.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<troupe::v1::Manifest> manifest =
      troupe::bundle::ParseManifest(json, "fuzz: manifest.json");
  if (!manifest.ok()) return 0;
  std::string again_json = troupe::bundle::ManifestToJson(*manifest);
  absl::StatusOr<troupe::v1::Manifest> again =
      troupe::bundle::ParseManifest(again_json, "fuzz: round trip");
  // A broken invariant, not an input error: let libFuzzer record the crash.
  // (Compared field by field: Struct maps serialize in no fixed order.)
  if (!again.ok() || !google::protobuf::util::MessageDifferencer::Equals(*again, *manifest)) {
    std::abort();
  }
  return 0;
}
