// Tests of the runtime's defences: refusing what would corrupt its state
// (forged system messages, children of exited parents, dead handlers) and
// releasing what an exited actor held.
#include <string>
#include <thread>
#include <vector>

#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

class RobustnessTest : public RuntimeTest {};

TEST_F(RobustnessTest, ReservedMessageTypesCannotBeSentFromOutside) {
  ActorSystem& system = MakeDeterministic();
  auto [target, inbox] = SpawnInbox();
  for (const char* type :
       {TROUPE_MSG_CHILD_EXITED, TROUPE_MSG_DEAD_ENVELOPE, "troupe.internal.PoolMemberReady"}) {
    absl::Status told = system.Tell(target, Msg(type));
    EXPECT_EQ(told.code(), absl::StatusCode::kInvalidArgument) << type;
    EXPECT_NE(std::string(told.message()).find("reserved"), std::string::npos) << told;
    EXPECT_EQ(system.Ask(target, Msg(type), absl::Seconds(1)).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  system.RunUntilIdle();
  EXPECT_EQ(inbox->size(), 0u);
}

TEST_F(RobustnessTest, ReservedMessageTypesCannotBeSentThroughTheHostTable) {
  ActorSystem& system = MakeDeterministic();
  auto [target, inbox] = SpawnInbox();
  troupe_result_t result = TROUPE_OK;
  Register({.name = "forger", .receive = [&](TestInstance&, Cell* self, Message& m) {
              // Only "go": the exit request at teardown comes after the locals are gone.
              if (m.type() != "go") return absl::OkStatus();
              result = HostTable()->send(
                  self->context(), target.get(),
                  {TROUPE_MSG_CHILD_EXITED, sizeof(TROUPE_MSG_CHILD_EXITED) - 1}, {"", 0});
              return absl::OkStatus();
            }});
  ActorRef forger = Create("forger");
  ASSERT_OK(system.Tell(forger, Msg("go")));
  system.RunUntilIdle();
  EXPECT_EQ(result, TROUPE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(inbox->size(), 0u);
}

TEST_F(RobustnessTest, AChildOfAnExitedParentIsRefused) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "plain"});
  ActorRef parent = Create("plain");
  ASSERT_OK(system.RequestExit(parent));
  system.RunUntilIdle();
  ASSERT_EQ(StateOf(parent), "exited");
  absl::StatusOr<ActorRef> child = system.CreateActor("plain", {.parent = parent});
  EXPECT_EQ(child.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(system.GetStatus().live_actors, 0u);
}

TEST_F(RobustnessTest, PendingWakeupsAreDroppedWhenTheActorExits) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "sleeper", .receive = [](TestInstance&, Cell* self, Message& m) {
              if (m.type() == "nap") self->system()->AddWakeup(self, absl::Hours(24), "");
              return absl::OkStatus();
            }});
  ActorRef sleeper = Create("sleeper");
  ASSERT_OK(system.Tell(sleeper, Msg("nap")));
  system.RunUntilIdle();
  ASSERT_EQ(system.GetStatus().pending_wakeups, 1u);
  ASSERT_OK(system.RequestExit(sleeper));
  system.RunUntilIdle();
  EXPECT_EQ(system.GetStatus().pending_wakeups, 0u) << "not kept until the deadline";
  EXPECT_EQ(sleeper->pending_wakeups(), 0u);
}

TEST_F(RobustnessTest, OnlyALiveActorCanBeTheDeadLetterHandler) {
  ActorSystem& system = MakeDeterministic();
  auto [handler, inbox] = SpawnInbox();
  ASSERT_OK(system.RequestExit(handler));
  system.RunUntilIdle();
  EXPECT_EQ(system.SetDeadLetterHandler(handler).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(system.GetStatus().dead_letter_handler, "");
}

// A class whose capability check always refuses.
class PickyClass final : public ActorClass {
 public:
  std::string_view name() const override { return "picky"; }
  absl::StatusOr<void*> Create(Cell*) const override { return new int(0); }
  absl::Status Receive(void*, Cell*, Message&) const override { return absl::OkStatus(); }
  void Destroy(void* instance) const override { delete static_cast<int*>(instance); }
  bool has_capability_check() const override { return true; }
  bool CapabilityCheck(std::string_view, std::string_view requirements) const override {
    seen_requirements = std::string(requirements);
    return false;
  }
  mutable std::string seen_requirements;
};

TEST_F(RobustnessTest, TheCapabilityCheckRunsEvenWithoutRequirements) {
  ActorSystem& system = MakeDeterministic();
  auto owned = std::make_unique<PickyClass>();
  PickyClass* picky = owned.get();
  ASSERT_OK(system.RegisterClass(std::move(owned)));
  absl::StatusOr<ActorRef> ref = system.CreateActor("picky");
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(picky->seen_requirements, "{}");
}

TEST_F(RobustnessTest, ANamedActorThatIsExitingNoLongerHoldsItsName) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "holder", .receive = [](TestInstance&, Cell* self, Message& m) {
              if (m.type() == "spawn") (void)self->system()->CreateChild(self, "holder", {}, "");
              return absl::OkStatus();
            }});
  ActorRef first = Create("holder", {.global_name = "singleton"});
  ASSERT_OK(system.Tell(first, Msg("spawn")));
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(first));
  // Step until the holder waits for its child.
  while (StateOf(first) != "exiting" && system.RunOne()) {
  }
  ASSERT_EQ(StateOf(first), "exiting");
  EXPECT_EQ(system.Lookup("singleton").status().code(), absl::StatusCode::kNotFound);
  ActorRef second = Create("holder", {.global_name = "singleton"});
  EXPECT_NE(second.get(), first.get());
  system.RunUntilIdle();
  ASSERT_OK_AND_ASSIGN(ActorRef found, system.Lookup("singleton"));
  EXPECT_EQ(found.get(), second.get()) << "the old holder's exit must not release the new name";
}

TEST_F(RobustnessTest, AParsedAddressOfAFutureIdNeverMatchesALaterActor) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "plain"});
  ActorRef probe = Create("plain");
  uint64_t future = probe->id() + 3;
  ASSERT_OK_AND_ASSIGN(ActorRef ghost,
                       system.ParseAddress("troupe://local/" + std::to_string(future)));
  for (int i = 0; i < 10; ++i) {
    ActorRef later = Create("plain");
    EXPECT_NE(later->id(), ghost->id());
  }
  EXPECT_EQ(
      system.ParseAddress("troupe://local/" + std::to_string(uint64_t{1} << 63)).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(RobustnessTest, AnExternalAddressOfAFutureIdIsNotFoundAndReservesNothing) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "plain"});
  ActorRef probe = Create("plain");
  const std::string huge = "troupe://local/" + std::to_string((uint64_t{1} << 62) - 1);
  absl::StatusOr<ActorRef> ghost = system.ParseExternalAddress(huge);
  EXPECT_EQ(ghost.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(ghost.status().message(), "has not created it");
  ActorRef next = Create("plain");
  EXPECT_EQ(next->id(), probe->id() + 1);  // the id space is untouched
  ASSERT_OK_AND_ASSIGN(ActorRef found, system.ParseExternalAddress(Addr(next)));
  EXPECT_EQ(found.get(), next.get());
}

TEST_F(RobustnessTest, ChildActorExitedArrivesExactlyOncePerChildUnderConcurrentExitRequests) {
  ActorSystem& system = MakeThreaded(2);
  constexpr int kChildren = 50;
  std::vector<ActorRef> children;
  troupe::Mutex mu;
  troupe::CondVar cv;
  int notices = 0;
  Register({.name = "child"});
  Register({.name = "parent", .receive = [&](TestInstance&, Cell* self, Message& m) {
              if (m.type() == "spawn") {
                for (int i = 0; i < kChildren; ++i) {
                  absl::StatusOr<ActorRef> c = self->system()->CreateChild(self, "child", {}, "");
                  troupe::MutexLock lock(&mu);
                  children.push_back(*c);
                  cv.SignalAll();
                }
              } else if (m.kind() == MessageKind::kChildExited) {
                troupe::MutexLock lock(&mu);
                ++notices;
                cv.SignalAll();
              } else if (m.type() == "ping" && m.sender() != nullptr) {
                Send(self, m.sender(), "pong");
              }
              return absl::OkStatus();
            }});
  ShutdownOnExit shutdown(system);
  ActorRef parent = Create("parent");
  ASSERT_OK(system.Tell(parent, Msg("spawn")));
  std::vector<ActorRef> snapshot;
  {
    troupe::MutexLock lock(&mu);
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (children.size() < kChildren && !cv.WaitWithDeadline(&mu, deadline)) {
    }
    ASSERT_EQ(children.size(), static_cast<size_t>(kChildren));
    snapshot = children;
  }
  // Two threads each ask every child to exit twice.
  auto hammer = [&] {
    for (int round = 0; round < 2; ++round)
      for (const ActorRef& c : snapshot) (void)system.RequestExit(c);
  };
  std::thread a(hammer), b(hammer);
  a.join();
  b.join();
  {
    troupe::MutexLock lock(&mu);
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (notices < kChildren && !cv.WaitWithDeadline(&mu, deadline)) {
    }
  }
  // Flush: every notice already sent reaches the parent before this reply.
  ASSERT_OK_AND_ASSIGN(Message unused, system.Ask(parent, Msg("ping"), absl::Seconds(10)));
  (void)unused;
  troupe::MutexLock lock(&mu);
  EXPECT_EQ(notices, kChildren);
}

}  // namespace
}  // namespace troupe::runtime::testing
