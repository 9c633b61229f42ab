// Tests of pools: one address fronting up to max_count member instances.
#include <set>
#include <string>
#include <vector>

#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

class PoolTest : public RuntimeTest {
 protected:
  // "pooled": "work" replies "done" with the same payload to the sender and
  // logs "<payload>"; "nap" asks for a wakeup, logged as "woke:<serial>".
  TestClass* RegisterPooled(uint32_t max_count, uint32_t idle_count) {
    return Register({.name = "pooled",
                     .receive =
                         [this](TestInstance& self, Cell* cell, Message& m) {
                           if (m.type() == "work") {
                             log_.push_back(std::string(m.payload()));
                             if (m.sender() != nullptr) Send(cell, m.sender(), "done", m.payload());
                           } else if (m.type() == "nap") {
                             log_.push_back("nap:" + std::to_string(self.serial));
                             cell->system()->AddWakeup(cell, absl::Milliseconds(10), "");
                           } else if (m.kind() == MessageKind::kWakeup) {
                             log_.push_back("woke:" + std::to_string(self.serial));
                           } else if (m.type() == "quit") {
                             cell->RequestExitAfterTurn();
                           } else if (m.type() == "ask_echo") {
                             // A member talking to another actor gets replies that are not work.
                             Send(cell, echo_.get(), "ping");
                           }
                           return absl::OkStatus();
                         },
                     .pool_max = max_count,
                     .pool_idle = idle_count});
  }
  static std::set<Cell*> DistinctSenders(const std::vector<Received>& rs) {
    std::set<Cell*> out;
    for (const Received& r : rs) out.insert(r.sender.get());
    return out;
  }
  size_t Members(const ActorRef& pool) {
    absl::StatusOr<ActorStatus> s = system_->GetActorStatus(pool);
    return s.ok() ? s->children.size() : 0;
  }

  std::vector<std::string> log_;
  ActorRef echo_;
};

TEST_F(PoolTest, APooledClassGetsOneAddressAndUpToMaxCountInstances) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = RegisterPooled(3, 1);
  auto [client, inbox] = SpawnInbox();
  ActorRef pool = Create("pooled");
  for (int i = 0; i < 10; ++i) ASSERT_OK(system.Tell(pool, Msg("work", std::to_string(i)), client));
  system.RunUntilIdle();
  std::vector<Received> done = inbox->OfType("done");
  ASSERT_EQ(done.size(), 10u);
  std::set<Cell*> members = DistinctSenders(done);
  EXPECT_EQ(members.size(), 3u) << "ten messages queued at once use every allowed member";
  EXPECT_FALSE(members.contains(pool.get())) << "members reply from their own addresses";
  EXPECT_EQ(cls->created(), 3);
  ASSERT_OK_AND_ASSIGN(ActorStatus status, system.GetActorStatus(pool));
  EXPECT_EQ(status.class_name, "pooled (pool)");
}

TEST_F(PoolTest, IdleCountMembersAreKeptWarmAndTheRestExit) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = RegisterPooled(3, 1);
  auto [client, inbox] = SpawnInbox();
  ActorRef pool = Create("pooled");
  for (int i = 0; i < 6; ++i) ASSERT_OK(system.Tell(pool, Msg("work", std::to_string(i)), client));
  system.RunUntilIdle();
  EXPECT_EQ(Members(pool), 1u);
  EXPECT_EQ(cls->destroyed(), 2);
  EXPECT_EQ(system.GetStatus().live_actors, 3u) << "client, pool manager, one warm member";
  // The warm member takes the next job: no new instance.
  ASSERT_OK(system.Tell(pool, Msg("work", "again"), client));
  system.RunUntilIdle();
  EXPECT_EQ(inbox->OfType("done").size(), 7u);
  EXPECT_EQ(cls->created(), 3);
}

TEST_F(PoolTest, WorkIsQueuedInFifoOrderWhileEveryMemberIsBusy) {
  ActorSystem& system = MakeDeterministic();
  RegisterPooled(2, 2);
  auto [client, inbox] = SpawnInbox();
  ActorRef pool = Create("pooled");
  std::vector<std::string> expected;
  for (int i = 0; i < 8; ++i) {
    expected.push_back("w" + std::to_string(i));
    ASSERT_OK(system.Tell(pool, Msg("work", expected.back()), client));
  }
  system.RunUntilIdle();
  EXPECT_EQ(log_, expected);
  EXPECT_EQ(DistinctSenders(inbox->OfType("done")).size(), 2u);
}

TEST_F(PoolTest, AMessageWithAnEmptyPayloadIsNotDropped) {
  ActorSystem& system = MakeDeterministic();
  RegisterPooled(2, 1);
  auto [client, inbox] = SpawnInbox();
  ActorRef pool = Create("pooled");
  ASSERT_OK(system.Tell(pool, Msg("work", ""), client));
  system.RunUntilIdle();
  ASSERT_EQ(inbox->OfType("done").size(), 1u);
  EXPECT_EQ(inbox->OfType("done")[0].payload, "");
}

TEST_F(PoolTest, SettingsChangeAtRunTimeAndTheReplyHoldsTheValuesInEffect) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = RegisterPooled(4, 0);
  auto [client, inbox] = SpawnInbox();
  ActorRef pool = Create("pooled");
  ASSERT_OK(system.Tell(pool, Msg(TROUPE_MSG_POOL_SETTINGS, U32Pair(2, 5)), client));
  system.RunUntilIdle();
  std::vector<Received> replies = inbox->OfType(TROUPE_MSG_POOL_SETTINGS);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].payload, U32Pair(2, 2)) << "idle_count is capped at max_count";
  EXPECT_EQ(replies[0].sender.get(), pool.get());
  for (int i = 0; i < 10; ++i) ASSERT_OK(system.Tell(pool, Msg("work", std::to_string(i)), client));
  system.RunUntilIdle();
  EXPECT_EQ(DistinctSenders(inbox->OfType("done")).size(), 2u) << "the new max_count applies";
  EXPECT_EQ(cls->created(), 2);
  EXPECT_EQ(Members(pool), 2u) << "the new idle_count applies";
  // Lowering idle_count sends the extra warm members away at once.
  ASSERT_OK(system.Tell(pool, Msg(TROUPE_MSG_POOL_SETTINGS, U32Pair(2, 0)), client));
  system.RunUntilIdle();
  EXPECT_EQ(Members(pool), 0u);
  EXPECT_EQ(inbox->OfType(TROUPE_MSG_POOL_SETTINGS).back().payload, U32Pair(2, 0));
}

TEST_F(PoolTest, InvalidSettingsAreReturnedAsPoison) {
  ActorSystem& system = MakeDeterministic();
  RegisterPooled(4, 0);
  auto [client, inbox] = SpawnInbox();
  ActorRef pool = Create("pooled");
  ASSERT_OK(system.Tell(pool, Msg(TROUPE_MSG_POOL_SETTINGS, U32Pair(0, 0)), client));
  system.RunUntilIdle();
  EXPECT_EQ(inbox->OfType(TROUPE_MSG_POISON).size(), 1u);
  EXPECT_TRUE(inbox->OfType(TROUPE_MSG_POOL_SETTINGS).empty());
}

TEST_F(PoolTest, MembersReceiveTheirOwnWakeups) {
  ActorSystem& system = MakeDeterministic();
  RegisterPooled(3, 3);
  ActorRef pool = Create("pooled");
  ASSERT_OK(system.Tell(pool, Msg("nap")));
  ASSERT_OK(system.Tell(pool, Msg("nap")));
  system.RunUntilIdle();
  ASSERT_EQ(log_.size(), 2u);
  ASSERT_EQ(log_[0].rfind("nap:", 0), 0u);
  ASSERT_EQ(log_[1].rfind("nap:", 0), 0u);
  ASSERT_NE(log_[0], log_[1]) << "two idle members share the work";
  const std::string first = log_[0].substr(4), second = log_[1].substr(4);
  system.AdvanceClock(absl::Milliseconds(10));
  system.RunUntilIdle();
  EXPECT_EQ(log_, (std::vector<std::string>{"nap:" + first, "nap:" + second, "woke:" + first,
                                            "woke:" + second}));
  EXPECT_EQ(Members(pool), 3u) << "a wakeup is not work: the warm set stays as it was";
}

TEST_F(PoolTest, ExitingThePoolExitsItsMembers) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = RegisterPooled(3, 3);
  ActorRef pool = Create("pooled");
  for (int i = 0; i < 3; ++i) ASSERT_OK(system.Tell(pool, Msg("work")));
  system.RunUntilIdle();
  ASSERT_EQ(Members(pool), 3u);
  ASSERT_OK(system.RequestExit(pool));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(pool), "exited");
  EXPECT_EQ(cls->destroyed(), 3);
  EXPECT_EQ(system.GetStatus().live_actors, 0u);
}

TEST_F(PoolTest, RepliesToAMemberDoNotEvictTheWarmMember) {
  ActorSystem& system = MakeDeterministic();
  RegisterPooled(2, 1);
  echo_ = system.SpawnNative([](Cell* self, Message& m) {
    if (m.sender() != nullptr && m.type() == "ping") Send(self, m.sender(), "pong");
  });
  auto [client, inbox] = SpawnInbox();
  ActorRef pool = Create("pooled");
  ASSERT_OK(system.Tell(pool, Msg("ask_echo"), client));
  system.RunUntilIdle();
  EXPECT_EQ(Members(pool), 1u) << "the one member is within idle_count and must stay warm";
  ASSERT_OK(system.Tell(pool, Msg("work", "x"), client));
  system.RunUntilIdle();
  EXPECT_EQ(inbox->OfType("done").size(), 1u);
  EXPECT_EQ(system.GetStatus().dead_letters, 0u);
}

TEST_F(PoolTest, APoolStartsWithItsWarmSet) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = RegisterPooled(4, 2);
  ActorRef pool = Create("pooled");
  system.RunUntilIdle();
  EXPECT_EQ(Members(pool), 2u);
  EXPECT_EQ(cls->created(), 2);
}

TEST_F(PoolTest, QueuedWorkGoesToANewMemberWhenBusyMembersExit) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = RegisterPooled(2, 0);
  auto [client, inbox] = SpawnInbox();
  ActorRef pool = Create("pooled");
  // Both members take a "quit" and exit; the work waits in the queue meanwhile.
  ASSERT_OK(system.Tell(pool, Msg("quit"), client));
  ASSERT_OK(system.Tell(pool, Msg("quit"), client));
  ASSERT_OK(system.Tell(pool, Msg("work", "w"), client));
  system.RunUntilIdle();
  ASSERT_EQ(inbox->OfType("done").size(), 1u) << "queued work must not be stranded";
  EXPECT_EQ(inbox->OfType("done")[0].payload, "w");
  EXPECT_EQ(cls->created(), 3);
  EXPECT_EQ(system.GetStatus().dead_letters, 0u);
}

TEST_F(PoolTest, AnExitRequestIsNotWorkForAMember) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = RegisterPooled(3, 1);
  ActorRef pool = Create("pooled");
  system.RunUntilIdle();
  ASSERT_EQ(cls->created(), 1);
  ASSERT_OK(system.RequestExit(pool));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(pool), "exited");
  EXPECT_EQ(cls->created(), 1) << "no member is made just to receive the exit request";
  EXPECT_EQ(cls->destroyed(), 1);
  EXPECT_EQ(system.GetStatus().dead_letters, 0u);
}

}  // namespace
}  // namespace troupe::runtime::testing
