// Tests of MatchUnloadTarget: which loaded bundles an unload target names
// (hashes, unique prefixes, groups, GROUP-VERSION) and the errors for
// ambiguous or unknown targets.
#include "daemon/hosting/unload_target.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"

namespace troupe::hosting {
namespace {

std::string Hash(std::string_view prefix) {
  std::string hash(prefix);
  hash.resize(64, '0');
  return hash;
}

const std::vector<LoadedName> kLoaded = {
    {Hash("aaaa1111bbbb"), "hello", "1.0"},
    {Hash("aaaa1111cccc"), "hello", "2.0"},
    {Hash("dddd2222"), "other", "1.0-rc.1"},
    {Hash("cafebabe99"), "world", "3"},
};

std::vector<size_t> Match(std::string_view target) {
  absl::StatusOr<std::vector<size_t>> matches = MatchUnloadTarget(target, kLoaded);
  EXPECT_TRUE(matches.ok()) << matches.status();
  return matches.ok() ? *matches : std::vector<size_t>{};
}

TEST(UnloadTargetTest, AFullHashNamesThatBundle) {
  EXPECT_EQ(Match(Hash("dddd2222")), std::vector<size_t>{2});
}

TEST(UnloadTargetTest, AUniquePrefixOfEightDigitsNamesThatBundleInAnyCase) {
  EXPECT_EQ(Match("dddd2222"), std::vector<size_t>{2});
  EXPECT_EQ(Match("AAAA1111BBBB"), std::vector<size_t>{0});
}

TEST(UnloadTargetTest, AnAmbiguousPrefixIsRefusedListingTheMatches) {
  absl::StatusOr<std::vector<size_t>> matches = MatchUnloadTarget("aaaa1111", kLoaded);
  EXPECT_EQ(matches.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(matches.status().message(), "hash prefix 'aaaa1111' is ambiguous");
  EXPECT_CONTAINS(matches.status().message(), Hash("aaaa1111bbbb") + " (hello 1.0)");
  EXPECT_CONTAINS(matches.status().message(), Hash("aaaa1111cccc") + " (hello 2.0)");
}

TEST(UnloadTargetTest, AShortPrefixIsNotAHash) {
  absl::StatusOr<std::vector<size_t>> matches = MatchUnloadTarget("dddd222", kLoaded);
  EXPECT_EQ(matches.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(matches.status().message(), "a hash prefix needs at least 8 hex digits");
}

TEST(UnloadTargetTest, AGroupNamesEveryVersion) {
  EXPECT_EQ(Match("hello"), (std::vector<size_t>{0, 1}));
}

TEST(UnloadTargetTest, AGroupThatLooksLikeHexIsStillAGroup) {
  std::vector<LoadedName> loaded = {{Hash("1234"), "cafebabe", "1.0"}};
  absl::StatusOr<std::vector<size_t>> matches = MatchUnloadTarget("cafebabe", loaded);
  ASSERT_OK(matches);
  EXPECT_EQ(*matches, std::vector<size_t>{0});
}

TEST(UnloadTargetTest, GroupDashVersionSplitsAtTheFirstDashAndComparesVersions) {
  EXPECT_EQ(Match("hello-2.0"), std::vector<size_t>{1});
  EXPECT_EQ(Match("hello-2"), std::vector<size_t>{1}) << "2 == 2.0 in version order";
  EXPECT_EQ(Match("other-1.0-rc.1"), std::vector<size_t>{2});
  EXPECT_EQ(Match("world-3.0.0"), std::vector<size_t>{3});
}

TEST(UnloadTargetTest, NothingMatchingIsNotFoundAndSaysWhatIsLoaded) {
  absl::StatusOr<std::vector<size_t>> matches = MatchUnloadTarget("hello-9.0", kLoaded);
  EXPECT_EQ(matches.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(matches.status().message(), "no loaded bundle matches 'hello-9.0'");
  EXPECT_CONTAINS(matches.status().message(), "hello 1.0 (aaaa1111bbbb0000)");
  EXPECT_CONTAINS(matches.status().message(), "director list");

  absl::StatusOr<std::vector<size_t>> none = MatchUnloadTarget("hello", {});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(none.status().message(), "no bundle is loaded");
}

TEST(UnloadTargetTest, AnEmptyTargetIsInvalid) {
  EXPECT_EQ(MatchUnloadTarget("", kLoaded).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace troupe::hosting
