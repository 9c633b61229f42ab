// Tests of scheduling: the worker pool, one message at a time per actor, the
// throughput quota, zero-copy delivery and deterministic stepping.
#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/common/mutex.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

using SchedulerTest = RuntimeTest;

TEST_F(SchedulerTest, DefaultWorkerThreadsIsTheNumberOfCores) {
  ActorSystem system;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(system.options().worker_threads, cores);
}

TEST_F(SchedulerTest, ExplicitWorkerThreadCountIsKept) {
  ActorSystem system(SystemOptions{.worker_threads = 3});
  EXPECT_EQ(system.options().worker_threads, 3);
}

TEST_F(SchedulerTest, HandlersRunOnAFixedPoolOfWorkerThreads) {
  ActorSystem& system = MakeThreaded(2);
  troupe::Mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> handled{0};
  troupe::Notification all_done;
  constexpr int kActors = 20, kMessages = 50;
  std::vector<ActorRef> actors;
  for (int a = 0; a < kActors; ++a) {
    actors.push_back(system.SpawnNative([&](Cell*, Message&) {
      {
        troupe::MutexLock lock(&mu);
        threads.insert(std::this_thread::get_id());
      }
      if (handled.fetch_add(1) + 1 == kActors * kMessages) all_done.Notify();
    }));
  }
  ShutdownOnExit shutdown_first(system);
  for (int m = 0; m < kMessages; ++m)
    for (const ActorRef& a : actors) ASSERT_OK(system.Tell(a, Msg("tick")));
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  troupe::MutexLock lock(&mu);
  EXPECT_LE(threads.size(), 2u);
  EXPECT_FALSE(threads.contains(std::this_thread::get_id()));
}

TEST_F(SchedulerTest, AnActorHandlesOneMessageAtATimeUnderManySenders) {
  ActorSystem& system = MakeThreaded(4);
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::atomic<int> handled{0};
  troupe::Notification all_done;
  constexpr int kSenders = 4, kPerSender = 5000;
  ActorRef actor = system.SpawnNative([&](Cell*, Message&) {
    int now = inside.fetch_add(1) + 1;
    int seen = max_inside.load();
    while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
    }
    for (int i = 0; i < 50; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
    inside.fetch_sub(1);
    if (handled.fetch_add(1) + 1 == kSenders * kPerSender) all_done.Notify();
  });
  ShutdownOnExit shutdown_first(system);
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&] {
      for (int i = 0; i < kPerSender; ++i) EXPECT_OK(system.Tell(actor, Msg("m")));
    });
  }
  for (auto& t : senders) t.join();
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(max_inside.load(), 1);
  EXPECT_EQ(handled.load(), kSenders * kPerSender);
}

TEST_F(SchedulerTest, ThroughputQuotaLetsAnotherActorRunBeforeAFloodedActorFinishes) {
  constexpr int kQuota = 8;
  constexpr int kFlood = 2000;
  ActorSystem& system = MakeThreaded(1, kQuota);
  troupe::Notification a_started, release_a, b_ran, a_done;
  std::atomic<int> a_handled{0};
  std::atomic<int> a_handled_when_b_ran{-1};
  ActorRef a = system.SpawnNative([&](Cell*, Message& m) {
    if (m.kind() != MessageKind::kUser) return;
    if (a_handled.load() == 0) {
      a_started.Notify();
      release_a.WaitForNotificationWithTimeout(absl::Seconds(30));  // holds the only worker
    }
    if (a_handled.fetch_add(1) + 1 == kFlood + 1) a_done.Notify();
  });
  ActorRef b = system.SpawnNative([&](Cell*, Message& m) {
    if (m.kind() != MessageKind::kUser) return;
    a_handled_when_b_ran.store(a_handled.load());
    b_ran.Notify();
  });
  ShutdownOnExit shutdown_first(system);
  ASSERT_OK(system.Tell(a, Msg("first")));
  ASSERT_TRUE(a_started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  for (int i = 0; i < kFlood; ++i) ASSERT_OK(system.Tell(a, Msg("flood")));
  ASSERT_OK(system.Tell(b, Msg("one")));
  release_a.Notify();
  ASSERT_TRUE(b_ran.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(a_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // B waited at most for A's current turn and one more, not for all of A's mail.
  EXPECT_LE(a_handled_when_b_ran.load(), 2 * kQuota + 1);
}

TEST_F(SchedulerTest, DeterministicTurnsAlternateBetweenRunnableActors) {
  ActorSystem& system = MakeDeterministic();
  std::vector<std::string> log;
  ActorRef a =
      system.SpawnNative([&](Cell*, Message& m) { log.push_back("a" + std::string(m.payload())); });
  ActorRef b =
      system.SpawnNative([&](Cell*, Message& m) { log.push_back("b" + std::string(m.payload())); });
  ShutdownOnExit shutdown_first(system);
  for (std::string p : {"1", "2", "3"}) ASSERT_OK(system.Tell(a, Msg("m", p)));
  ASSERT_OK(system.Tell(b, Msg("m", "1")));
  system.RunUntilIdle();
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "b1", "a2", "a3"}));
}

TEST_F(SchedulerTest, RunOneStepsOneTurnAndReturnsFalseWhenIdle) {
  ActorSystem& system = MakeDeterministic();
  EXPECT_FALSE(system.RunOne());
  auto [actor, inbox] = SpawnInbox();
  ASSERT_OK(system.Tell(actor, Msg("m1")));
  ASSERT_OK(system.Tell(actor, Msg("m2")));
  EXPECT_EQ(inbox->size(), 0u) << "nothing runs by itself";
  EXPECT_TRUE(system.RunOne());
  EXPECT_EQ(inbox->size(), 1u);
  EXPECT_TRUE(system.RunOne());
  EXPECT_EQ(inbox->size(), 2u);
  EXPECT_FALSE(system.RunOne());
  EXPECT_EQ(system.RunUntilIdle(), 0u);
}

TEST_F(SchedulerTest, MessagesAreMovedToTheHandlerNotCopied) {
  ActorSystem& system = MakeDeterministic();
  auto [actor, inbox] = SpawnInbox();
  Message m = Msg("big", std::string(4096, 'x'));
  const char* sent_bytes = m.payload().data();
  ASSERT_OK(system.Tell(actor, std::move(m)));
  system.RunUntilIdle();
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ(inbox->items()[0].payload_address, sent_bytes);
}

TEST_F(SchedulerTest, MessagesAreMovedNotCopiedInAThreadedSystem) {
  ActorSystem& system = MakeThreaded(2);
  auto [actor, inbox] = SpawnInbox();
  std::vector<const char*> sent;
  for (int i = 0; i < 100; ++i) {
    Message m = Msg("m", std::to_string(i));
    sent.push_back(m.payload().data());
    ASSERT_OK(system.Tell(actor, std::move(m)));
  }
  ASSERT_TRUE(inbox->WaitForSize(100));
  std::vector<Received> got = inbox->items();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(got[i].payload, std::to_string(i)) << "one sender's messages stay in order";
    EXPECT_EQ(got[i].payload_address, sent[i]);
  }
}

}  // namespace
}  // namespace troupe::runtime::testing
