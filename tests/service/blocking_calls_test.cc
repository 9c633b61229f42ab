// Tests of BlockingCalls, the pool where the services make calls that may
// wait for another daemon: its bound, its threads and its stop.
#include "daemon/service/blocking_calls.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/common/mutex.h"
#include "tests/common/status_matchers.h"

namespace troupe::service {
namespace {

// A call that counts itself in and waits until the test releases it (at
// the latest when the gate goes: declare it after the BlockingCalls, and
// what its calls write before both).
class Gate {
 public:
  ~Gate() { Release(); }
  BlockingCalls::Call Call(absl::Status* got, troupe::Notification* done) {
    return [this, got, done](const absl::Status& admitted) {
      *got = admitted;
      entered_.fetch_add(1);
      if (admitted.ok()) released_.WaitForNotification();
      done->Notify();
    };
  }
  int entered() const { return entered_.load(); }
  void Release() {
    if (!released_.HasBeenNotified()) released_.Notify();
  }

 private:
  std::atomic<int> entered_{0};
  troupe::Notification released_;
};

// Waits (at most 10 s) until `condition` holds.
template <typename Condition>
bool Eventually(Condition condition) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(BlockingCallsTest, CallsRunOnItsThreadsWhileTheCallerGoesOn) {
  absl::Status got[3];
  troupe::Notification done[3];
  BlockingCalls calls({.threads = 2, .max_queued = 8});
  Gate gate;
  for (int i = 0; i < 3; ++i) ASSERT_OK(calls.Run(gate.Call(&got[i], &done[i])));
  ASSERT_TRUE(Eventually([&] { return gate.entered() == 2 && calls.QueuedForTest() == 1; }));
  EXPECT_EQ(calls.RunningForTest(), 2u);
  gate.Release();
  for (int i = 0; i < 3; ++i) {
    done[i].WaitForNotification();
    EXPECT_OK(got[i]);
  }
  EXPECT_TRUE(Eventually([&] { return calls.RunningForTest() == 0; }));
}

TEST(BlockingCallsTest, ACallThatFindsTheQueueFullIsRefusedAtOnceAndNeverCalled) {
  absl::Status got[2];
  troupe::Notification done[2];
  BlockingCalls calls({.threads = 1, .max_queued = 1});
  Gate gate;
  ASSERT_OK(calls.Run(gate.Call(&got[0], &done[0])));
  ASSERT_TRUE(Eventually([&] { return gate.entered() == 1; }));
  ASSERT_OK(calls.Run(gate.Call(&got[1], &done[1])));
  bool called = false;
  absl::Status refused = calls.Run([&called](const absl::Status&) { called = true; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message(),
            "the daemon is busy: 1 calls already wait for another daemon or the convention's "
            "leader; try again later");
  gate.Release();
  for (int i = 0; i < 2; ++i) {
    done[i].WaitForNotification();
    EXPECT_OK(got[i]);
  }
  calls.Stop();
  EXPECT_FALSE(called);
}

TEST(BlockingCallsTest, ACallMayQueueAnother) {
  troupe::Notification second_ran;
  absl::Status queued = absl::UnknownError("not run");
  BlockingCalls calls({.threads = 1, .max_queued = 1});
  ASSERT_OK(calls.Run([&](const absl::Status&) {
    queued = calls.Run([&](const absl::Status& admitted) {
      if (admitted.ok()) second_ran.Notify();
    });
  }));
  second_ran.WaitForNotification();
  EXPECT_OK(queued);
}

TEST(BlockingCallsTest, StopAnswersQueuedCallsWaitsForThoseUnderWayAndRefusesLaterOnes) {
  absl::Status got[2];
  troupe::Notification done[2];
  BlockingCalls calls({.threads = 1, .max_queued = 4});
  Gate gate;
  ASSERT_OK(calls.Run(gate.Call(&got[0], &done[0])));
  ASSERT_TRUE(Eventually([&] { return gate.entered() == 1; }));
  ASSERT_OK(calls.Run(gate.Call(&got[1], &done[1])));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    calls.Stop();
    stopped = true;
  });
  done[1].WaitForNotification();  // answered by Stop, without being made
  EXPECT_EQ(got[1].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got[1].message(), "the daemon is stopping");
  EXPECT_FALSE(stopped.load()) << "Stop returned while a call was under way";
  EXPECT_EQ(calls.Run([](const absl::Status&) {}).code(), absl::StatusCode::kUnavailable);
  gate.Release();
  stopper.join();
  EXPECT_TRUE(stopped.load());
  EXPECT_TRUE(done[0].HasBeenNotified());
  EXPECT_OK(got[0]);
  calls.Stop();  // again: nothing
}

TEST(BlockingCallsTest, WhatACallHoldsIsFreedOnceItHasRun) {
  troupe::Notification ran;
  auto held = std::make_shared<int>(7);
  std::weak_ptr<int> watch = held;
  BlockingCalls calls({.threads = 1, .max_queued = 1});
  ASSERT_OK(calls.Run([held = std::move(held), &ran](const absl::Status&) { ran.Notify(); }));
  ran.WaitForNotification();
  EXPECT_TRUE(Eventually([&] { return watch.expired(); }));
}

}  // namespace
}  // namespace troupe::service
