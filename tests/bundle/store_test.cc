// store_test.cc - ListBundleFiles and ApplyKeepLimit on a temporary
// directory.
#include "daemon/bundle/store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/common/status_matchers.h"

namespace troupe::bundle {
namespace {

namespace fs = std::filesystem;

// A fresh directory under ::testing::TempDir(), removed afterwards.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << pattern;
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Touch(const std::string& name) {
    std::string path = (fs::path(dir_) / name).string();
    std::ofstream(path) << "x";
    return path;
  }
  bool Exists(const std::string& name) const { return fs::exists(fs::path(dir_) / name); }

  std::vector<std::string> Names(const std::vector<BundleFile>& files) const {
    std::vector<std::string> names;
    for (const BundleFile& file : files) names.push_back(fs::path(file.path).filename().string());
    return names;
  }

  std::string dir_;
};

TEST_F(StoreTest, ListingSortsByGroupThenNewestFirst) {
  for (const char* name :
       {"foo-1.9.troupe", "foo-1.10.troupe", "bar-2.troupe", "foo-2.0-rc.1.troupe",
        "foo-202611261200.troupe", "bar-1.troupe", "foo-2.0.troupe"}) {
    Touch(name);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<BundleFile> files, ListBundleFiles(dir_));
  EXPECT_EQ(Names(files),
            (std::vector<std::string>{"bar-2.troupe", "bar-1.troupe", "foo-202611261200.troupe",
                                      "foo-2.0.troupe", "foo-2.0-rc.1.troupe", "foo-1.10.troupe",
                                      "foo-1.9.troupe"}));
  EXPECT_EQ(files[0].group, "bar");
  EXPECT_EQ(files[0].version, "2");
  EXPECT_EQ(files[4].group, "foo");
  EXPECT_EQ(files[4].version, "2.0-rc.1");  // split at the first '-'
  EXPECT_EQ(files[0].path, (fs::path(dir_) / "bar-2.troupe").string());
}

TEST_F(StoreTest, ListingIgnoresOtherFiles) {
  Touch("foo-1.troupe");
  for (const char* name : {"foo.troupe", "foo-.troupe", "foo-1.tls", "foo-1.troupe.tmp",
                           "Foo-1.troupe", "foo-v2.troupe", "foo-None.troupe", "-1.troupe",
                           ".troupe", "README", "foo-15a5gamma1.troupe"}) {
    Touch(name);
  }
  fs::create_directory(fs::path(dir_) / "dir-1.troupe");
  ASSERT_OK_AND_ASSIGN(std::vector<BundleFile> files, ListBundleFiles(dir_));
  EXPECT_EQ(Names(files), std::vector<std::string>{"foo-1.troupe"});
}

TEST_F(StoreTest, MissingDirectoryIsEmpty) {
  ASSERT_OK_AND_ASSIGN(std::vector<BundleFile> files, ListBundleFiles(dir_ + "/nope"));
  EXPECT_TRUE(files.empty());
}

TEST_F(StoreTest, KeepLimitDeletesOldestBeyondKeep) {
  for (const char* name : {"foo-1.troupe", "foo-2.troupe", "foo-3.troupe", "foo-4.troupe",
                           "bar-1.troupe", "bar-0.troupe", "notes.txt"}) {
    Touch(name);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> deleted, ApplyKeepLimit(dir_, "foo", 2));
  EXPECT_EQ(deleted, (std::vector<std::string>{(fs::path(dir_) / "foo-2.troupe").string(),
                                               (fs::path(dir_) / "foo-1.troupe").string()}));
  EXPECT_TRUE(Exists("foo-4.troupe"));
  EXPECT_TRUE(Exists("foo-3.troupe"));
  EXPECT_FALSE(Exists("foo-2.troupe"));
  EXPECT_FALSE(Exists("foo-1.troupe"));
  EXPECT_TRUE(Exists("bar-1.troupe"));  // other groups untouched
  EXPECT_TRUE(Exists("bar-0.troupe"));
  EXPECT_TRUE(Exists("notes.txt"));
  // Applying it again deletes nothing more.
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> again, ApplyKeepLimit(dir_, "foo", 2));
  EXPECT_TRUE(again.empty());
}

TEST_F(StoreTest, KeepLimitNeverDeletesTheNewest) {
  Touch("foo-1.troupe");
  Touch("foo-2.troupe");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> deleted, ApplyKeepLimit(dir_, "foo", 1));
  EXPECT_EQ(deleted, std::vector<std::string>{(fs::path(dir_) / "foo-1.troupe").string()});
  EXPECT_TRUE(Exists("foo-2.troupe"));
  // Even when the newest is a pre-release of an existing release it is the
  // version order, not the file time, that decides.
  Touch("foo-2.1-rc.1.troupe");
  ASSERT_OK_AND_ASSIGN(deleted, ApplyKeepLimit(dir_, "foo", 1));
  EXPECT_EQ(deleted, std::vector<std::string>{(fs::path(dir_) / "foo-2.troupe").string()});
  EXPECT_TRUE(Exists("foo-2.1-rc.1.troupe"));
}

TEST_F(StoreTest, KeepLimitNeverDeletesProtectedPaths) {
  for (const char* name : {"foo-1.troupe", "foo-2.troupe", "foo-3.troupe"}) Touch(name);
  // A protected path matches however it is spelled.
  std::string loaded = dir_ + "//./foo-1.troupe";
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> deleted, ApplyKeepLimit(dir_, "foo", 1, {loaded}));
  EXPECT_EQ(deleted, std::vector<std::string>{(fs::path(dir_) / "foo-2.troupe").string()});
  EXPECT_TRUE(Exists("foo-1.troupe"));
  EXPECT_TRUE(Exists("foo-3.troupe"));
}

TEST_F(StoreTest, KeepLimitZeroDeletesNothing) {
  for (const char* name : {"foo-1.troupe", "foo-2.troupe", "foo-3.troupe"}) Touch(name);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> deleted, ApplyKeepLimit(dir_, "foo", 0));
  EXPECT_TRUE(deleted.empty());
  EXPECT_TRUE(Exists("foo-1.troupe"));
}

TEST_F(StoreTest, KeepLimitPrintsNothing) {
  for (const char* name : {"foo-1.troupe", "foo-2.troupe"}) Touch(name);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> deleted, ApplyKeepLimit(dir_, "foo", 1));
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(deleted.size(), 1u);
}

TEST_F(StoreTest, KeepLimitOnMissingDirectoryDeletesNothing) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> deleted, ApplyKeepLimit(dir_ + "/nope", "foo", 1));
  EXPECT_TRUE(deleted.empty());
}

}  // namespace
}  // namespace troupe::bundle
