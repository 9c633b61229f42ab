// Tests of dead letters and the dead-letter handler.
#include <string>
#include <vector>

#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

class DeadLetterTest : public RuntimeTest {
 protected:
  // A running actor that has exited.
  ActorRef ExitedActor() {
    ActorRef a = system_->SpawnNative([](Cell*, Message&) {}, "doomed");
    EXPECT_OK(system_->RequestExit(a));
    system_->RunUntilIdle();
    EXPECT_EQ(StateOf(a), "exited");
    return a;
  }
};

TEST_F(DeadLetterTest, AMessageToAnExitedActorIsCountedWithoutAHandler) {
  ActorSystem& system = MakeDeterministic();
  ActorRef dead = ExitedActor();
  EXPECT_EQ(system.GetStatus().dead_letters, 0u);
  ASSERT_OK(system.Tell(dead, Msg("hello")));
  ASSERT_OK(system.Tell(dead, Msg("again")));
  EXPECT_EQ(system.GetStatus().dead_letters, 2u);
  EXPECT_EQ(system.GetStatus().dead_letter_handler, "");
}

TEST_F(DeadLetterTest, TheHandlerGetsADeadEnvelopeWithAddressTypePayloadAndOriginalSender) {
  ActorSystem& system = MakeDeterministic();
  auto [handler, inbox] = SpawnInbox("dl");
  auto [sender, sender_inbox] = SpawnInbox("sender");
  ASSERT_OK(system.SetDeadLetterHandler(handler));
  ActorRef dead = ExitedActor();
  ASSERT_OK(system.Tell(dead, Msg("greeting", "hi there"), sender));
  system.RunUntilIdle();
  ASSERT_EQ(inbox->size(), 1u);
  Received env = inbox->items()[0];
  EXPECT_EQ(env.type, TROUPE_MSG_DEAD_ENVELOPE);
  EXPECT_EQ(Fields(env.payload), (std::vector<std::string>{Addr(dead), "greeting", "hi there"}));
  EXPECT_EQ(env.sender.get(), sender.get());
  EXPECT_EQ(system.GetStatus().dead_letters, 1u) << "counted with a handler too";
  EXPECT_EQ(system.GetStatus().dead_letter_handler, Addr(handler));
}

TEST_F(DeadLetterTest, MessagesStillQueuedWhenAnActorExitsBecomeDeadLetters) {
  ActorSystem& system = MakeDeterministic();
  auto [handler, inbox] = SpawnInbox("dl");
  ASSERT_OK(system.SetDeadLetterHandler(handler));
  ActorRef a = system.SpawnNative([](Cell*, Message&) {});
  ASSERT_OK(system.RequestExit(a));
  ASSERT_OK(system.Tell(a, Msg("late1")));
  ASSERT_OK(system.Tell(a, Msg("late2")));
  system.RunUntilIdle();
  ASSERT_EQ(inbox->size(), 2u);
  EXPECT_EQ(Fields(inbox->items()[0].payload)[1], "late1");
  EXPECT_EQ(Fields(inbox->items()[1].payload)[1], "late2");
  EXPECT_EQ(system.GetStatus().dead_letters, 2u);
}

TEST_F(DeadLetterTest, TheLastRegisteredHandlerWins) {
  ActorSystem& system = MakeDeterministic();
  auto [h1, inbox1] = SpawnInbox("dl1");
  auto [h2, inbox2] = SpawnInbox("dl2");
  ASSERT_OK(system.SetDeadLetterHandler(h1));
  ASSERT_OK(system.SetDeadLetterHandler(h2));
  ActorRef dead = ExitedActor();
  ASSERT_OK(system.Tell(dead, Msg("x")));
  system.RunUntilIdle();
  EXPECT_EQ(inbox1->size(), 0u);
  EXPECT_EQ(inbox2->size(), 1u);
  EXPECT_EQ(system.GetStatus().dead_letter_handler, Addr(h2));
}

TEST_F(DeadLetterTest, ClearingTheHandlerRestoresNoneButStillCounts) {
  ActorSystem& system = MakeDeterministic();
  auto [h, inbox] = SpawnInbox("dl");
  ASSERT_OK(system.SetDeadLetterHandler(h));
  ASSERT_OK(system.SetDeadLetterHandler(ActorRef()));
  ActorRef dead = ExitedActor();
  ASSERT_OK(system.Tell(dead, Msg("x")));
  system.RunUntilIdle();
  EXPECT_EQ(inbox->size(), 0u);
  EXPECT_EQ(system.GetStatus().dead_letters, 1u);
  EXPECT_EQ(system.GetStatus().dead_letter_handler, "");
}

TEST_F(DeadLetterTest, AnActorCanRegisterAndUnregisterItselfAsTheHandler) {
  ActorSystem& system = MakeDeterministic();
  Inbox* inbox = NewInbox();
  ActorRef h = system.SpawnNative([inbox](Cell* self, Message& m) {
    if (m.type() == "on") self->system()->SetDeadLetterHandlerFromActor(self, true);
    if (m.type() == "off") self->system()->SetDeadLetterHandlerFromActor(self, false);
    inbox->Add(m);
  });
  ASSERT_OK(system.Tell(h, Msg("on")));
  system.RunUntilIdle();
  ActorRef dead = ExitedActor();
  ASSERT_OK(system.Tell(dead, Msg("x")));
  system.RunUntilIdle();
  EXPECT_EQ(inbox->OfType(TROUPE_MSG_DEAD_ENVELOPE).size(), 1u);
  ASSERT_OK(system.Tell(h, Msg("off")));
  system.RunUntilIdle();
  ASSERT_OK(system.Tell(dead, Msg("y")));
  system.RunUntilIdle();
  EXPECT_EQ(inbox->OfType(TROUPE_MSG_DEAD_ENVELOPE).size(), 1u);
  EXPECT_EQ(system.GetStatus().dead_letters, 2u);
}

TEST_F(DeadLetterTest, AnExitedHandlerIsUnregistered) {
  ActorSystem& system = MakeDeterministic();
  auto [h, inbox] = SpawnInbox("dl");
  ASSERT_OK(system.SetDeadLetterHandler(h));
  ASSERT_OK(system.RequestExit(h));
  system.RunUntilIdle();
  EXPECT_EQ(system.GetStatus().dead_letter_handler, "");
  ActorRef dead = ExitedActor();
  ASSERT_OK(system.Tell(dead, Msg("x")));
  system.RunUntilIdle();
  EXPECT_EQ(system.GetStatus().dead_letters, 1u);
}

TEST_F(DeadLetterTest, ParseAddressOfAnUnknownIdYieldsAnAddressWhoseMessagesAreDeadLetters) {
  ActorSystem& system = MakeDeterministic();
  auto [h, inbox] = SpawnInbox("dl");
  ASSERT_OK(system.SetDeadLetterHandler(h));
  ASSERT_OK_AND_ASSIGN(ActorRef ghost, system.ParseAddress("troupe://local/987654321"));
  ASSERT_TRUE(ghost);
  EXPECT_EQ(system.GetActorStatus(ghost).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(system.Tell(ghost, Msg("boo", "payload")));
  system.RunUntilIdle();
  EXPECT_EQ(system.GetStatus().dead_letters, 1u);
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ(Fields(inbox->items()[0].payload),
            (std::vector<std::string>{"troupe://local/987654321", "boo", "payload"}));
}

TEST_F(DeadLetterTest, ParseAddressOfAnExitedActorYieldsADeadLetterAddress) {
  ActorSystem& system = MakeDeterministic();
  ActorRef dead = ExitedActor();
  ASSERT_OK_AND_ASSIGN(ActorRef parsed, system.ParseAddress(Addr(dead)));
  ASSERT_OK(system.Tell(parsed, Msg("x")));
  EXPECT_EQ(system.GetStatus().dead_letters, 1u);
}

TEST_F(DeadLetterTest, ParseAddressOfALiveActorReturnsThatActor) {
  ActorSystem& system = MakeDeterministic();
  auto [a, inbox] = SpawnInbox();
  ASSERT_OK_AND_ASSIGN(ActorRef parsed, system.ParseAddress(Addr(a)));
  EXPECT_EQ(parsed.get(), a.get());
  EXPECT_EQ(system.ParseAddress("nonsense").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(system.ParseAddress("troupe://local/12x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace troupe::runtime::testing
