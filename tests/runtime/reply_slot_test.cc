// Tests of reply slots (ActorSystem::OpenReplySlot): the reply is handed on
// by the sender, the deadline is a timer entry on the system's clock, and
// exactly one of reply, deadline, close and shutdown ends a slot.
#include <optional>
#include <thread>

#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

using ReplySlotTest = RuntimeTest;

// What a slot's handler saw: each call, and the thread of the last one.
struct Outcome {
  int calls = 0;
  std::optional<absl::StatusOr<Message>> result;
  std::thread::id thread;
};

ReplyHandler Record(Outcome* out) {
  return [out](absl::StatusOr<Message> result) {
    ++out->calls;
    out->result = std::move(result);
    out->thread = std::this_thread::get_id();
  };
}

TEST_F(ReplySlotTest, TheReplyReachesTheHandlerInTheRepliersTurnWithNoTurnOfItsOwn) {
  ActorSystem& system = MakeDeterministic();
  ActorRef echo = system.SpawnNative(Echo());
  Outcome out;
  ActorRef slot = system.OpenReplySlot(Record(&out), absl::Seconds(5));
  ASSERT_OK(system.Tell(echo, Msg("q", "7"), slot));
  EXPECT_EQ(system.RunUntilIdle(), 1u) << "only the echo's turn runs";
  ASSERT_EQ(out.calls, 1);
  ASSERT_OK(out.result->status());
  EXPECT_EQ((*out.result)->type(), "re:q");
  EXPECT_EQ((*out.result)->payload(), "7");
  EXPECT_EQ((*out.result)->sender(), echo.get());
  EXPECT_EQ(slot->state(), CellState::kExited);
  EXPECT_EQ(system.GetStatus().live_actors, 1u) << "a slot is not an actor";
}

TEST_F(ReplySlotTest, ASecondReplyIsADeadLetterAndTheHandlerRunsOnce) {
  ActorSystem& system = MakeDeterministic();
  Outcome out;
  ActorRef slot = system.OpenReplySlot(Record(&out), absl::Seconds(5));
  const uint64_t dead_before = system.GetStatus().dead_letters;
  system.Deliver(slot.get(), Msg("first"));
  system.Deliver(slot.get(), Msg("second"));
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ((*out.result)->type(), "first");
  EXPECT_EQ(system.GetStatus().dead_letters, dead_before + 1);
}

TEST_F(ReplySlotTest, NoReplyByTheDeadlineOnTheSystemClockIsDeadlineExceeded) {
  ActorSystem& system = MakeDeterministic();
  Outcome out;
  ActorRef slot = system.OpenReplySlot(Record(&out), absl::Seconds(5));
  system.AdvanceClock(absl::Seconds(4));
  EXPECT_EQ(out.calls, 0);
  system.AdvanceClock(absl::Seconds(1));
  ASSERT_EQ(out.calls, 1);
  EXPECT_EQ(out.result->status().code(), absl::StatusCode::kDeadlineExceeded);
  const uint64_t dead_before = system.GetStatus().dead_letters;
  system.Deliver(slot.get(), Msg("late"));
  EXPECT_EQ(out.calls, 1) << "a late reply is not handed on";
  EXPECT_EQ(system.GetStatus().dead_letters, dead_before + 1);
}

TEST_F(ReplySlotTest, ClosingASlotDropsItsHandlerUnrunAndItsDeadlineDoesNothing) {
  ActorSystem& system = MakeDeterministic();
  Outcome out;
  ActorRef slot = system.OpenReplySlot(Record(&out), absl::Seconds(5));
  EXPECT_TRUE(system.CloseReplySlot(slot.get()));
  EXPECT_FALSE(system.CloseReplySlot(slot.get())) << "closed already";
  system.Deliver(slot.get(), Msg("after"));
  system.AdvanceClock(absl::Seconds(10));
  EXPECT_EQ(out.calls, 0);
}

TEST_F(ReplySlotTest, CloseAfterTheReplyReportsThatItWasAnswered) {
  ActorSystem& system = MakeDeterministic();
  Outcome out;
  ActorRef slot = system.OpenReplySlot(Record(&out), absl::Seconds(5));
  system.Deliver(slot.get(), Msg("answer"));
  EXPECT_FALSE(system.CloseReplySlot(slot.get()));
  EXPECT_EQ(out.calls, 1);
}

TEST_F(ReplySlotTest, ASlotPrintsAsAnAddressThatReachesItAndAReplyFromAnotherDaemonToo) {
  ActorSystem& system = MakeDeterministic();
  Outcome out;
  ActorRef slot = system.OpenReplySlot(Record(&out), absl::Seconds(5));
  const std::string address = system.FormatAddress(slot.get());
  ASSERT_OK_AND_ASSIGN(ActorRef parsed, system.ParseAddress(address));
  EXPECT_EQ(parsed.get(), slot.get());
  ASSERT_OK(system.DeliverFromRemote(slot->id(), "", "remote.reply", "r"));
  ASSERT_EQ(out.calls, 1);
  EXPECT_EQ((*out.result)->type(), "remote.reply");
  EXPECT_EQ(system.DeliverFromRemote(slot->id(), "", "again", "").code(),
            absl::StatusCode::kNotFound)
      << "an answered slot is gone, as an exited actor is";
}

TEST_F(ReplySlotTest, ShutdownEndsAnOpenSlotWithCancelledAndDoesNotWaitForIt) {
  ActorSystem& system = MakeThreaded(2);
  Outcome out;
  ActorRef slot = system.OpenReplySlot(Record(&out), absl::Hours(1));
  const absl::Time before = absl::Now();
  system.Shutdown(absl::Seconds(30));
  EXPECT_LT(absl::Now() - before, absl::Seconds(20)) << "Shutdown waited for the slot";
  ASSERT_EQ(out.calls, 1);
  EXPECT_EQ(out.result->status().code(), absl::StatusCode::kCancelled);
}

TEST_F(ReplySlotTest, ASlotOpenedOnceShutdownBeganEndsAtOnceWithCancelled) {
  ActorSystem& system = MakeThreaded(2);
  system.Shutdown(absl::Seconds(5));
  Outcome out;
  ActorRef slot = system.OpenReplySlot(Record(&out), absl::Hours(1));
  ASSERT_EQ(out.calls, 1) << "no timer thread is left to end it later";
  EXPECT_EQ(out.result->status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(slot->state(), CellState::kExited);
}

TEST_F(ReplySlotTest, AnExitRequestToASlotEndsItWithCancelledNamingWhy) {
  ActorSystem& system = MakeDeterministic();
  Outcome out;
  ActorRef slot = system.OpenReplySlot(Record(&out), absl::Seconds(5));
  ASSERT_OK(system.RequestExit(slot));
  ASSERT_EQ(out.calls, 1);
  EXPECT_EQ(out.result->status().code(), absl::StatusCode::kCancelled);
  EXPECT_CONTAINS(out.result->status().message(), "asked to exit");
}

TEST_F(ReplySlotTest, DeadlinesOfSlotsAnsweredEarlyDoNotPileUpInTheTimers) {
  ActorSystem& system = MakeDeterministic();
  int answered = 0;
  constexpr int kSlots = 20000;
  for (int i = 0; i < kSlots; ++i) {
    ActorRef slot = system.OpenReplySlot(
        [&answered](absl::StatusOr<Message> r) { answered += r.ok() ? 1 : 0; }, absl::Hours(1));
    system.Deliver(slot.get(), Msg("answer"));
  }
  EXPECT_EQ(answered, kSlots);
  // Without compaction every answered slot's deadline (and its cell) would
  // stay queued for the hour: kSlots entries.
  EXPECT_LT(system.GetStatus().pending_wakeups, uint64_t{kSlots / 2});
}

TEST_F(ReplySlotTest, RepliesFromManyThreadsEachEndTheirOwnSlotOnce) {
  ActorSystem& system = MakeThreaded(2);
  ActorRef echo = system.SpawnNative(Echo());
  constexpr int kAsks = 2000;
  std::atomic<int> replies{0};
  std::atomic<int> wrong{0};
  troupe::Notification all_done;
  for (int i = 0; i < kAsks; ++i) {
    const std::string payload = std::to_string(i);
    ActorRef slot = system.OpenReplySlot(
        [&, payload](absl::StatusOr<Message> r) {
          if (!r.ok() || r->payload() != payload) wrong.fetch_add(1);
          if (replies.fetch_add(1) + 1 == kAsks) all_done.Notify();
        },
        absl::Seconds(60));
    ASSERT_OK(system.Tell(echo, Msg("q", payload), slot));
  }
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace troupe::runtime::testing
