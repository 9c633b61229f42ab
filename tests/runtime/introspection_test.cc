// Tests of GetActorStatus, GetStatus and ListActors.
#include <algorithm>
#include <string>
#include <vector>

#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

using IntrospectionTest = RuntimeTest;

TEST_F(IntrospectionTest, ActorStatusReportsClassFamilyAndCounters) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "probe", .receive = [](TestInstance&, Cell* cell, Message& m) {
              if (m.type() == "reply" && m.sender() != nullptr) Send(cell, m.sender(), "r");
              if (m.type() == "fail") return absl::InternalError("fails");
              if (m.type() == "nap") cell->system()->AddWakeup(cell, absl::Seconds(1), "");
              return absl::OkStatus();
            }});
  auto [client, inbox] = SpawnInbox();
  ActorRef parent = Create("probe");
  ActorRef c1 = Create("probe", {.parent = parent});
  ActorRef c2 = Create("probe", {.parent = parent});
  system.RunUntilIdle();
  ASSERT_OK(system.Tell(parent, Msg("reply"), client));
  ASSERT_OK(system.Tell(parent, Msg("reply"), client));
  ASSERT_OK(system.Tell(parent, Msg("fail"), client));
  ASSERT_OK(system.Tell(parent, Msg("nap")));
  system.RunUntilIdle();

  ASSERT_OK_AND_ASSIGN(ActorStatus s, system.GetActorStatus(parent));
  EXPECT_EQ(s.address, Addr(parent));
  EXPECT_EQ(s.class_name, "probe");
  EXPECT_EQ(s.parent, "");
  EXPECT_EQ(s.state, "running");
  std::vector<std::string> children = {Addr(c1), Addr(c2)};
  std::sort(children.begin(), children.end());
  EXPECT_EQ(s.children, children);
  EXPECT_EQ(s.received, 4u);
  EXPECT_EQ(s.sent, 2u);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.mailbox_depth, 0u);
  EXPECT_EQ(s.pending_wakeups, 1u);

  ASSERT_OK_AND_ASSIGN(ActorStatus child, system.GetActorStatus(c1));
  EXPECT_EQ(child.parent, Addr(parent));
  EXPECT_TRUE(child.children.empty());

  // Queued, unhandled messages show as mailbox depth, not as received.
  for (int i = 0; i < 3; ++i) ASSERT_OK(system.Tell(parent, Msg("x")));
  ASSERT_OK_AND_ASSIGN(s, system.GetActorStatus(parent));
  EXPECT_EQ(s.mailbox_depth, 3u);
  EXPECT_EQ(s.received, 4u);
  system.RunUntilIdle();
  ASSERT_OK_AND_ASSIGN(s, system.GetActorStatus(parent));
  EXPECT_EQ(s.mailbox_depth, 0u);
  EXPECT_EQ(s.received, 7u);

  system.AdvanceClock(absl::Seconds(1));
  system.RunUntilIdle();
  ASSERT_OK_AND_ASSIGN(s, system.GetActorStatus(parent));
  EXPECT_EQ(s.pending_wakeups, 0u);

  // An exited child leaves the parent's list.
  ASSERT_OK(system.RequestExit(c1));
  system.RunUntilIdle();
  ASSERT_OK_AND_ASSIGN(s, system.GetActorStatus(parent));
  EXPECT_EQ(s.children, std::vector<std::string>{Addr(c2)});
}

TEST_F(IntrospectionTest, SystemStatusCountsLiveActorsDeadLettersAndPoison) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "bad",
            .receive = [](TestInstance&, Cell*, Message&) { return absl::InternalError("x"); }});
  SystemStatus s = system.GetStatus();
  EXPECT_EQ(s.live_actors, 0u);
  ActorRef a = Create("bad");
  ActorRef b = Create("bad");
  EXPECT_EQ(system.GetStatus().live_actors, 2u) << "counted from creation";
  ASSERT_OK(system.Tell(a, Msg("m")));
  system.RunUntilIdle();
  s = system.GetStatus();
  EXPECT_EQ(s.poison_messages, 1u);
  EXPECT_EQ(s.handler_failures, 2u);
  ASSERT_OK(system.RequestExit(b));
  system.RunUntilIdle();
  EXPECT_EQ(system.GetStatus().live_actors, 1u);
  ASSERT_OK(system.Tell(b, Msg("late")));
  EXPECT_EQ(system.GetStatus().dead_letters, 1u);
}

TEST_F(IntrospectionTest, ListActorsListsLiveActorsButNotAskHelpers) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "probe"});
  ActorRef a = Create("probe");
  ActorRef b = Create("probe");
  system.RunUntilIdle();
  std::vector<ActorStatus> all = system.ListActors();
  ASSERT_EQ(all.size(), 2u);
  ASSERT_OK(system.RequestExit(a));
  system.RunUntilIdle();
  all = system.ListActors();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].address, Addr(b));
}

}  // namespace
}  // namespace troupe::runtime::testing
