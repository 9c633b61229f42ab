// Tests of handler failure: retry, PoisonMessage, restart policy.
#include <string>
#include <vector>

#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

using FailureTest = RuntimeTest;

// Replies "ok" "<serial>:<handled>" to the sender; "fail_once" fails the first
// time an instance sees it, "fail_on_first_instance" fails on the class's
// first instance only, "fail" always fails.
absl::Status FlakyReceive(TestInstance& self, Cell* cell, Message& m) {
  if (m.type() == "fail" || (m.type() == "fail_once" && !self.failed_once) ||
      (m.type() == "fail_on_first_instance" && self.serial == 1)) {
    self.failed_once = true;
    return absl::InternalError("boom on " + std::string(m.type()));
  }
  if (m.kind() == MessageKind::kUser && m.sender() != nullptr) {
    Send(cell, m.sender(), "ok", std::to_string(self.serial) + ":" + std::to_string(self.handled));
  }
  return absl::OkStatus();
}

TEST_F(FailureTest, AFailedMessageIsRetriedOnceOnTheSameInstance) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls = Register({.name = "flaky", .receive = FlakyReceive});
  auto [client, inbox] = SpawnInbox();
  ActorRef actor = Create("flaky");
  ASSERT_OK(system.Tell(actor, Msg("warm_up"), client));
  ASSERT_OK(system.Tell(actor, Msg("fail_once"), client));
  system.RunUntilIdle();
  std::vector<Received> oks = inbox->OfType("ok");
  ASSERT_EQ(oks.size(), 2u);
  EXPECT_EQ(oks[1].payload, "1:3") << "same instance; the failed attempt counted in its state";
  EXPECT_TRUE(inbox->OfType(TROUPE_MSG_POISON).empty());
  EXPECT_EQ(cls->created(), 1);
  EXPECT_EQ(system.GetStatus().handler_failures, 1u);
  EXPECT_EQ(system.GetStatus().poison_messages, 0u);
}

TEST_F(FailureTest, ASecondFailureReturnsAPoisonMessageWithTypePayloadAndError) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "flaky", .receive = FlakyReceive});
  auto [client, inbox] = SpawnInbox();
  ActorRef actor = Create("flaky");
  ASSERT_OK(system.Tell(actor, Msg("fail", "the payload"), client));
  system.RunUntilIdle();
  std::vector<Received> poison = inbox->OfType(TROUPE_MSG_POISON);
  ASSERT_EQ(poison.size(), 1u);
  std::vector<std::string> fields = Fields(poison[0].payload);
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0], "fail");
  EXPECT_EQ(fields[1], "the payload");
  EXPECT_NE(fields[2].find("boom on fail"), std::string::npos) << fields[2];
  EXPECT_EQ(poison[0].sender.get(), actor.get());
  EXPECT_EQ(system.GetStatus().poison_messages, 1u);
  EXPECT_EQ(system.GetStatus().handler_failures, 2u);
  // The actor goes on with its next message.
  ASSERT_OK(system.Tell(actor, Msg("next"), client));
  system.RunUntilIdle();
  EXPECT_EQ(inbox->OfType("ok").size(), 1u);
  EXPECT_EQ(StateOf(actor), "running");
}

TEST_F(FailureTest, AFailureWhileHandlingAPoisonMessageNeverProducesAnother) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "always_fails",
            .receive = [](TestInstance&, Cell*, Message&) { return absl::InternalError("no"); }});
  ActorRef a = Create("always_fails");
  ActorRef b = Create("always_fails");
  ASSERT_OK(system.Tell(b, Msg("x"), a));  // B fails twice: poison to A, which fails twice too
  for (int i = 0; i < 100 && system.RunOne(); ++i) {
  }
  EXPECT_FALSE(system.RunOne()) << "poison ping-pong";
  EXPECT_EQ(system.GetStatus().poison_messages, 1u);
  EXPECT_EQ(system.GetStatus().handler_failures, 4u);
}

TEST_F(FailureTest, RestartPolicyGivesAFreshInstanceBeforeTheRetry) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls =
      Register({.name = "restarting", .receive = FlakyReceive, .policy = TROUPE_FAILURE_RESTART});
  auto [client, inbox] = SpawnInbox();
  ActorRef actor = Create("restarting");
  ASSERT_OK(system.Tell(actor, Msg("warm_up"), client));
  ASSERT_OK(system.Tell(actor, Msg("fail_on_first_instance"), client));
  system.RunUntilIdle();
  std::vector<Received> oks = inbox->OfType("ok");
  ASSERT_EQ(oks.size(), 2u);
  EXPECT_EQ(oks[0].payload, "1:1");
  EXPECT_EQ(oks[1].payload, "2:1") << "a new instance with fresh state handled the retry";
  EXPECT_EQ(cls->created(), 2);
  EXPECT_EQ(cls->destroyed(), 1);
  EXPECT_TRUE(inbox->OfType(TROUPE_MSG_POISON).empty());
}

TEST_F(FailureTest, RestartPolicyStillReturnsPoisonAfterTheFreshInstanceFails) {
  ActorSystem& system = MakeDeterministic();
  TestClass* cls =
      Register({.name = "restarting", .receive = FlakyReceive, .policy = TROUPE_FAILURE_RESTART});
  auto [client, inbox] = SpawnInbox();
  ActorRef actor = Create("restarting");
  ASSERT_OK(system.Tell(actor, Msg("fail"), client));
  system.RunUntilIdle();
  EXPECT_EQ(inbox->OfType(TROUPE_MSG_POISON).size(), 1u);
  EXPECT_EQ(cls->created(), 2);
}

TEST_F(FailureTest, AFailedRestartWhileHandlingAPoisonMessageProducesNoPoison) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "fragile",
            .receive = [](TestInstance&, Cell*, Message&) { return absl::InternalError("no"); },
            .create =
                [](int serial) {
                  return serial == 1 ? absl::OkStatus() : absl::InternalError("cannot restart");
                },
            .policy = TROUPE_FAILURE_RESTART});
  auto [client, inbox] = SpawnInbox();
  ActorRef actor = Create("fragile");
  std::string poison_payload;
  wire::AppendField(&poison_payload, "orig");
  wire::AppendField(&poison_payload, "");
  wire::AppendField(&poison_payload, "err");
  ASSERT_OK(system.Tell(actor, Msg(TROUPE_MSG_POISON, poison_payload), client));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(actor), "exited") << "the restart failed";
  EXPECT_TRUE(inbox->OfType(TROUPE_MSG_POISON).empty());
  EXPECT_EQ(system.GetStatus().poison_messages, 0u);
}

TEST_F(FailureTest, AskReturnsThePoisonMessageWhenTheTargetFailsTwice) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "flaky", .receive = FlakyReceive});
  ActorRef actor = Create("flaky");
  ASSERT_OK_AND_ASSIGN(Message reply, system.Ask(actor, Msg("fail", "p"), absl::Seconds(1)));
  EXPECT_EQ(reply.type(), TROUPE_MSG_POISON);
  std::vector<std::string> fields = Fields(reply.payload());
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0], "fail");
  EXPECT_EQ(fields[1], "p");
}

TEST_F(FailureTest, FailedCounterCountsEveryFailedAttempt) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "flaky", .receive = FlakyReceive});
  ActorRef actor = Create("flaky");
  ASSERT_OK(system.Tell(actor, Msg("fail")));
  ASSERT_OK(system.Tell(actor, Msg("fail_once")));
  system.RunUntilIdle();
  ASSERT_OK_AND_ASSIGN(ActorStatus status, system.GetActorStatus(actor));
  EXPECT_EQ(status.failed, 2u) << "'fail' failed twice; the instance already failed once, so "
                                  "fail_once succeeds";
  EXPECT_EQ(system.GetStatus().poison_messages, 1u) << "counted even without a sender";
}

}  // namespace
}  // namespace troupe::runtime::testing
