// Tests of Ask.
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

using AskTest = RuntimeTest;

TEST_F(AskTest, AskReturnsTheReplyInADeterministicSystem) {
  ActorSystem& system = MakeDeterministic();
  ActorRef echo = system.SpawnNative(Echo());
  ASSERT_OK_AND_ASSIGN(Message reply, system.Ask(echo, Msg("q", "42"), absl::Seconds(1)));
  EXPECT_EQ(reply.type(), "re:q");
  EXPECT_EQ(reply.payload(), "42");
  EXPECT_EQ(reply.sender(), echo.get());
  EXPECT_EQ(system.GetStatus().live_actors, 1u) << "the temporary reply actor is gone";
}

TEST_F(AskTest, AskReturnsTheReplyInAThreadedSystem) {
  ActorSystem& system = MakeThreaded(2);
  ActorRef echo = system.SpawnNative(Echo());
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(Message reply,
                         system.Ask(echo, Msg("q", std::to_string(i)), absl::Seconds(10)));
    EXPECT_EQ(reply.payload(), std::to_string(i));
  }
}

TEST_F(AskTest, AskOfATargetThatNeverRepliesIsDeadlineExceeded) {
  ActorSystem& system = MakeThreaded(2);
  ActorRef silent = system.SpawnNative([](Cell*, Message&) {});
  absl::StatusOr<Message> reply = system.Ask(silent, Msg("q"), absl::Milliseconds(50));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(AskTest, AskOfASilentTargetInADeterministicSystemIsDeadlineExceeded) {
  ActorSystem& system = MakeDeterministic();
  ActorRef silent = system.SpawnNative([](Cell*, Message&) {});
  EXPECT_EQ(system.Ask(silent, Msg("q"), absl::Seconds(1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(AskTest, AskNeedsATargetAndAType) {
  ActorSystem& system = MakeDeterministic();
  EXPECT_EQ(system.Ask(ActorRef(), Msg("q"), absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  ActorRef silent = system.SpawnNative([](Cell*, Message&) {});
  EXPECT_EQ(system.Ask(silent, Msg(""), absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(system.Tell(ActorRef(), Msg("q")).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace troupe::runtime::testing
