// bundle_fuzzer.cc - libFuzzer target: VerifyBundle on arbitrary bytes, once
// against an empty trust store and once against a store that trusts the
// fixed fuzz key (kFuzzSecretKey below), so that seeds signed with that key
// (bundle_seeds.cc) reach the checks behind the signature. Any input may be
// refused; none may crash, leak or trip a sanitizer. A bundle that verifies
// must let every listed entry be read back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "absl/status/statusor.h"
#include "daemon/bundle/bundle.h"
#include "daemon/bundle/keys.h"
#include "tests/fuzz/fuzz_key.h"

namespace {

struct Stores {
  troupe::bundle::TrustStore empty;
  troupe::bundle::TrustStore trusting;
};

// Makes two trust directories under a fresh temp directory (removed at exit
// by nobody: libFuzzer exits with _exit; they are small and in TMPDIR).
Stores MakeStores() {
  std::error_code error;
  std::filesystem::path base = std::filesystem::temp_directory_path(error);
  if (error) std::abort();
  std::string tmpl = (base / "troupe-bundle-fuzzer.XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  std::filesystem::path root(tmpl);
  std::filesystem::create_directories(root / "empty");
  std::filesystem::create_directories(root / "trusted");

  absl::StatusOr<troupe::bundle::KeyPair> key = troupe::fuzz::FuzzKeyPair();
  if (!key.ok()) std::abort();
  std::string pub_path = (root / "fuzz.pub").string();
  {
    std::ofstream out(pub_path);
    out << troupe::bundle::FormatPublicKey(key->public_key) << "\n";
    if (!out) std::abort();
  }
  Stores stores{troupe::bundle::TrustStore((root / "empty").string()),
                troupe::bundle::TrustStore((root / "trusted").string())};
  if (!stores.trusting.Trust(pub_path).ok()) std::abort();
  return stores;
}

void VerifyWith(const troupe::bundle::TrustStore& trust, std::string bytes) {
  absl::StatusOr<troupe::bundle::VerifiedBundle> bundle =
      troupe::bundle::VerifyBundle(std::move(bytes), "fuzz.troupe", trust);
  if (!bundle.ok()) return;
  for (const troupe::bundle::VerifiedEntry& entry : bundle->entries) {
    absl::StatusOr<std::string> content = bundle->ReadEntry(entry.name);
    // A verified bundle whose listed entry cannot be read is a broken invariant.
    if (!content.ok() || content->size() != entry.size) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Stores* stores = new Stores(MakeStores());
  std::string bytes(reinterpret_cast<const char*>(data), size);
  VerifyWith(stores->empty, bytes);
  VerifyWith(stores->trusting, std::move(bytes));
  return 0;
}
