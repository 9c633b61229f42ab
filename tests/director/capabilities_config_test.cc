// capabilities_config_test.cc - troupe_config's capability files
// (daemon/config/capabilities.h): capabilities.json, capabilities/<name>,
// and their problems in Config::Check (what troupd and `director config
// check` refuse).
#include "daemon/config/capabilities.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/config/config.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::config {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

std::vector<std::string> Names(const std::vector<CapabilityValue>& values) {
  std::vector<std::string> out;
  for (const CapabilityValue& v : values) out.push_back(v.name + "=" + v.value_json);
  return out;
}

TEST(CapabilityFilesTest, NoFilesMeanNoCapabilities) {
  troupe::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::vector<CapabilityValue> values, LoadCapabilities(dir.path()));
  EXPECT_TRUE(values.empty());
  EXPECT_OK(Config::LoadFrom(dir.path(), "--dir").Check());
}

TEST(CapabilityFilesTest, TheJsonObjectGivesEveryKindOfValueCompactly) {
  troupe::testing::TempDir dir;
  Write(dir.path() + "/capabilities.json", R"({
    "zone": "eu-west",
    "memory_gb": 64,
    "gpu": true,
    "arch": ["x86_64", "avx2"],
    "rack": {"row": 3},
    "spare": null
  })");
  ASSERT_OK_AND_ASSIGN(std::vector<CapabilityValue> values, LoadCapabilities(dir.path()));
  EXPECT_EQ(Names(values),
            (std::vector<std::string>{R"(zone="eu-west")", "memory_gb=64", "gpu=true",
                                      R"(arch=["x86_64","avx2"])", R"(rack={"row":3})",
                                      "spare=null"}));
  EXPECT_EQ(values[0].source, dir.path() + "/capabilities.json");
}

TEST(CapabilityFilesTest, OneFilePerCapabilityIsJsonOrElsePlainText) {
  troupe::testing::TempDir dir;
  Write(dir.path() + "/capabilities.json", R"({"zone": "eu", "gpu": false})");
  Write(dir.path() + "/capabilities/gpu", "true\n");
  Write(dir.path() + "/capabilities/cores_reserved", " 2 ");
  Write(dir.path() + "/capabilities/region", "eu-west-1\n");
  Write(dir.path() + "/capabilities/labels", R"(["a", "b"])");
  Write(dir.path() + "/capabilities/quoted", "\"with spaces\"");
  Write(dir.path() + "/capabilities/.hidden", "ignored");
  Write(dir.path() + "/capabilities/region~", "editor backup, ignored");
  ASSERT_OK_AND_ASSIGN(std::vector<CapabilityValue> values, LoadCapabilities(dir.path()));
  EXPECT_EQ(Names(values),
            (std::vector<std::string>{R"(zone="eu")", "gpu=true", "cores_reserved=2",
                                      R"(labels=["a","b"])", R"(quoted="with spaces")",
                                      R"(region="eu-west-1")"}))
      << "a file's value wins over capabilities.json and keeps its place";
  EXPECT_EQ(values[1].source, dir.path() + "/capabilities/gpu");
}

TEST(CapabilityFilesTest, BadFilesAreProblemsNamingTheFileAndWhatIsWrong) {
  troupe::testing::TempDir dir;
  Write(dir.path() + "/capabilities.json", "{\n  \"zone\": \"eu\",\n  \"gpu\" true\n}\n");
  Write(dir.path() + "/capabilities/broken", "[1, 2");
  Write(dir.path() + "/capabilities/empty", "  \n");
  Write(dir.path() + "/capabilities/troupe.cores", "64");
  absl::StatusOr<std::vector<CapabilityValue>> loaded = LoadCapabilities(dir.path());
  ASSERT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(loaded.status().message());
  EXPECT_CONTAINS(message, dir.path() + "/capabilities.json: not valid JSON: at line 3, column 9: "
                                        "expected ':' after a member name");
  EXPECT_CONTAINS(message, dir.path() + "/capabilities/broken: looks like JSON but is not: ");
  EXPECT_CONTAINS(message, dir.path() + "/capabilities/empty: empty");
  EXPECT_CONTAINS(message, dir.path() + "/capabilities/troupe.cores: capability 'troupe.cores' "
                                        "is read-only: troupd sets it");

  // The same problems make the configuration invalid (troupd's start,
  // `director config check`), one per line.
  const Config config = Config::LoadFrom(dir.path(), "--dir");
  EXPECT_EQ(config.problems().size(), 4u) << config.Check();
  EXPECT_EQ(config.Check().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(config.Check().message(), dir.path() + "/capabilities.json: not valid JSON");
}

TEST(CapabilityFilesTest, TheObjectFileMustBeAnObjectWithoutRepeatsOrReadOnlyNames) {
  troupe::testing::TempDir dir;
  Write(dir.path() + "/capabilities.json", R"(["gpu"])");
  EXPECT_CONTAINS(LoadCapabilities(dir.path()).status().message(),
                  "capabilities.json: must be a JSON object of capability name -> value");
  Write(dir.path() + "/capabilities.json", R"({"zone": "eu", "zone": "us", "troupe.host": "x"})");
  const std::string message(LoadCapabilities(dir.path()).status().message());
  EXPECT_CONTAINS(message, "capabilities.json: capability 'zone' is given twice");
  EXPECT_CONTAINS(message, "capabilities.json: capability 'troupe.host' is read-only");
  EXPECT_TRUE(IsReadOnlyCapability("troupe.abi_version"));
  EXPECT_FALSE(IsReadOnlyCapability("troupe.other"));
}

}  // namespace
}  // namespace troupe::config
