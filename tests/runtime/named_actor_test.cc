// Tests of globally named actors.
#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "daemon/common/strings.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

using NamedActorTest = RuntimeTest;

TEST_F(NamedActorTest, CreatingATakenNameReturnsTheExistingActor) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = Register({.name = "svc"});
  ActorRef first = Create("svc", {.global_name = "registry"});
  ActorRef second = Create("svc", {.global_name = "registry"});
  EXPECT_EQ(first.get(), second.get());
  system.RunUntilIdle();
  EXPECT_EQ(cls->created(), 1);
  EXPECT_EQ(system.GetStatus().live_actors, 1u);
  EXPECT_EQ(system.GetStatus().global_names, std::vector<std::string>{"registry"});
  ASSERT_OK_AND_ASSIGN(ActorStatus status, system.GetActorStatus(first));
  EXPECT_EQ(status.global_name, "registry");
}

TEST_F(NamedActorTest, LookupFindsTheNamedActorAndNotFoundOtherwise) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "svc"});
  ActorRef a = Create("svc", {.global_name = "registry"});
  ASSERT_OK_AND_ASSIGN(ActorRef found, system.Lookup("registry"));
  EXPECT_EQ(found.get(), a.get());
  EXPECT_EQ(system.Lookup("nobody").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NamedActorTest, TheNameIsReleasedOnExitAndANewCreateMakesANewActor) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = Register({.name = "svc"});
  ActorRef first = Create("svc", {.global_name = "registry"});
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(first));
  system.RunUntilIdle();
  EXPECT_EQ(system.Lookup("registry").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(system.GetStatus().global_names.empty());
  ActorRef second = Create("svc", {.global_name = "registry"});
  EXPECT_NE(second.get(), first.get());
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(second), "running");
  EXPECT_EQ(cls->created(), 2);
  ASSERT_OK_AND_ASSIGN(ActorRef found, system.Lookup("registry"));
  EXPECT_EQ(found.get(), second.get());
}

TEST_F(NamedActorTest, ANamedChildIsNotExitedWithItsCreator) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "svc"});
  ActorRef parent = Create("svc");
  ActorRef named = Create("svc", {.global_name = "registry", .parent = parent});
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(parent));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(parent), "exited");
  EXPECT_EQ(StateOf(named), "running");
}

TEST_F(NamedActorTest, ConcurrentCreatesOfOneNameMakeExactlyOneActor) {
  ActorSystem& system = MakeThreaded(4);
  TestClass* cls = Register({.name = "svc"});
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::vector<Cell*>> seen(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }  // start together
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<ActorRef> ref = system.CreateActor("svc", {.global_name = "one"});
        if (ref.ok()) seen[t].push_back(ref->get());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<Cell*> distinct;
  size_t total = 0;
  for (const auto& v : seen) {
    distinct.insert(v.begin(), v.end());
    total += v.size();
  }
  EXPECT_EQ(total, size_t{kThreads} * kPerThread);
  EXPECT_EQ(distinct.size(), 1u);
  EXPECT_EQ(system.GetStatus().live_actors, 1u);
  system.Shutdown();
  EXPECT_EQ(cls->created(), 1);
}

TEST_F(NamedActorTest, BindGlobalNameMovesTheNameAndKeepsTheOldActorRunning) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "svc"});
  auto [supervisor, inbox] = SpawnInbox("supervisor");
  ActorRef v1 = Create("svc", {.parent = supervisor});
  ActorRef v2 = Create("svc", {.parent = supervisor});
  system.RunUntilIdle();
  ASSERT_OK(system.BindGlobalName("hello", v1));
  ASSERT_OK_AND_ASSIGN(ActorRef found, system.Lookup("hello"));
  EXPECT_EQ(found.get(), v1.get());
  ASSERT_OK(system.BindGlobalName("hello", v2));
  ASSERT_OK_AND_ASSIGN(found, system.Lookup("hello"));
  EXPECT_EQ(found.get(), v2.get());
  EXPECT_EQ(StateOf(v1), "running");
  // A bound actor stays its parent's child: its exit is reported and frees the name.
  ASSERT_OK(system.RequestExit(v2));
  system.RunUntilIdle();
  EXPECT_EQ(inbox->OfType(TROUPE_MSG_CHILD_EXITED).size(), 1u);
  EXPECT_EQ(system.Lookup("hello").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(system.GetStatus().global_names.empty());
}

TEST_F(NamedActorTest, TheNameReleaseObserverHearsOfEveryNamedActorThatExits) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "svc"});
  std::vector<std::string> heard;  // "name address"
  cluster_.on_name_released = [&](std::string_view name, std::string_view address) {
    heard.push_back(troupe::StrCat(name, " ", address));
  };
  AttachCluster();
  ActorRef named = Create("svc", {.global_name = "registry"});
  ActorRef bound = Create("svc");
  ActorRef unnamed = Create("svc");
  system.RunUntilIdle();
  ASSERT_OK(system.BindGlobalName("hello", bound));
  ASSERT_OK(system.BindGlobalName("hi", bound));
  // The name given at creation is reported even when a binding took it over.
  ASSERT_OK(system.BindGlobalName("registry", bound));
  for (const ActorRef& actor : {named, unnamed}) ASSERT_OK(system.RequestExit(actor));
  system.RunUntilIdle();
  EXPECT_EQ(heard, std::vector<std::string>{"registry " + Addr(named)});
  heard.clear();
  ASSERT_OK(system.RequestExit(bound));
  system.RunUntilIdle();
  std::sort(heard.begin(), heard.end());
  EXPECT_EQ(heard, (std::vector<std::string>{"hello " + Addr(bound), "hi " + Addr(bound),
                                             "registry " + Addr(bound)}));
  // Cleared: nobody hears of later exits.
  system.SetCluster(nullptr);
  heard.clear();
  ActorRef later = Create("svc", {.global_name = "later"});
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(later));
  system.RunUntilIdle();
  EXPECT_TRUE(heard.empty());
}

TEST_F(NamedActorTest, BindGlobalNameRefusesAnExitedActor) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "svc"});
  ActorRef actor = Create("svc");
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(actor));
  system.RunUntilIdle();
  absl::Status status = system.BindGlobalName("hello", actor);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(status.message(), "has exited");
  EXPECT_EQ(system.Lookup("hello").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NamedActorTest, SyncIsAnsweredAfterEarlierMailWithoutCallingTheHandler) {
  ActorSystem& system = MakeDeterministic();
  std::vector<std::string> handled;
  ShutdownOnExit stop(system);
  Register({.name = "svc", .receive = [&](TestInstance&, Cell*, Message& m) {
              handled.emplace_back(m.type());
              return absl::OkStatus();
            }});
  auto [collector, inbox] = SpawnInbox("collector");
  ActorRef actor = Create("svc");
  ASSERT_OK(system.Tell(actor, Message::Make("work", "1")));
  system.Deliver(actor.get(), Message::Make(kSyncType, "token", collector.get()));
  system.RunUntilIdle();
  std::vector<Received> replies = inbox->OfType(kSyncReplyType);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].payload, "token");
  EXPECT_EQ(replies[0].sender.get(), actor.get());
  EXPECT_EQ(handled, std::vector<std::string>{"work"});
}

}  // namespace
}  // namespace troupe::runtime::testing
