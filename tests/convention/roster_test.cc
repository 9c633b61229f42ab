// Tests of the leader's roster and every daemon's directory: joins, check-ins,
// expiry on an injected clock, restarts (new incarnations) and leaves.
#include "daemon/convention/roster.h"

#include <gtest/gtest.h>

#include "daemon/common/clock.h"
#include "daemon/convention/directory.h"
#include "tests/common/status_matchers.h"

namespace troupe::convention {
namespace {

v1::MemberInfo Info(std::string address, uint64_t incarnation = 1, std::string caps = "{}") {
  v1::MemberInfo info;
  info.set_address(std::move(address));
  info.set_incarnation(incarnation);
  info.set_capabilities_json(std::move(caps));
  return info;
}

class RosterTest : public ::testing::Test {
 protected:
  ManualClock clock_{absl::FromUnixSeconds(1000)};
  Roster roster_{Info("leader:1"), absl::Seconds(1), 3};
};

TEST_F(RosterTest, RegisterAddsAMemberOnceAndReportsAJoin) {
  absl::StatusOr<std::vector<RosterEvent>> events = roster_.Register(Info("m:2"), clock_.Now());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, v1::ROSTER_CHANGE_JOINED);
  EXPECT_EQ((*events)[0].member.address(), "m:2");
  EXPECT_EQ((*events)[0].member.joined_unix_ms(), 1000000);
  // The same incarnation again (its stream broke and it came back): no news.
  events = roster_.Register(Info("m:2"), clock_.Now());
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
  std::vector<v1::MemberInfo> members = roster_.Members();
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].address(), "leader:1");
  EXPECT_TRUE(members[0].leader());
  EXPECT_FALSE(members[1].leader());
}

TEST_F(RosterTest, ARestartedMemberLeavesAndJoinsAgain) {
  ASSERT_TRUE(roster_.Register(Info("m:2", 1), clock_.Now()).ok());
  absl::StatusOr<std::vector<RosterEvent>> events = roster_.Register(Info("m:2", 2), clock_.Now());
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kind, v1::ROSTER_CHANGE_LEFT);
  EXPECT_EQ((*events)[0].member.incarnation(), 1u);
  EXPECT_EQ((*events)[0].reason, "restarted");
  EXPECT_EQ((*events)[1].kind, v1::ROSTER_CHANGE_JOINED);
  EXPECT_EQ((*events)[1].member.incarnation(), 2u);
  // The old incarnation's check-ins are refused: it must register.
  EXPECT_EQ(roster_.CheckIn(Info("m:2", 1), clock_.Now()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RosterTest, TheLeadersOwnAddressIsRefused) {
  absl::Status own = roster_.Register(Info("leader:1"), clock_.Now()).status();
  EXPECT_EQ(own.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(own.message(), "own address");
  EXPECT_EQ(roster_.Register(Info(""), clock_.Now()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RosterTest, AMemberExpiresAfterItsMissedCheckinsAndNotBefore) {
  ASSERT_TRUE(roster_.Register(Info("m:2"), clock_.Now()).ok());
  ASSERT_TRUE(roster_.Register(Info("m:3"), clock_.Now()).ok());
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(roster_.CheckIn(Info("m:3"), clock_.Now()).ok());
  clock_.Advance(absl::Seconds(1));  // m:2 silent for exactly 3 periods: still in
  EXPECT_TRUE(roster_.Expire(clock_.Now()).empty());
  clock_.Advance(absl::Milliseconds(1));
  std::vector<RosterEvent> expired = roster_.Expire(clock_.Now());
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].kind, v1::ROSTER_CHANGE_EXPIRED);
  EXPECT_EQ(expired[0].member.address(), "m:2");
  EXPECT_CONTAINS(expired[0].reason, "missed 3 check-ins");
  EXPECT_FALSE(roster_.Contains("m:2"));
  EXPECT_TRUE(roster_.Contains("m:3"));
  // The leader itself never expires.
  clock_.Advance(absl::Hours(1));
  std::vector<RosterEvent> later = roster_.Expire(clock_.Now());
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].member.address(), "m:3");
  EXPECT_TRUE(roster_.Contains("leader:1"));
}

TEST_F(RosterTest, CheckinsReportCapabilityChangesOnly) {
  ASSERT_TRUE(roster_.Register(Info("m:2"), clock_.Now()).ok());
  v1::MemberInfo same = Info("m:2");
  same.mutable_load()->set_live_actors(7);
  absl::StatusOr<std::vector<RosterEvent>> events = roster_.CheckIn(same, clock_.Now());
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
  EXPECT_EQ(roster_.Members()[1].load().live_actors(), 7u);
  events = roster_.CheckIn(Info("m:2", 1, R"({"gpu":true})"), clock_.Now());
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, v1::ROSTER_CHANGE_CAPABILITIES);
  EXPECT_EQ((*events)[0].member.capabilities_json(), R"({"gpu":true})");
}

TEST_F(RosterTest, LeaveRemovesAtOnceAndTheLeadersChangesAreReported) {
  ASSERT_TRUE(roster_.Register(Info("m:2"), clock_.Now()).ok());
  std::vector<RosterEvent> left = roster_.Leave("m:2", "shutting down");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].kind, v1::ROSTER_CHANGE_LEFT);
  EXPECT_EQ(left[0].reason, "shutting down");
  EXPECT_TRUE(roster_.Leave("m:2", "again").empty());
  EXPECT_TRUE(roster_.UpdateLeader(Info("leader:1")).empty());
  std::vector<RosterEvent> changed = roster_.UpdateLeader(Info("leader:1", 1, R"({"x":1})"));
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_TRUE(changed[0].member.leader());
}

TEST_F(RosterTest, ABundleLoadedOrActivatedIsReportedAtTheCheckinThatShowsIt) {
  ASSERT_TRUE(roster_.Register(Info("m:2"), clock_.Now()).ok());
  v1::MemberInfo loaded = Info("m:2");
  v1::BundleSummary* bundle = loaded.add_bundles();
  bundle->set_hash("aa11");
  bundle->set_group("hello");
  absl::StatusOr<std::vector<RosterEvent>> events = roster_.CheckIn(loaded, clock_.Now());
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, v1::ROSTER_CHANGE_BUNDLES);
  EXPECT_EQ((*events)[0].member.bundles(0).group(), "hello");
  events = roster_.CheckIn(loaded, clock_.Now());
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty()) << "the same list again is no change";
  bundle->set_active(true);
  events = roster_.CheckIn(loaded, clock_.Now());
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, v1::ROSTER_CHANGE_BUNDLES);
  // A capability change with it is one CAPABILITIES event (the entry carries both).
  v1::MemberInfo both = Info("m:2", 1, R"({"gpu":true})");
  events = roster_.CheckIn(both, clock_.Now());
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, v1::ROSTER_CHANGE_CAPABILITIES);
  v1::MemberInfo leader = Info("leader:1");
  leader.add_bundles()->set_hash("bb22");
  std::vector<RosterEvent> own = roster_.UpdateLeader(leader);
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own[0].kind, v1::ROSTER_CHANGE_BUNDLES);
}

TEST(DirectoryTest, ABundlesChangeUpdatesTheMembersEntry) {
  Directory directory("m:2");
  directory.Replace({Info("leader:1"), Info("m:2"), Info("m:3")});
  v1::MemberInfo with_bundle = Info("m:3");
  with_bundle.add_bundles()->set_group("hello");
  EXPECT_TRUE(directory.Apply({v1::ROSTER_CHANGE_BUNDLES, with_bundle, ""}));
  bool found = false;
  for (const v1::MemberInfo& m : directory.Members()) {
    if (m.address() != "m:3") continue;
    found = true;
    ASSERT_EQ(m.bundles_size(), 1);
    EXPECT_EQ(m.bundles(0).group(), "hello");
  }
  EXPECT_TRUE(found);
  std::vector<RosterEvent> replaced = directory.Replace({Info("leader:1"), Info("m:2"), Info("m:3")});
  ASSERT_EQ(replaced.size(), 1u);
  EXPECT_EQ(replaced[0].kind, v1::ROSTER_CHANGE_BUNDLES);
}

TEST(DirectoryTest, ReplaceReportsTheDifference) {
  Directory directory("m:2");
  std::vector<RosterEvent> first = directory.Replace({Info("leader:1"), Info("m:2"), Info("m:3")});
  EXPECT_EQ(first.size(), 3u);
  std::vector<RosterEvent> second =
      directory.Replace({Info("leader:1", 1, R"({"a":1})"), Info("m:2"), Info("m:4")});
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0].kind, v1::ROSTER_CHANGE_LEFT);
  EXPECT_EQ(second[0].member.address(), "m:3");
  EXPECT_EQ(second[1].kind, v1::ROSTER_CHANGE_CAPABILITIES);
  EXPECT_EQ(second[1].member.address(), "leader:1");
  EXPECT_EQ(second[2].kind, v1::ROSTER_CHANGE_JOINED);
  EXPECT_EQ(second[2].member.address(), "m:4");
}

TEST(DirectoryTest, ApplyIgnoresStaleNewsAndClearKeepsOnlySelf) {
  Directory directory("m:2");
  EXPECT_TRUE(directory.Apply({v1::ROSTER_CHANGE_JOINED, Info("m:3", 5), ""}));
  EXPECT_FALSE(directory.Apply({v1::ROSTER_CHANGE_JOINED, Info("m:3", 5), ""}));
  // An older incarnation leaving does not remove the current one.
  EXPECT_FALSE(directory.Apply({v1::ROSTER_CHANGE_LEFT, Info("m:3", 4), ""}));
  EXPECT_TRUE(directory.Contains("m:3"));
  EXPECT_TRUE(directory.Apply({v1::ROSTER_CHANGE_JOINED, Info("m:2", 1), ""}));
  std::vector<RosterEvent> cleared = directory.Clear("leader gone");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].member.address(), "m:3");
  EXPECT_EQ(cleared[0].reason, "leader gone");
  EXPECT_TRUE(directory.Contains("m:2"));
  EXPECT_FALSE(directory.Contains("m:3"));
}

}  // namespace
}  // namespace troupe::convention
