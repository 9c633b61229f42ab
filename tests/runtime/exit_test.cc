// Tests of ActorExitRequest and ChildActorExited.
#include <string>
#include <vector>

#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

class ExitTest : public RuntimeTest {
 protected:
  // Registers "member": logs "<tag>:exit" on an exit request, where tag is
  // the payload of the first "tag" message it got; "keep" as the tag makes
  // it keep its children on exit.
  void RegisterMember() {
    Register({.name = "member", .receive = [this](TestInstance& self, Cell* cell, Message& m) {
                if (m.type() == "tag") self.seen.back() = std::string(m.payload());
                if (m.kind() == MessageKind::kExitRequest) {
                  std::string tag = self.seen.front();
                  log_.push_back(tag + ":exit");
                  if (tag == "keep") cell->KeepChildrenOnExit();
                }
                return absl::OkStatus();
              }});
  }
  ActorRef Member(std::string_view tag, const ActorRef& parent = {}) {
    ActorRef ref = Create("member", {.parent = parent});
    EXPECT_OK(sys().Tell(ref, Msg("tag", tag)));
    return ref;
  }
  NativeHandler Watcher(std::string tag) {
    return [this, tag](Cell*, Message& m) {
      if (m.kind() == MessageKind::kChildExited) {
        ++exited_notices_;
        std::vector<std::string> f = Fields(m.payload());
        log_.push_back(tag + ":child_exited:" + (f.empty() ? "?" : f[0]));
      }
    };
  }

  std::vector<std::string> log_;
  int exited_notices_ = 0;
};

TEST_F(ExitTest, ExitRequestIsHandledAndTheActorExits) {
  ActorSystem& system = MakeDeterministic();
  RegisterMember();
  ActorRef a = Member("a");
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(a));
  system.RunUntilIdle();
  EXPECT_EQ(log_, std::vector<std::string>{"a:exit"});
  EXPECT_EQ(StateOf(a), "exited");
  EXPECT_EQ(system.GetStatus().live_actors, 0u);
}

TEST_F(ExitTest, RecursiveExitWaitsForChildrenBeforeTheParentsChildActorExited) {
  ActorSystem& system = MakeDeterministic();
  RegisterMember();
  ActorRef top = system.SpawnNative(Watcher("top"));
  ActorRef parent = Member("parent", top);
  ActorRef c1 = Member("c1", parent);
  ActorRef c2 = Member("c2", parent);
  ActorRef grandchild = Member("gc", c1);
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(parent));
  // Step turn by turn: the parent must stay "exiting" until all are gone.
  while (system.RunOne()) {
    if (StateOf(c1) != "exited" || StateOf(c2) != "exited" || StateOf(grandchild) != "exited") {
      EXPECT_NE(StateOf(parent), "exited");
    }
  }
  ASSERT_EQ(log_.size(), 5u) << ::testing::PrintToString(log_);
  EXPECT_EQ(log_.front(), "parent:exit");
  EXPECT_EQ(log_.back(), "top:child_exited:" + Addr(parent));
  EXPECT_EQ(exited_notices_, 1);
  for (const ActorRef& a : {parent, c1, c2, grandchild}) EXPECT_EQ(StateOf(a), "exited");
}

TEST_F(ExitTest, ChildActorExitedCarriesTheChildAddressAndAnEmptyReason) {
  ActorSystem& system = MakeDeterministic();
  RegisterMember();
  auto [top, inbox] = SpawnInbox();
  ActorRef child = Member("c", top);
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(child));
  system.RunUntilIdle();
  std::vector<Received> notices = inbox->OfType(TROUPE_MSG_CHILD_EXITED);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(Fields(notices[0].payload), (std::vector<std::string>{Addr(child), ""}));
  EXPECT_EQ(notices[0].sender.get(), child.get());
}

TEST_F(ExitTest, AnEmptyExitRequestPayloadMeansRecursive) {
  ActorSystem& system = MakeDeterministic();
  RegisterMember();
  ActorRef parent = Member("parent");
  ActorRef child = Member("child", parent);
  system.RunUntilIdle();
  ASSERT_OK(system.Tell(parent, Msg(TROUPE_MSG_EXIT_REQUEST, "")));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(child), "exited");
  EXPECT_EQ(StateOf(parent), "exited");
}

TEST_F(ExitTest, AZeroPayloadByteLeavesTheChildrenRunning) {
  ActorSystem& system = MakeDeterministic();
  RegisterMember();
  ActorRef parent = Member("parent");
  ActorRef child = Member("child", parent);
  system.RunUntilIdle();
  ASSERT_OK(system.Tell(parent, Msg(TROUPE_MSG_EXIT_REQUEST, std::string_view("\0", 1))));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(parent), "exited");
  EXPECT_EQ(StateOf(child), "running");
  EXPECT_EQ(log_, std::vector<std::string>{"parent:exit"});
  ASSERT_OK(system.RequestExit(child));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(child), "exited");
}

TEST_F(ExitTest, KeepChildrenOnExitInTheHandlerMakesARecursiveRequestNonRecursive) {
  ActorSystem& system = MakeDeterministic();
  RegisterMember();
  ActorRef parent = Member("keep");
  ActorRef child = Member("child", parent);
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(parent, /*recursive=*/true));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(parent), "exited");
  EXPECT_EQ(StateOf(child), "running");
}

TEST_F(ExitTest, ChildActorExitedIsDeliveredExactlyOnceForTwoExitRequests) {
  ActorSystem& system = MakeDeterministic();
  RegisterMember();
  ActorRef top = system.SpawnNative(Watcher("top"));
  ActorRef child = Member("c", top);
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(child));
  ASSERT_OK(system.RequestExit(child));
  system.RunUntilIdle();
  EXPECT_EQ(exited_notices_, 1);
  EXPECT_EQ(log_.front(), "c:exit");
}

TEST_F(ExitTest, ChildActorExitedIsDeliveredExactlyOnceForAnExitingParentOfAnExitingChild) {
  ActorSystem& system = MakeDeterministic();
  RegisterMember();
  ActorRef top = system.SpawnNative(Watcher("top"));
  ActorRef parent = Member("parent", top);
  ActorRef child = Member("child", parent);
  system.RunUntilIdle();
  ASSERT_OK(system.RequestExit(child));   // the child exits on its own...
  ASSERT_OK(system.RequestExit(parent));  // ...while the parent asks it to as well
  system.RunUntilIdle();
  EXPECT_EQ(exited_notices_, 1);
  EXPECT_EQ(StateOf(parent), "exited");
  EXPECT_EQ(StateOf(child), "exited");
}

TEST_F(ExitTest, ChildActorExitedIsDeliveredExactlyOnceWhenTheChildFailsToStartAndIsAskedToExit) {
  ActorSystem& system = MakeDeterministic();
  Register({.name = "broken", .create = [](int) { return absl::InternalError("nope"); }});
  ActorRef top = system.SpawnNative(Watcher("top"));
  ActorRef child = Create("broken", {.parent = top});
  ASSERT_OK(system.RequestExit(child));
  ASSERT_OK(system.RequestExit(child));
  system.RunUntilIdle();
  EXPECT_EQ(exited_notices_, 1);
  EXPECT_EQ(system.GetStatus().poison_messages, 0u) << "exit requests are not returned as poison";
}

TEST_F(ExitTest, ExitSelfAfterTheTurnStopsTheActorAndItsChildren) {
  ActorSystem& system = MakeDeterministic();
  RegisterMember();
  Register({.name = "quitter", .receive = [](TestInstance&, Cell* cell, Message& m) {
              if (m.type() == "quit") cell->RequestExitAfterTurn();
              return absl::OkStatus();
            }});
  ActorRef top = system.SpawnNative(Watcher("top"));
  ActorRef quitter = Create("quitter", {.parent = top});
  ActorRef child = Member("child", quitter);
  system.RunUntilIdle();
  ASSERT_OK(system.Tell(quitter, Msg("quit")));
  system.RunUntilIdle();
  EXPECT_EQ(StateOf(quitter), "exited");
  EXPECT_EQ(StateOf(child), "exited");
  EXPECT_EQ(exited_notices_, 1);
}

}  // namespace
}  // namespace troupe::runtime::testing
