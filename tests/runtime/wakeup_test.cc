// Tests of wakeups (TROUPE_MSG_WAKEUP) driven by a ManualClock.
#include <charconv>
#include <string>
#include <vector>

#include "daemon/common/mutex.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

class WakeupTest : public RuntimeTest {
 protected:
  // "sleeper": "wake" "<ms> <tag>" asks for a wakeup; a wakeup is logged as
  // "<tag>@<delay ns>". Everything else is logged by type.
  void RegisterSleeper() {
    Register({.name = "sleeper", .receive = [this](TestInstance&, Cell* cell, Message& m) {
                if (m.type() == "wake") {
                  std::string_view p = m.payload();
                  size_t space = p.find(' ');
                  int ms = 0;
                  std::from_chars(p.data(), p.data() + space, ms);
                  cell->system()->AddWakeup(cell, absl::Milliseconds(ms), p.substr(space + 1));
                } else if (m.kind() == MessageKind::kWakeup) {
                  EXPECT_EQ(m.sender(), cell) << "a wakeup comes from the actor itself";
                  auto [delay, tag] = ParseWakeup(m.payload());
                  Log(tag + "@" + std::to_string(delay));
                } else {
                  Log(std::string(m.type()));
                }
                return absl::OkStatus();
              }});
  }
  void Log(std::string s) {
    troupe::MutexLock lock(&mu_);
    log_.push_back(std::move(s));
  }
  std::vector<std::string> log() {
    troupe::MutexLock lock(&mu_);
    return log_;
  }

  troupe::Mutex mu_;
  std::vector<std::string> log_;
};

TEST_F(WakeupTest, WakeupsAreDeliveredInDeadlineOrderWhenTheClockReachesThem) {
  ActorSystem& system = MakeDeterministic();
  RegisterSleeper();
  ActorRef a = Create("sleeper");
  ASSERT_OK(system.Tell(a, Msg("wake", "30 c")));
  ASSERT_OK(system.Tell(a, Msg("wake", "10 a")));
  ASSERT_OK(system.Tell(a, Msg("wake", "20 b")));
  system.RunUntilIdle();
  ASSERT_OK_AND_ASSIGN(ActorStatus status, system.GetActorStatus(a));
  EXPECT_EQ(status.pending_wakeups, 3u);
  system.AdvanceClock(absl::Milliseconds(9));
  system.RunUntilIdle();
  EXPECT_TRUE(log().empty()) << "nothing is due before 10ms";
  system.AdvanceClock(absl::Milliseconds(1));
  system.RunUntilIdle();
  EXPECT_EQ(log(), std::vector<std::string>{"a@10000000"});
  system.AdvanceClock(absl::Milliseconds(100));
  system.RunUntilIdle();
  EXPECT_EQ(log(), (std::vector<std::string>{"a@10000000", "b@20000000", "c@30000000"}));
  ASSERT_OK_AND_ASSIGN(status, system.GetActorStatus(a));
  EXPECT_EQ(status.pending_wakeups, 0u);
  EXPECT_EQ(system.GetStatus().pending_wakeups, 0u);
}

TEST_F(WakeupTest, WakeupsWithEqualDeadlinesArriveInRequestOrder) {
  ActorSystem& system = MakeDeterministic();
  RegisterSleeper();
  ActorRef a = Create("sleeper");
  for (std::string tag : {"x", "y", "z", "w"}) ASSERT_OK(system.Tell(a, Msg("wake", "5 " + tag)));
  system.RunUntilIdle();
  system.AdvanceClock(absl::Milliseconds(5));
  system.RunUntilIdle();
  EXPECT_EQ(log(), (std::vector<std::string>{"x@5000000", "y@5000000", "z@5000000", "w@5000000"}));
}

TEST_F(WakeupTest, AWakeupGoesThroughTheMailboxBehindEarlierMessages) {
  ActorSystem& system = MakeDeterministic();
  RegisterSleeper();
  ActorRef a = Create("sleeper");
  ASSERT_OK(system.Tell(a, Msg("wake", "10 t")));
  system.RunUntilIdle();
  ASSERT_OK(system.Tell(a, Msg("before")));
  system.AdvanceClock(absl::Milliseconds(10));
  ASSERT_OK(system.Tell(a, Msg("after")));
  EXPECT_TRUE(log().empty()) << "firing only queues the wakeup";
  system.RunUntilIdle();
  EXPECT_EQ(log(), (std::vector<std::string>{"before", "t@10000000", "after"}));
}

TEST_F(WakeupTest, PendingWakeupsAreDiscardedWhenTheActorExitsWithoutDeadLetters) {
  ActorSystem& system = MakeDeterministic();
  RegisterSleeper();
  auto [dl, dead_inbox] = SpawnInbox("dead_letters");
  ASSERT_OK(system.SetDeadLetterHandler(dl));
  ActorRef a = Create("sleeper");
  ASSERT_OK(system.Tell(a, Msg("wake", "10 t")));
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(a));
  system.RunUntilIdle();
  system.AdvanceClock(absl::Milliseconds(20));
  system.RunUntilIdle();
  EXPECT_EQ(log(), std::vector<std::string>{TROUPE_MSG_EXIT_REQUEST});
  EXPECT_EQ(system.GetStatus().dead_letters, 0u);
  EXPECT_EQ(dead_inbox->size(), 0u);
  EXPECT_EQ(system.GetStatus().pending_wakeups, 0u);
}

TEST_F(WakeupTest, AWakeupQueuedWhenTheActorExitsIsDiscardedWithoutADeadLetter) {
  ActorSystem& system = MakeDeterministic();
  RegisterSleeper();
  ActorRef a = Create("sleeper");
  ASSERT_OK(system.Tell(a, Msg("wake", "10 t")));
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(a));
  system.AdvanceClock(absl::Milliseconds(10));  // queued behind the exit request
  system.RunUntilIdle();
  EXPECT_EQ(log(), std::vector<std::string>{TROUPE_MSG_EXIT_REQUEST});
  EXPECT_EQ(system.GetStatus().dead_letters, 0u);
}

TEST_F(WakeupTest, AWakeupFiringWhileTheActorWaitsForItsChildrenIsNotADeadLetter) {
  ActorSystem& system = MakeDeterministic();
  RegisterSleeper();
  auto [dl, dead_inbox] = SpawnInbox("dead_letters");
  ASSERT_OK(system.SetDeadLetterHandler(dl));
  ActorRef parent = Create("sleeper");
  ActorRef child = Create("sleeper", {.parent = parent});
  ASSERT_OK(system.Tell(parent, Msg("wake", "10 t")));
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(parent));
  ASSERT_TRUE(system.RunOne());  // the parent's exit turn: now it waits for the child
  ASSERT_EQ(StateOf(parent), "exiting");
  system.AdvanceClock(absl::Milliseconds(10));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(parent), "exited");
  EXPECT_EQ(system.GetStatus().dead_letters, 0u);
  EXPECT_EQ(dead_inbox->size(), 0u);
}

TEST_F(WakeupTest, AThreadedSystemDeliversWakeupsWhenTheManualClockIsAdvancedAndFired) {
  ActorSystem& system = MakeThreaded(2);
  troupe::Notification armed, woke;
  std::string payload;
  ActorRef a = system.SpawnNative([&](Cell* self, Message& m) {
    if (m.type() == "arm") {
      self->system()->AddWakeup(self, absl::Seconds(5), "p");
      armed.Notify();
    }
    if (m.kind() == MessageKind::kWakeup) {
      payload = std::string(m.payload());
      woke.Notify();
    }
  });
  ShutdownOnExit shutdown_first(system);
  ASSERT_OK(system.Tell(a, Msg("arm")));
  ASSERT_TRUE(armed.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_EQ(system.GetStatus().pending_wakeups, 1u);
  system.FireDueTimers();
  EXPECT_FALSE(woke.HasBeenNotified());
  clock_.Advance(absl::Seconds(5));
  system.FireDueTimers();
  ASSERT_TRUE(woke.WaitForNotificationWithTimeout(absl::Seconds(10)));
  auto [delay, rest] = ParseWakeup(payload);
  EXPECT_EQ(delay, 5'000'000'000u);
  EXPECT_EQ(rest, "p");
}

}  // namespace
}  // namespace troupe::runtime::testing
