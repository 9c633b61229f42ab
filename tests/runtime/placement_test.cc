// Tests of children placed on other daemons through the cluster: the create
// returns at once with a pending address, mail waits in order until the
// child is placed, and a placement that fails returns the mail as poison and
// tells the parent once.
#include <optional>
#include <string>
#include <vector>

#include "tests/runtime/fake_cluster.h"
#include "tests/runtime/runtime_test_util.h"
#include "daemon/common/strings.h"
#include "troupe/wire.h"

namespace troupe::runtime::testing {
namespace {

constexpr std::string_view kNeedsGpu = R"({"gpu":{"equals":true}})";
constexpr std::string_view kPlacedAt = "troupe://127.0.0.1:1002/77";

class PlacementTest : public RuntimeTest {
 protected:
  void SetUp() override {
    MakeDeterministic();
    Register({.name = "picky"});
    cluster_.on_place = [this](PlaceRequest request, Cluster::Placed placed) {
      requests_.push_back(std::move(request));
      placed_.push_back(std::move(placed));
      return absl::OkStatus();
    };
    cluster_.on_forward = [this](std::string_view node, uint64_t id, Message m) {
      forwarded_.push_back(troupe::StrCat(node, "/", id, " ", m.payload()));
      return true;
    };
    AttachCluster();
    parent_inbox_ = NewInbox();
    // On "spawn", creates a picky child (it needs a GPU this node lacks) and
    // sends it "a" and "b" at once; records everything else.
    parent_ = sys().SpawnNative(
        [this](Cell* self, Message& m) {
          if (m.type() != "spawn") {
            parent_inbox_->Add(m);
            return;
          }
          child_ = self->system()->CreateChild(self, "picky", *ParseRequirementsObject(kNeedsGpu),
                                               "");
          if (!child_->ok()) return;
          Send(self, (*child_)->get(), "m", "a");
          Send(self, (*child_)->get(), "m", "b");
        },
        "parent");
  }
  void TearDown() override {
    sys().SetCluster(nullptr);
    RuntimeTest::TearDown();
  }
  // Has the parent create its child; the child's handle.
  ActorRef Spawn() {
    EXPECT_OK(sys().Tell(parent_, Msg("spawn")));
    sys().RunUntilIdle();
    EXPECT_TRUE(child_.has_value());
    EXPECT_TRUE(child_->ok()) << child_->status();
    return child_->ok() ? **child_ : ActorRef();
  }

  Inbox* parent_inbox_ = nullptr;
  ActorRef parent_;
  std::optional<absl::StatusOr<ActorRef>> child_;
  std::vector<PlaceRequest> requests_;
  std::vector<Cluster::Placed> placed_;
  std::vector<std::string> forwarded_;
};

TEST_F(PlacementTest, ACreateThatDoesNotFitReturnsAtOnceAndItsMailWaitsUntilPlaced) {
  ActorRef child = Spawn();
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].parent, Addr(parent_));
  EXPECT_EQ(requests_[0].actor_class->name(), "picky");
  EXPECT_EQ(requests_[0].requirements.text, kNeedsGpu) << "the plugin's text, for its class check";
  ASSERT_EQ(requests_[0].requirements.conditions.size(), 1u);
  EXPECT_EQ(Describe(requests_[0].requirements.conditions[0]), "gpu equals true");
  EXPECT_EQ(requests_[0].requirements.opaque, "");
  EXPECT_EQ(requests_[0].local_problem.code(), absl::StatusCode::kFailedPrecondition);
  const std::string early = Addr(child);
  EXPECT_EQ(early.rfind("troupe://local/", 0), 0u) << early << ": printed as this node's until placed";
  EXPECT_TRUE(forwarded_.empty()) << "kept until placed";
  ASSERT_OK_AND_ASSIGN(ActorStatus parent, sys().GetActorStatus(parent_));
  EXPECT_EQ(parent.children, (std::vector<std::string>{early}));

  ASSERT_OK(sys().Tell(child, Msg("m", "c")));
  placed_[0](std::string(kPlacedAt));
  EXPECT_EQ(forwarded_, (std::vector<std::string>{"127.0.0.1:1002/77 a", "127.0.0.1:1002/77 b",
                                                  "127.0.0.1:1002/77 c"}))
      << "in the order sent";
  EXPECT_EQ(Addr(child), kPlacedAt);
  ASSERT_OK_AND_ASSIGN(ActorRef by_early_text, sys().ParseAddress(early));
  EXPECT_EQ(by_early_text, child) << "the early address still reaches the child";
  ASSERT_OK_AND_ASSIGN(ActorRef by_placed_text, sys().ParseAddress(kPlacedAt));
  EXPECT_EQ(by_placed_text, child) << "the canonical cell of the placed address";
  ASSERT_OK(sys().Tell(by_early_text, Msg("m", "d")));
  EXPECT_EQ(forwarded_.back(), "127.0.0.1:1002/77 d");
  EXPECT_EQ(parent_inbox_->OfType(TROUPE_MSG_CHILD_EXITED).size(), 0u);
}

TEST_F(PlacementTest, AFailedPlacementReturnsTheMailAsPoisonAndTellsTheParentOnce) {
  ActorRef child = Spawn();
  const std::string early = Addr(child);
  const uint64_t dead_before = sys().GetStatus().dead_letters;
  placed_[0](absl::FailedPreconditionError("no member of the convention took it"));
  sys().RunUntilIdle();
  std::vector<Received> poison = parent_inbox_->OfType(TROUPE_MSG_POISON);
  ASSERT_EQ(poison.size(), 2u);
  for (const Received& p : poison) {
    EXPECT_EQ(p.sender, child);
    EXPECT_CONTAINS(p.payload, "no member of the convention took it");
  }
  std::vector<Received> exited = parent_inbox_->OfType(TROUPE_MSG_CHILD_EXITED);
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(exited[0].sender, child);
  EXPECT_CONTAINS(exited[0].payload, early);
  EXPECT_CONTAINS(exited[0].payload, "no member of the convention took it");
  ASSERT_OK_AND_ASSIGN(ActorStatus parent, sys().GetActorStatus(parent_));
  EXPECT_TRUE(parent.children.empty());
  // Later mail is a dead letter; nothing goes out.
  ASSERT_OK(sys().Tell(child, Msg("m", "late")));
  sys().RunUntilIdle();
  EXPECT_EQ(sys().GetStatus().dead_letters, dead_before + 1);
  EXPECT_TRUE(forwarded_.empty());
}

TEST_F(PlacementTest, WhenNoMemberCanTakeItByWhatIsKnownTheCreateFailsAtOnce) {
  cluster_.on_place = [](PlaceRequest, Cluster::Placed) {
    return absl::FailedPreconditionError("no member has a GPU");
  };
  ASSERT_OK(sys().Tell(parent_, Msg("spawn")));
  sys().RunUntilIdle();
  ASSERT_TRUE(child_.has_value());
  EXPECT_EQ(child_->status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(child_->status().message(), "no member has a GPU");
  ASSERT_OK_AND_ASSIGN(ActorStatus parent, sys().GetActorStatus(parent_));
  EXPECT_TRUE(parent.children.empty());
}

TEST_F(PlacementTest, WithoutAClusterTheCreateIsRefusedAsBefore) {
  sys().SetCluster(nullptr);
  ASSERT_OK(sys().Tell(parent_, Msg("spawn")));
  sys().RunUntilIdle();
  ASSERT_TRUE(child_.has_value());
  EXPECT_EQ(child_->status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(requests_.empty());
}

TEST_F(PlacementTest, AParentThatExitsWhileItsChildIsPlacedWaitsForItsExitNotice) {
  ActorRef child = Spawn();
  ASSERT_OK(sys().RequestExit(parent_));
  sys().RunUntilIdle();
  EXPECT_EQ(StateOf(parent_), "exiting") << "its remote child has not exited yet";
  placed_[0](std::string(kPlacedAt));
  // The exit request went out behind "a" and "b".
  ASSERT_EQ(forwarded_.size(), 3u);
  EXPECT_EQ(forwarded_[2].substr(0, 18), "127.0.0.1:1002/77 ");
  // The child's notice comes back from its node.
  std::string payload;
  wire::AppendField(&payload, kPlacedAt);
  wire::AppendField(&payload, "exit requested");
  ASSERT_OK(sys().DeliverFromRemote(parent_->id(), kPlacedAt, TROUPE_MSG_CHILD_EXITED, payload));
  sys().RunUntilIdle();
  EXPECT_EQ(StateOf(parent_), "exited");
}

}  // namespace
}  // namespace troupe::runtime::testing
