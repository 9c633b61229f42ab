// Tests of a member's decisions (MemberState) on a ManualClock, without
// processes, sockets or sleeps: attempts and retries, the welcome, check-ins
// and the silent leader, Stop with and without a leave, another leader,
// CheckInAndWait, the problem texts, and what the leader's pushes (welcome,
// changes, bundle lists, acknowledgements) and losing it do to the directory.
#include "daemon/convention/member_state.h"

#include <gtest/gtest.h>

#include "daemon/common/clock.h"
#include "daemon/convention/directory.h"

namespace troupe::convention {
namespace {

constexpr char kLeader[] = "leader:1";

v1::MemberInfo Info(std::string address, uint64_t incarnation = 1) {
  v1::MemberInfo info;
  info.set_address(std::move(address));
  info.set_incarnation(incarnation);
  info.set_capabilities_json("{}");
  return info;
}

class MemberStateTest : public ::testing::Test {
 protected:
  // Registered with kLeader and checking in, as after a welcome.
  void Join() {
    ASSERT_EQ(state_.BeginAttempt(), kLeader);
    ASSERT_TRUE(state_.MayStartSession(kLeader));
    state_.OnWelcome();
    state_.StartCheckIns();
  }
  SessionStep::Action Next(bool reader_done = false) {
    return state_.NextStep(kLeader, reader_done).action;
  }

  ManualClock clock_{absl::FromUnixSeconds(1000)};
  MemberState state_{kLeader, absl::Seconds(1), 3, &clock_};
};

TEST_F(MemberStateTest, AttemptsNameTheLeaderUntilStopped) {
  EXPECT_FALSE(state_.joined());
  EXPECT_EQ(state_.problem(), "");
  EXPECT_EQ(state_.BeginAttempt(), kLeader);
  EXPECT_TRUE(state_.MayStartSession(kLeader));
  EXPECT_FALSE(state_.MayStartSession("other:2"));
  state_.Stop(false);
  EXPECT_TRUE(state_.Stopping());
  EXPECT_EQ(state_.BeginAttempt(), std::nullopt);
  EXPECT_FALSE(state_.MayStartSession(kLeader));
}

TEST_F(MemberStateTest, AWelcomeJoinsAndClearsTheProblem) {
  ASSERT_TRUE(state_.BeginAttempt().has_value());
  (void)state_.OnNoWelcome(kLeader);
  EXPECT_EQ(state_.problem(), "leader leader:1 did not answer with a welcome");
  state_.OnWelcome();
  EXPECT_TRUE(state_.joined());
  EXPECT_EQ(state_.problem(), "");
}

TEST_F(MemberStateTest, ChecksInOncePerPeriod) {
  Join();
  SessionStep step = state_.NextStep(kLeader, false);
  EXPECT_EQ(step.action, SessionStep::kWait);
  EXPECT_EQ(step.until, clock_.Now() + absl::Seconds(1));
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(Next(), SessionStep::kWait);
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Next(), SessionStep::kCheckIn);
  EXPECT_EQ(state_.checkins_sent(), 1u);
  step = state_.NextStep(kLeader, false);
  EXPECT_EQ(step.action, SessionStep::kWait) << "one check-in per period";
  EXPECT_EQ(step.until, clock_.Now() + absl::Seconds(1));
}

TEST_F(MemberStateTest, ARequestedCheckInIsDueAtOnceAndRestartsThePeriod) {
  Join();
  clock_.Advance(absl::Milliseconds(400));
  state_.RequestCheckIn();
  EXPECT_EQ(Next(), SessionStep::kCheckIn);
  SessionStep step = state_.NextStep(kLeader, false);
  EXPECT_EQ(step.action, SessionStep::kWait);
  EXPECT_EQ(step.until, clock_.Now() + absl::Seconds(1));
}

TEST_F(MemberStateTest, TheLeaderIsSilentOnceTheExpiryIntervalPassesWithoutAnAck) {
  Join();
  for (int i = 1; i <= 3; ++i) {
    clock_.Advance(absl::Seconds(1));
    EXPECT_EQ(Next(), SessionStep::kCheckIn) << "period " << i << " is within the expiry";
  }
  clock_.Advance(absl::Seconds(1));
  SessionStep step = state_.NextStep(kLeader, false);
  EXPECT_EQ(step.action, SessionStep::kSilent);
  EXPECT_EQ(step.warning, "leader leader:1 stopped answering check-ins");
}

TEST_F(MemberStateTest, AcknowledgementsKeepTheLeaderAlive) {
  Join();
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_EQ(Next(), SessionStep::kCheckIn);
    state_.OnAck();
  }
  EXPECT_EQ(state_.checkins_sent(), 10u);
  EXPECT_EQ(state_.checkins_acked(), 10u);
}

TEST_F(MemberStateTest, TheEndOfTheStreamEndsTheSession) {
  Join();
  state_.RequestCheckIn();
  EXPECT_EQ(Next(/*reader_done=*/true), SessionStep::kEnd) << "no check-in on a finished stream";
  EXPECT_EQ(state_.checkins_sent(), 0u);
}

TEST_F(MemberStateTest, StopWithoutALeaveCancelsTheStreamAtOnce) {
  Join();
  EXPECT_TRUE(state_.Stop(/*deregister=*/false));
  EXPECT_EQ(Next(), SessionStep::kEnd);
}

TEST_F(MemberStateTest, StopWithALeaveLetsTheSessionSendIt) {
  Join();
  EXPECT_FALSE(state_.Stop(/*deregister=*/true));
  EXPECT_EQ(Next(), SessionStep::kLeave);
  EXPECT_EQ(Next(/*reader_done=*/true), SessionStep::kLeave) << "stopping comes first";
  EXPECT_EQ(state_.LeaveDeadline(), clock_.Now() + absl::Seconds(1));
}

TEST_F(MemberStateTest, AnotherLeaderEndsTheSessionAndIsTriedNext) {
  Join();
  EXPECT_FALSE(state_.SetLeader(kLeader)) << "the same leader changes nothing";
  EXPECT_EQ(Next(), SessionStep::kWait);
  EXPECT_TRUE(state_.SetLeader("other:2"));
  EXPECT_EQ(state_.leader(), "other:2");
  EXPECT_EQ(Next(), SessionStep::kEnd);
  EXPECT_FALSE(state_.MayStartSession(kLeader));
  (void)state_.OnLeaderLost();
  EXPECT_EQ(state_.BeginAttempt(), "other:2");
}

TEST_F(MemberStateTest, CheckInAndWaitIsRefusedWhenNotJoined) {
  EXPECT_EQ(state_.BeginCheckInWait(), std::nullopt);
}

TEST_F(MemberStateTest, CheckInAndWaitWaitsForTheAckOfANewCheckIn) {
  Join();
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(Next(), SessionStep::kCheckIn);  // sent before the call: may carry the old entry
  std::optional<uint64_t> wanted = state_.BeginCheckInWait();
  ASSERT_EQ(wanted, 2u);
  EXPECT_EQ(Next(), SessionStep::kCheckIn) << "the wait asks for a check-in now";
  state_.OnAck();  // the earlier check-in's
  EXPECT_FALSE(state_.CheckInWaitOver(*wanted));
  EXPECT_FALSE(state_.CheckInConfirmed(*wanted));
  state_.OnAck();
  EXPECT_TRUE(state_.CheckInWaitOver(*wanted));
  EXPECT_TRUE(state_.CheckInConfirmed(*wanted));
}

TEST_F(MemberStateTest, CheckInAndWaitEndsUnconfirmedWhenTheLeaderIsLost) {
  Join();
  std::optional<uint64_t> wanted = state_.BeginCheckInWait();
  ASSERT_TRUE(wanted.has_value());
  (void)state_.OnLeaderLost();
  EXPECT_TRUE(state_.CheckInWaitOver(*wanted));
  EXPECT_FALSE(state_.CheckInConfirmed(*wanted));
}

TEST_F(MemberStateTest, CheckInAndWaitEndsUnconfirmedOnStop) {
  Join();
  std::optional<uint64_t> wanted = state_.BeginCheckInWait();
  ASSERT_TRUE(wanted.has_value());
  state_.Stop(false);
  EXPECT_TRUE(state_.CheckInWaitOver(*wanted));
  EXPECT_FALSE(state_.CheckInConfirmed(*wanted));
}

TEST_F(MemberStateTest, ALeaderThatProvesNothingIsNamedWithTheProofsProblem) {
  const absl::Status proof = absl::PermissionDeniedError("the leader did not prove the key");
  std::optional<std::string> warning =
      state_.OnJoinFailed(kLeader, proof, absl::CancelledError("cancelled by this daemon"));
  EXPECT_EQ(warning, "cannot join leader leader:1: the leader did not prove the key");
  EXPECT_EQ(state_.problem(), *warning);
  // The same problem at the next attempt is not logged again.
  EXPECT_EQ(state_.OnJoinFailed(kLeader, proof, absl::CancelledError("")), std::nullopt);
  EXPECT_EQ(state_.problem(), "cannot join leader leader:1: the leader did not prove the key");
}

TEST_F(MemberStateTest, ALeadersRefusalIsNamedWithItsReason) {
  std::optional<std::string> warning = state_.OnJoinFailed(
      kLeader, absl::OkStatus(),
      absl::FailedPreconditionError("leader:1 is not a leader; its leader is l:9"));
  EXPECT_EQ(warning, "cannot join leader leader:1: leader:1 is not a leader; its leader is l:9");
  // The call's reason wins over a failed proof.
  warning = state_.OnJoinFailed(kLeader, absl::PermissionDeniedError("bad proof"),
                                absl::UnavailableError("connection refused"));
  EXPECT_EQ(warning, "cannot join leader leader:1: connection refused");
}

TEST_F(MemberStateTest, AJoinThatEndsWithoutAReasonNotesNothing) {
  (void)state_.OnNoWelcome(kLeader);
  EXPECT_EQ(state_.OnJoinFailed(kLeader, absl::OkStatus(), absl::OkStatus()), std::nullopt);
  EXPECT_EQ(state_.OnJoinFailed(kLeader, absl::OkStatus(), absl::CancelledError("")),
            std::nullopt);
  EXPECT_EQ(state_.problem(), "leader leader:1 did not answer with a welcome");
}

TEST_F(MemberStateTest, BeingToldToRegisterAgainIsNotedAsALostLeader) {
  Join();
  std::optional<std::string> warning = state_.OnSessionEnded(
      kLeader, /*left=*/false,
      absl::NotFoundError("m:2 is no longer a member; register again"));
  EXPECT_EQ(warning, "lost leader leader:1: m:2 is no longer a member; register again");
  EXPECT_EQ(state_.problem(), *warning);
  // Registering again: a welcome clears it and counts check-ins afresh.
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(Next(), SessionStep::kCheckIn);
  (void)state_.OnLeaderLost();
  EXPECT_FALSE(state_.joined());
  Join();
  EXPECT_EQ(state_.problem(), "");
  EXPECT_EQ(state_.checkins_sent(), 0u);
  EXPECT_EQ(state_.checkins_acked(), 0u);
}

TEST_F(MemberStateTest, ASessionThatLeftOrEndedCleanlyNotesNothing) {
  Join();
  EXPECT_EQ(state_.OnSessionEnded(kLeader, /*left=*/true, absl::CancelledError("cut off")),
            std::nullopt);
  EXPECT_EQ(state_.OnSessionEnded(kLeader, /*left=*/false, absl::OkStatus()), std::nullopt);
  EXPECT_EQ(state_.problem(), "");
}

TEST_F(MemberStateTest, TheNextAttemptIsOnePeriodAfterTheLastBegan) {
  ASSERT_TRUE(state_.BeginAttempt().has_value());
  const absl::Time began = clock_.Now();
  clock_.Advance(absl::Milliseconds(300));  // the attempt took a while
  const absl::Time next = state_.OnLeaderLost();
  EXPECT_EQ(next, began + absl::Seconds(1));
  EXPECT_FALSE(state_.RetryWaitOver(next));
  clock_.Advance(absl::Milliseconds(700));
  EXPECT_TRUE(state_.RetryWaitOver(next));
}

TEST_F(MemberStateTest, StopEndsTheWaitForTheNextAttempt) {
  ASSERT_TRUE(state_.BeginAttempt().has_value());
  const absl::Time next = state_.OnLeaderLost();
  EXPECT_FALSE(state_.RetryWaitOver(next));
  state_.Stop(true);
  EXPECT_TRUE(state_.RetryWaitOver(next));
}

// ---- what the leader's pushes do to the directory

v1::Roster Welcome(std::vector<v1::MemberInfo> members) {
  v1::Roster roster;
  for (v1::MemberInfo& m : members) *roster.add_members() = std::move(m);
  return roster;
}

v1::RosterNews Change(v1::RosterChangeKind kind, v1::MemberInfo member, std::string reason = "") {
  v1::RosterNews news;
  news.mutable_change()->set_kind(kind);
  *news.mutable_change()->mutable_member() = std::move(member);
  news.mutable_change()->set_reason(std::move(reason));
  return news;
}

v1::MemberInfo WithBundle(v1::MemberInfo info, std::string hash, bool active) {
  v1::BundleSummary* b = info.add_bundles();
  b->set_hash(std::move(hash));
  b->set_group("g");
  b->set_version("1.0");
  b->set_active(active);
  return info;
}

TEST(MemberPushesTest, AWelcomeReplacesTheViewAndReportsTheDifference) {
  Directory directory("m:2");
  v1::MemberInfo leader = Info(kLeader);
  leader.set_leader(true);
  std::vector<RosterEvent> events = ApplyWelcome(&directory, Welcome({leader, Info("m:2")}));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, v1::ROSTER_CHANGE_JOINED);
  EXPECT_EQ(events[0].member.address(), kLeader);
  EXPECT_EQ(directory.leader(), kLeader);
  // The next welcome (after a leader restart): m:3 is new, m:2 the same.
  events = ApplyWelcome(&directory, Welcome({leader, Info("m:2"), Info("m:3")}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, v1::ROSTER_CHANGE_JOINED);
  EXPECT_EQ(events[0].member.address(), "m:3");
}

TEST(MemberPushesTest, AChangeIsReportedOnlyWhenItChangesTheView) {
  Directory directory("m:2");
  ApplyWelcome(&directory, Welcome({Info(kLeader), Info("m:2")}));
  bool ack = true;
  std::vector<RosterEvent> events =
      ApplyPush(&directory, Change(v1::ROSTER_CHANGE_JOINED, Info("m:3")), &ack);
  EXPECT_FALSE(ack);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, v1::ROSTER_CHANGE_JOINED);
  EXPECT_TRUE(directory.Contains("m:3"));
  EXPECT_TRUE(ApplyPush(&directory, Change(v1::ROSTER_CHANGE_JOINED, Info("m:3")), &ack).empty())
      << "the same incarnation again";
  events = ApplyPush(&directory, Change(v1::ROSTER_CHANGE_EXPIRED, Info("m:3"), "missed"), &ack);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, v1::ROSTER_CHANGE_EXPIRED);
  EXPECT_EQ(events[0].reason, "missed");
  EXPECT_FALSE(directory.Contains("m:3"));
  EXPECT_TRUE(ApplyPush(&directory, Change(v1::ROSTER_CHANGE_LEFT, Info("m:3")), &ack).empty())
      << "an unknown member left";
}

TEST(MemberPushesTest, ABundleListPushUpdatesTheMembersEntry) {
  Directory directory("m:2");
  ApplyWelcome(&directory, Welcome({Info(kLeader), Info("m:2"), Info("m:3")}));
  bool ack = true;
  std::vector<RosterEvent> events = ApplyPush(
      &directory, Change(v1::ROSTER_CHANGE_BUNDLES, WithBundle(Info("m:3"), "abc", true)), &ack);
  EXPECT_FALSE(ack);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, v1::ROSTER_CHANGE_BUNDLES);
  std::optional<v1::MemberInfo> m3 = directory.Find("m:3");
  ASSERT_TRUE(m3.has_value());
  ASSERT_EQ(m3->bundles_size(), 1);
  EXPECT_EQ(m3->bundles(0).hash(), "abc");
}

TEST(MemberPushesTest, AnAckUpdatesLoadsAndBundlesWithoutEvents) {
  Directory directory("m:2");
  ApplyWelcome(&directory, Welcome({Info(kLeader), Info("m:2"), Info("m:3")}));
  v1::RosterNews news;
  v1::MemberInfo load = WithBundle(Info("m:3", 0), "def", false);
  load.mutable_load()->set_live_actors(7);
  load.set_last_checkin_unix_ms(1234);
  *news.mutable_ack()->add_loads() = load;
  bool ack = false;
  EXPECT_TRUE(ApplyPush(&directory, news, &ack).empty());
  EXPECT_TRUE(ack);
  std::optional<v1::MemberInfo> m3 = directory.Find("m:3");
  ASSERT_TRUE(m3.has_value());
  EXPECT_EQ(m3->load().live_actors(), 7u);
  EXPECT_EQ(m3->last_checkin_unix_ms(), 1234);
  ASSERT_EQ(m3->bundles_size(), 1);
  EXPECT_EQ(m3->bundles(0).hash(), "def");
  EXPECT_EQ(m3->incarnation(), 1u) << "an ack does not replace the entry";
}

TEST(MemberPushesTest, ALostLeaderLeavesTheDirectoryAndTheOthersStay) {
  Directory directory("m:2");
  ApplyWelcome(&directory, Welcome({Info(kLeader), Info("m:2"), Info("m:3")}));
  std::vector<RosterEvent> events = ForgetLeader(&directory, kLeader);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, v1::ROSTER_CHANGE_LEFT);
  EXPECT_EQ(events[0].member.address(), kLeader);
  EXPECT_EQ(events[0].reason, "the leader is unreachable");
  EXPECT_FALSE(directory.Contains(kLeader));
  EXPECT_TRUE(directory.Contains("m:3"));
  EXPECT_TRUE(ForgetLeader(&directory, kLeader).empty()) << "already gone";
}

}  // namespace
}  // namespace troupe::convention
