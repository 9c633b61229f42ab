// bundle_seeds.cc - writes signed seed bundles for bundle_fuzzer into the
// directory given as the only argument: built with BuildBundle and the fixed
// fuzz key (fuzz_key.h), so the fuzzer starts from bundles that verify.
//   bundle_seeds <out dir>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/bundle/bundle.h"
#include "tests/fuzz/fuzz_key.h"

namespace {

using troupe::bundle::EntryInput;

std::string Manifest(const std::string& group, const std::string& libraries) {
  return R"({"group": ")" + group +
         R"(", "version": "1.0", "abi": {"major": 1, "minor": 0}, "libraries": [)" + libraries +
         R"(], "actors": [{"class_name": "seed.Echo"}]})";
}

struct Seed {
  std::string file;
  std::vector<EntryInput> entries;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bundle_seeds <out dir>\n");
    return 2;
  }
  absl::StatusOr<troupe::bundle::KeyPair> key = troupe::fuzz::FuzzKeyPair();
  if (!key.ok()) {
    std::fprintf(stderr, "bundle_seeds: %s\n", key.status().ToString().c_str());
    return 1;
  }
  // Library bytes need not be ELF: the verifier does not load code.
  std::vector<Seed> seeds = {
      {"signed-one-lib.troupe",
       {{"manifest.json", Manifest("seed", R"("lib/seed.so")")},
        {"lib/seed.so", "\x7f" "ELF not really", true}}},
      {"signed-data-deps.troupe",
       {{"manifest.json", Manifest("seed.data", R"("lib/a.so", "lib/b.so")")},
        {"lib/a.so", "a", true},
        {"lib/b.so", std::string(300, 'b'), true},
        {"deps/libdep.so.1", "dep", true},
        {"data/config.txt", "hello\n"},
        {"data/nested/empty", ""}}},
  };
  for (Seed& seed : seeds) {
    absl::StatusOr<std::string> bytes = troupe::bundle::BuildBundle(std::move(seed.entries), *key);
    if (!bytes.ok()) {
      std::fprintf(stderr, "bundle_seeds: %s: %s\n", seed.file.c_str(),
                   bytes.status().ToString().c_str());
      return 1;
    }
    std::string path = std::string(argv[1]) + "/" + seed.file;
    std::ofstream out(path, std::ios::binary);
    out << *bytes;
    if (!out) {
      std::fprintf(stderr, "bundle_seeds: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
