// config_test.cc - troupe_config: defaults, one value per file, sources,
// validation and the problems list.
#include "daemon/config/config.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"

namespace troupe::config {
namespace {

std::string MakeTempDir() {
  std::string dir = ::testing::TempDir() + "/config_test.XXXXXX";
  EXPECT_NE(::mkdtemp(dir.data()), nullptr);
  return dir;
}

void WriteSetting(const std::string& dir, const std::string& name, const std::string& text) {
  std::filesystem::create_directories(dir + "/config");
  std::ofstream(dir + "/config/" + name) << text;
}

TEST(ConfigTest, MissingDirectoryGivesDefaults) {
  const Config config = Config::LoadFrom("/nonexistent/troupe", "--dir");
  EXPECT_EQ(config.dir(), "/nonexistent/troupe");
  EXPECT_EQ(config.dir_source(), "--dir");
  EXPECT_EQ(config.bundles_dir(), "/nonexistent/troupe/bundles");
  EXPECT_EQ(config.trusted_keys_dir(), "/nonexistent/troupe/keys/trusted");
  EXPECT_OK(config.Check());
  ASSERT_EQ(config.values().size(), Settings().size());
  for (const SettingValue& value : config.values()) EXPECT_EQ(value.source, "default");
  ASSERT_OK_AND_ASSIGN(uint32_t keep, config.KeepLimit());
  EXPECT_EQ(keep, 0u);
  ASSERT_OK_AND_ASSIGN(bundle::Limits limits, config.BundleLimits());
  EXPECT_EQ(limits.max_entries, bundle::Limits{}.max_entries);
  ASSERT_OK_AND_ASSIGN(std::string remote, config.AllowRemoteActorSources());
  EXPECT_EQ(remote, "no");
}

TEST(ConfigTest, ValuesComeFromTrimmedFilesAndSayWhere) {
  const std::string dir = MakeTempDir();
  WriteSetting(dir, "keep_limit", "  5\n");
  WriteSetting(dir, "max_entries", "10\n");
  WriteSetting(dir, "convleader", "leader.example:1900\n");
  const Config config = Config::LoadFrom(dir, "env TROUPE_DIR");
  EXPECT_OK(config.Check());
  ASSERT_OK_AND_ASSIGN(uint32_t keep, config.KeepLimit());
  EXPECT_EQ(keep, 5u);
  ASSERT_OK_AND_ASSIGN(bundle::Limits limits, config.BundleLimits());
  EXPECT_EQ(limits.max_entries, 10u);
  EXPECT_EQ(config.Find("keep_limit")->source, "file " + dir + "/config/keep_limit");
  EXPECT_EQ(config.Find("max_total_bytes")->source, "default");
  ASSERT_OK_AND_ASSIGN(std::string leader, config.ConventionLeader());
  EXPECT_EQ(leader, "leader.example:1900");
}

TEST(ConfigTest, CheckListsEveryInvalidValueWithItsFile) {
  const std::string dir = MakeTempDir();
  WriteSetting(dir, "keep_limit", "three");
  WriteSetting(dir, "allow_remote_actor_sources", "True");
  WriteSetting(dir, "convleader", "leader.example");
  WriteSetting(dir, "max_entries", "0");
  WriteSetting(dir, "keeplimit", "3");
  const Config config = Config::LoadFrom(dir, "--dir");
  const absl::Status status = config.Check();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(config.problems().size(), 5u) << status;
  const std::string message(status.message());
  EXPECT_NE(message.find(dir + "/config/keep_limit: keep_limit: 'three'"), std::string::npos);
  EXPECT_NE(message.find("'True' is not one of yes, no, leader-only"), std::string::npos);
  EXPECT_NE(message.find("convleader"), std::string::npos);
  EXPECT_NE(message.find("keeplimit: unknown setting"), std::string::npos);
  EXPECT_EQ(config.KeepLimit().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.BundleLimits().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, AcceptsTheDocumentedForms) {
  const std::string dir = MakeTempDir();
  for (const char* remote : {"yes", "no", "leader-only"}) {
    WriteSetting(dir, "allow_remote_actor_sources", remote);
    EXPECT_OK(Config::LoadFrom(dir, "--dir").Check()) << remote;
  }
  for (const char* leader : {"", "10.0.0.1:1900", "[::1]:1900", "host-a.example:65535"}) {
    WriteSetting(dir, "convleader", leader);
    EXPECT_OK(Config::LoadFrom(dir, "--dir").Check()) << leader;
  }
  for (const char* leader : {"host:0", "host:70000", ":1900", "ho st:1"}) {
    WriteSetting(dir, "convleader", leader);
    EXPECT_FALSE(Config::LoadFrom(dir, "--dir").Check().ok()) << leader;
  }
}

TEST(ConfigTest, AFifoOrDirectoryAsAValueIsAProblemAtOnce) {
  const std::string dir = MakeTempDir();
  std::filesystem::create_directories(dir + "/config");
  ASSERT_EQ(::mkfifo((dir + "/config/keep_limit").c_str(), 0600), 0);
  std::filesystem::create_directories(dir + "/config/convleader");
  const Config config = Config::LoadFrom(dir, "--dir");  // must not wait for a writer
  ASSERT_EQ(config.problems().size(), 2u) << config.Check();
  EXPECT_EQ(config.problems()[0],
            dir + "/config/keep_limit: keep_limit: not a regular file (a fifo)");
  EXPECT_EQ(config.problems()[1],
            dir + "/config/convleader: convleader: not a regular file (a directory)");
  EXPECT_EQ(config.Find("keep_limit")->source, "file " + dir + "/config/keep_limit");
}

TEST(ConfigTest, AnOversizedValueIsAProblem) {
  const std::string dir = MakeTempDir();
  WriteSetting(dir, "keep_limit", std::string(70000, '1'));
  const Config config = Config::LoadFrom(dir, "--dir");
  ASSERT_EQ(config.problems().size(), 1u) << config.Check();
  EXPECT_EQ(config.problems()[0],
            dir + "/config/keep_limit: keep_limit: 70000 bytes, more than the limit of 65536");
}

TEST(ConfigTest, DirectoryComesFromFlagThenEnvironmentThenDefault) {
  ::setenv("TROUPE_DIR", "/from/env", 1);
  EXPECT_EQ(Config::Load("/from/flag").dir(), "/from/flag");
  EXPECT_EQ(Config::Load("/from/flag").dir_source(), "--dir");
  EXPECT_EQ(Config::Load("").dir(), "/from/env");
  EXPECT_EQ(Config::Load("").dir_source(), "env TROUPE_DIR");
  ::unsetenv("TROUPE_DIR");
  EXPECT_EQ(Config::Load("").dir(), "/var/lib/troupe");
  EXPECT_EQ(Config::Load("").dir_source(), "default");
}

}  // namespace
}  // namespace troupe::config
