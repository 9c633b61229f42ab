// Tests of RemoveLeftovers: what an interrupted load leaves in loaded/ and
// the library root is removed and reported; recorded and loaded bundles and
// other files stay.
#include "daemon/hosting/leftovers.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::hosting {
namespace {

namespace fs = std::filesystem;

const std::string kRecorded(64, 'a');
const std::string kOrphan(64, 'b');
const std::string kLoaded(64, 'c');

void Touch(const std::string& path) { std::ofstream(path) << "x"; }

TEST(LeftoversTest, OrphanCopiesPartialFilesAndOrphanCodeAreRemovedAndReported) {
  troupe::testing::TempDir temp("leftovers");
  const std::string loaded = temp.path() + "/loaded";
  const std::string code = loaded + "/code";
  for (const std::string& hash : {kRecorded, kOrphan, kLoaded}) {
    ASSERT_TRUE(fs::create_directories(code + "/" + hash + "/lib"));
    Touch(code + "/" + hash + "/lib/x.so");
    Touch(loaded + "/" + hash + ".troupe");
  }
  Touch(loaded + "/" + kOrphan + ".troupe.tmp");
  Touch(loaded + "/state.tmp");
  Touch(loaded + "/crashes");
  Touch(loaded + "/notes.troupe");
  ASSERT_TRUE(fs::create_directories(code + "/not-a-hash"));
  const std::string state = kRecorded + " active # x 1.0\n";

  std::vector<std::string> lines =
      RemoveLeftovers(loaded, code, state, [](std::string_view hash) { return hash == kLoaded; });

  EXPECT_EQ(lines.size(), 4u);
  std::string all;
  for (const std::string& line : lines) all += line + "\n";
  EXPECT_CONTAINS(all, "removed " + loaded + "/" + kOrphan +
                           ".troupe (a stored copy no state line names, left by an interrupted "
                           "load or unload)\n");
  EXPECT_CONTAINS(all, "removed " + loaded + "/" + kOrphan +
                           ".troupe.tmp (a partial file of an interrupted write)\n");
  EXPECT_CONTAINS(all, "removed " + loaded + "/state.tmp (a partial file of an interrupted write)");
  EXPECT_CONTAINS(all, "removed " + code + "/" + kOrphan +
                           " (libraries of a bundle no state line names, left by an interrupted "
                           "load)\n");
  EXPECT_FALSE(fs::exists(loaded + "/" + kOrphan + ".troupe"));
  EXPECT_FALSE(fs::exists(code + "/" + kOrphan));
  for (const std::string& hash : {kRecorded, kLoaded}) {
    EXPECT_TRUE(fs::exists(loaded + "/" + hash + ".troupe")) << hash;
    EXPECT_TRUE(fs::exists(code + "/" + hash + "/lib/x.so")) << hash;
  }
  EXPECT_TRUE(fs::exists(loaded + "/crashes"));
  EXPECT_TRUE(fs::exists(loaded + "/notes.troupe"));
  EXPECT_TRUE(fs::exists(code + "/not-a-hash"));
}

TEST(LeftoversTest, MissingDirectoriesAreNoError) {
  troupe::testing::TempDir temp("leftovers");
  EXPECT_TRUE(
      RemoveLeftovers(temp.path() + "/none", temp.path() + "/none/code", "", [](std::string_view) {
        return false;
      }).empty());
}

}  // namespace
}  // namespace troupe::hosting
