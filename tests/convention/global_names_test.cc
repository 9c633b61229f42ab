// Tests of GlobalNames on a leader (its table is local, so no peer calls)
// over a deterministic actor system: named creates, the holder answered to
// later creates, release when the holder exits, names of a lost member
// dropped, claims of other daemons checked, and re-claims after a rejoin.
// The member side (calls to the leader) is in tests/convention_e2e.
#include "daemon/convention/global_names.h"

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::convention {
namespace {

using runtime::ActorRef;
using Entries = std::vector<std::pair<std::string, std::string>>;

class GlobalNamesTest : public runtime::testing::RuntimeTest {
 protected:
  void SetUp() override {
    MakeDeterministic();  // node name "local": addresses troupe://local/ID
    Register({.name = "svc"});
    GlobalNamesOptions options;
    options.self = "local";
    options.leader = [this] { return leader_; };
    options.is_member = [](const std::string& node) { return node != "stranger:9"; };
    names_ = std::make_unique<GlobalNames>(std::move(options), &sys());
    cluster_.on_name_released = [this](std::string_view name, std::string_view address) {
      names_->ActorExited(name, address);
    };
    AttachCluster();
  }
  void TearDown() override {
    sys().SetCluster(nullptr);
    RuntimeTest::TearDown();
  }

  // CreateNamed with a create that makes a "svc" actor here, counted.
  absl::StatusOr<std::string> CreateNamed(const std::string& name) {
    return names_->CreateNamed(name, [&]() -> absl::StatusOr<std::string> {
      ++creates_;
      runtime::CreateOptions options;
      options.global_name = name;
      absl::StatusOr<ActorRef> actor = sys().CreateActor("svc", options);
      if (!actor.ok()) return actor.status();
      return Addr(*actor);
    });
  }
  ActorRef Parse(const std::string& address) {
    absl::StatusOr<ActorRef> ref = sys().ParseAddress(address);
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? *ref : ActorRef();
  }

  std::string leader_;  // "" : this daemon leads
  int creates_ = 0;
  std::unique_ptr<GlobalNames> names_;
};

TEST_F(GlobalNamesTest, ANamedCreateMakesTheActorAndTheLeaderRecordsIt) {
  ASSERT_OK_AND_ASSIGN(std::string address, CreateNamed("registry"));
  EXPECT_EQ(creates_, 1);
  EXPECT_EQ(names_->Table(), (Entries{{"registry", address}}));
  EXPECT_EQ(names_->HeldForTest(), (Entries{{"registry", address}}));
  ASSERT_OK_AND_ASSIGN(std::string found, names_->Find("registry"));
  EXPECT_EQ(found, address);
}

TEST_F(GlobalNamesTest, ASecondCreateOfTheNameGetsTheFirstActorAndCreatesNothing) {
  ASSERT_OK_AND_ASSIGN(std::string first, CreateNamed("registry"));
  ASSERT_OK_AND_ASSIGN(std::string second, CreateNamed("registry"));
  EXPECT_EQ(second, first);
  EXPECT_EQ(creates_, 1);
}

TEST_F(GlobalNamesTest, ANameHeldOnAnotherMemberIsAnsweredWithItsHolder) {
  ASSERT_OK_AND_ASSIGN(std::string holder,
                       names_->ClaimFor("m:2", "registry", "troupe://m:2/9"));
  EXPECT_EQ(holder, "troupe://m:2/9");
  ASSERT_OK_AND_ASSIGN(std::string address, CreateNamed("registry"));
  EXPECT_EQ(address, "troupe://m:2/9");
  EXPECT_EQ(creates_, 0);
  ASSERT_OK_AND_ASSIGN(std::string found, names_->Find("registry"));
  EXPECT_EQ(found, "troupe://m:2/9");
  // A later claim by another member learns the holder.
  ASSERT_OK_AND_ASSIGN(holder, names_->ClaimFor("m:3", "registry", "troupe://m:3/4"));
  EXPECT_EQ(holder, "troupe://m:2/9");
  // A claim with no address only asks.
  ASSERT_OK_AND_ASSIGN(holder, names_->ClaimFor("m:3", "nobody", ""));
  EXPECT_EQ(holder, "");
  EXPECT_EQ(names_->Find("nobody").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GlobalNamesTest, WhenAnotherMemberWinsTheRaceTheNewActorExitsAndTheWinnerIsReturned) {
  std::string made;
  absl::StatusOr<std::string> address =
      names_->CreateNamed("registry", [&]() -> absl::StatusOr<std::string> {
        // Another member's claim lands between the check and this one's.
        EXPECT_TRUE(names_->ClaimFor("m:2", "registry", "troupe://m:2/1").ok());
        runtime::CreateOptions options;
        options.global_name = "registry";
        absl::StatusOr<ActorRef> actor = sys().CreateActor("svc", options);
        if (!actor.ok()) return actor.status();
        made = Addr(*actor);
        return made;
      });
  ASSERT_OK(address.status());
  EXPECT_EQ(*address, "troupe://m:2/1");
  sys().RunUntilIdle();
  EXPECT_FALSE(sys().GetActorStatus(Parse(made)).ok()) << "the new actor has exited";
  EXPECT_EQ(sys().Lookup("registry").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(names_->HeldForTest().empty());
  EXPECT_EQ(names_->Table(), (Entries{{"registry", "troupe://m:2/1"}}));
  EXPECT_FALSE(names_->SendPendingForTest());  // nothing of this daemon's to release
  EXPECT_EQ(names_->Table(), (Entries{{"registry", "troupe://m:2/1"}}));
}

TEST_F(GlobalNamesTest, WhenTheHolderExitsTheNameIsFreeAndANewCreateMakesANewActor) {
  ASSERT_OK_AND_ASSIGN(std::string first, CreateNamed("registry"));
  sys().RunUntilIdle();
  ASSERT_OK(sys().RequestExit(Parse(first)));
  sys().RunUntilIdle();
  // Until the release is sent, the exited local holder is not answered.
  EXPECT_EQ(names_->Find("registry").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(names_->SendPendingForTest());
  EXPECT_TRUE(names_->Table().empty());
  EXPECT_TRUE(names_->HeldForTest().empty());
  ASSERT_OK_AND_ASSIGN(std::string second, CreateNamed("registry"));
  EXPECT_NE(second, first);
  EXPECT_EQ(creates_, 2);
  EXPECT_EQ(names_->Table(), (Entries{{"registry", second}}));
}

TEST_F(GlobalNamesTest, ACreateAfterTheHolderExitedDoesNotWaitForTheRelease) {
  ASSERT_OK_AND_ASSIGN(std::string first, CreateNamed("registry"));
  sys().RunUntilIdle();
  ASSERT_OK(sys().RequestExit(Parse(first)));
  sys().RunUntilIdle();
  // The release is still queued: the stale entry is released first.
  ASSERT_OK_AND_ASSIGN(std::string second, CreateNamed("registry"));
  EXPECT_NE(second, first);
  EXPECT_EQ(names_->Table(), (Entries{{"registry", second}}));
  EXPECT_FALSE(names_->SendPendingForTest());  // the queued release no longer matches
  EXPECT_EQ(names_->Table(), (Entries{{"registry", second}}));
}

TEST_F(GlobalNamesTest, AMemberThatLeftLosesEveryNameItHeld) {
  ASSERT_OK(names_->ClaimFor("m:2", "a", "troupe://m:2/1").status());
  ASSERT_OK(names_->ClaimFor("m:2", "b", "troupe://m:2/2").status());
  ASSERT_OK(names_->ClaimFor("m:3", "c", "troupe://m:3/1").status());
  names_->NodeLost("m:2");
  EXPECT_EQ(names_->Table(), (Entries{{"c", "troupe://m:3/1"}}));
}

TEST_F(GlobalNamesTest, ClaimsForAnotherDaemonsActorsOrFromNonMembersAreRefused) {
  EXPECT_EQ(names_->ClaimFor("m:2", "a", "troupe://m:3/1").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(names_->ClaimFor("stranger:9", "a", "troupe://stranger:9/1").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(names_->ClaimFor("m:2", "", "troupe://m:2/1").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK(names_->ClaimFor("m:2", "a", "troupe://m:2/1").status());
  EXPECT_EQ(names_->ReleaseFor("m:3", "a", "troupe://m:2/1").status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_OK_AND_ASSIGN(std::string holder, names_->ReleaseFor("m:2", "a", "troupe://m:2/1"));
  EXPECT_EQ(holder, "");
  EXPECT_TRUE(names_->Table().empty());
}

TEST_F(GlobalNamesTest, ADaemonThatDoesNotLeadRefusesClaims) {
  leader_ = "leader:1";
  absl::StatusOr<std::string> claimed = names_->ClaimFor("m:2", "a", "troupe://m:2/1");
  EXPECT_EQ(claimed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(claimed.status().message().find("leader:1"), std::string::npos) << claimed.status();
}

TEST_F(GlobalNamesTest, WithoutALeaderToAskANamedCreateFailsAndCreatesNothing) {
  leader_ = "leader:1";  // and no convention key to call it with
  absl::StatusOr<std::string> created = CreateNamed("registry");
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
  EXPECT_EQ(creates_, 0);
  // A name an actor here has is answered without the leader.
  runtime::CreateOptions options;
  options.global_name = "local-only";
  ASSERT_OK_AND_ASSIGN(ActorRef here, sys().CreateActor("svc", options));
  ASSERT_OK_AND_ASSIGN(std::string address, CreateNamed("local-only"));
  EXPECT_EQ(address, Addr(here));
}

TEST_F(GlobalNamesTest, AfterARejoinTheNamesAreClaimedAgainUnlessTakenMeanwhile) {
  ASSERT_OK_AND_ASSIGN(std::string kept, CreateNamed("kept"));
  ASSERT_OK_AND_ASSIGN(std::string lost, CreateNamed("lost"));
  // The leader forgot this daemon (e.g. it restarted); another member took
  // one of the names meanwhile.
  names_->NodeLost("local");
  ASSERT_OK(names_->ClaimFor("m:2", "lost", "troupe://m:2/1").status());
  names_->Rejoined();
  EXPECT_FALSE(names_->SendPendingForTest());
  EXPECT_EQ(names_->Table(), (Entries{{"kept", kept}, {"lost", "troupe://m:2/1"}}));
  EXPECT_EQ(names_->HeldForTest(), (Entries{{"kept", kept}}));
  // The actor that lost the name keeps it on this daemon only.
  ASSERT_OK_AND_ASSIGN(ActorRef local, sys().Lookup("lost"));
  EXPECT_EQ(Addr(local), lost);
}

TEST_F(GlobalNamesTest, StoppingTheThreadLosesNoQueuedRelease) {
  names_->Start();
  ASSERT_OK_AND_ASSIGN(std::string first, CreateNamed("registry"));
  sys().RunUntilIdle();
  ASSERT_OK(sys().RequestExit(Parse(first)));
  sys().RunUntilIdle();
  names_->Stop();  // joins the thread; it had been woken for the release
  // Either the thread sent it before it stopped, or it is still queued.
  if (!names_->Table().empty()) {
    EXPECT_FALSE(names_->SendPendingForTest());
  }
  EXPECT_TRUE(names_->Table().empty());
}

}  // namespace
}  // namespace troupe::convention
