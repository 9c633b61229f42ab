// Tests of actor creation, start-up failure and system shutdown.
#include <atomic>
#include <string>
#include <vector>

#include "daemon/common/mutex.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

using LifecycleTest = RuntimeTest;

TEST_F(LifecycleTest, CreateActorReturnsAnAddressBeforeTheActorRuns) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = Register({.name = "worker"});
  ActorRef actor = Create("worker");
  ASSERT_TRUE(actor);
  EXPECT_EQ(cls->created(), 0) << "the instance is made on the first turn";
  EXPECT_EQ(StateOf(actor), "starting");
  EXPECT_TRUE(system.RunOne());
  EXPECT_EQ(cls->created(), 1);
  EXPECT_EQ(StateOf(actor), "running");
}

TEST_F(LifecycleTest, MessagesSentBeforeTheActorRunsAreDeliveredInOrder) {
  ActorSystem& system = MakeDeterministic();
  std::vector<std::string> payloads;
  Register({.name = "worker", .receive = [&](TestInstance&, Cell*, Message& m) {
              payloads.emplace_back(m.payload());
              return absl::OkStatus();
            }});
  ShutdownOnExit shutdown_first(system);
  ActorRef actor = Create("worker");
  for (std::string p : {"1", "2", "3", "4", "5"}) ASSERT_OK(system.Tell(actor, Msg("m", p)));
  system.RunUntilIdle();
  EXPECT_EQ(payloads, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
}

TEST_F(LifecycleTest, CreateActorOfAnUnknownClassIsNotFound) {
  ActorSystem& system = MakeDeterministic();
  EXPECT_EQ(system.CreateActor("no.such.class").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LifecycleTest, CreateFailureSendsChildActorExitedWithAddressAndReasonToTheParent) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "broken",
            .create = [](int) { return absl::InternalError("constructor exploded"); }});
  auto [parent, parent_inbox] = SpawnInbox("parent");
  ActorRef child = Create("broken", {.parent = parent});
  system.RunUntilIdle();
  std::vector<Received> exited = parent_inbox->OfType(TROUPE_MSG_CHILD_EXITED);
  ASSERT_EQ(exited.size(), 1u);
  std::vector<std::string> fields = Fields(exited[0].payload);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0], Addr(child));
  EXPECT_NE(fields[1].find("constructor exploded"), std::string::npos) << fields[1];
  EXPECT_EQ(exited[0].sender.get(), child.get());
  EXPECT_EQ(StateOf(child), "exited");
  EXPECT_EQ(system.GetStatus().live_actors, 1u) << "only the parent inbox";
}

TEST_F(LifecycleTest, CreateFailureReturnsEveryQueuedMessageAsPoisonToItsSender) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "broken", .create = [](int) { return absl::InternalError("no start"); }});
  auto [s1, inbox1] = SpawnInbox("s1");
  auto [s2, inbox2] = SpawnInbox("s2");
  ActorRef child = Create("broken");
  ASSERT_OK(system.Tell(child, Msg("a", "pa"), s1));
  ASSERT_OK(system.Tell(child, Msg("b", "pb"), s2));
  ASSERT_OK(system.Tell(child, Msg("c", "pc"), s1));
  system.RunUntilIdle();
  std::vector<Received> p1 = inbox1->OfType(TROUPE_MSG_POISON);
  std::vector<Received> p2 = inbox2->OfType(TROUPE_MSG_POISON);
  ASSERT_EQ(p1.size(), 2u);
  ASSERT_EQ(p2.size(), 1u);
  std::vector<std::string> a = Fields(p1[0].payload), c = Fields(p1[1].payload),
                           b = Fields(p2[0].payload);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(a[0], "a");
  EXPECT_EQ(a[1], "pa");
  EXPECT_NE(a[2].find("no start"), std::string::npos) << a[2];
  EXPECT_EQ(b[0], "b");
  EXPECT_EQ(b[1], "pb");
  EXPECT_EQ(c[0], "c");
  EXPECT_EQ(c[1], "pc");
  EXPECT_EQ(p1[0].sender.get(), child.get());
  EXPECT_EQ(system.GetStatus().poison_messages, 3u);
  EXPECT_EQ(system.GetStatus().dead_letters, 0u);
}

TEST_F(LifecycleTest, CreateActorAfterShutdownIsUnavailable) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "worker"});
  system.Shutdown();
  EXPECT_EQ(system.CreateActor("worker").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(LifecycleTest, CreateActorAfterShutdownOfAThreadedSystemIsUnavailable) {
  ActorSystem& system = MakeThreaded(2);
  Register({.name = "worker"});
  system.Shutdown();
  EXPECT_EQ(system.CreateActor("worker").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(LifecycleTest, DeterministicShutdownDrainsQueuedMessagesAndExitsEveryActor) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = Register({.name = "worker"});
  ActorRef parent = Create("worker");
  ActorRef child = Create("worker", {.parent = parent});
  for (int i = 0; i < 5; ++i) ASSERT_OK(system.Tell(child, Msg("m")));
  system.Shutdown();
  EXPECT_EQ(system.GetStatus().live_actors, 0u);
  EXPECT_EQ(cls->created(), 2);
  EXPECT_EQ(cls->destroyed(), 2);
  EXPECT_EQ(StateOf(child), "exited");
}

TEST_F(LifecycleTest, ThreadedShutdownDrainsActorsWithQueuedMessages) {
  ActorSystem& system = MakeThreaded(4);
  std::atomic<int> handled{0};
  TestClass* cls = Register({.name = "worker", .receive = [&](TestInstance&, Cell*, Message& m) {
                               if (m.kind() == MessageKind::kUser) handled.fetch_add(1);
                               return absl::OkStatus();
                             }});
  ShutdownOnExit shutdown_first(system);
  constexpr int kActors = 20, kMessages = 100;
  std::vector<ActorRef> actors;
  for (int i = 0; i < kActors; ++i) {
    actors.push_back(Create("worker"));
    // Half of them get a child, so shutdown has families to take down.
    if (i % 2 == 0) actors.push_back(Create("worker", {.parent = actors.back()}));
  }
  for (int m = 0; m < kMessages; ++m)
    for (const ActorRef& a : actors) ASSERT_OK(system.Tell(a, Msg("m")));
  system.Shutdown(absl::Seconds(30));
  EXPECT_EQ(system.GetStatus().live_actors, 0u);
  EXPECT_EQ(handled.load(), static_cast<int>(actors.size()) * kMessages)
      << "mail queued before shutdown is handled before the exit request";
  EXPECT_EQ(cls->created(), static_cast<int>(actors.size()));
  EXPECT_EQ(cls->destroyed(), cls->created());
  for (const ActorRef& a : actors) EXPECT_EQ(StateOf(a), "exited");
}

TEST_F(LifecycleTest, ShutdownAsksChildrenLeftRunningByANonRecursiveExitToExit) {
  ActorSystem& system = MakeDeterministic();
  std::atomic<int> exit_requests_seen{0};
  Register({.name = "worker", .receive = [&](TestInstance&, Cell*, Message& m) {
              if (m.kind() == MessageKind::kExitRequest) exit_requests_seen.fetch_add(1);
              return absl::OkStatus();
            }});
  ShutdownOnExit shutdown_first(system);
  ActorRef parent = Create("worker");
  ActorRef child = Create("worker", {.parent = parent});
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(parent, /*recursive=*/false));
  system.RunUntilIdle();
  ASSERT_EQ(StateOf(parent), "exited");
  ASSERT_EQ(StateOf(child), "running");
  exit_requests_seen = 0;
  system.Shutdown();
  EXPECT_EQ(StateOf(child), "exited");
  EXPECT_EQ(exit_requests_seen.load(), 1)
      << "the orphaned child must be drained like a top-level actor, not destroyed unasked";
}

}  // namespace
}  // namespace troupe::runtime::testing
