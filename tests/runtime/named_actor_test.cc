// Tests of globally named actors.
#include <set>
#include <thread>
#include <vector>

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

}  // namespace
}  // namespace troupe::runtime::testing
