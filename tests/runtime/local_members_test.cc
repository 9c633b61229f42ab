// Tests of local members: systems of one node that split its id space (a
// daemon and the isolated hosts it runs). A daemon system D serves ids
// [1, kSlot) of node "127.0.0.1:2001", a host system H serves [kSlot,
// 2 * kSlot) of the same node; a peer daemon P is node "127.0.0.1:2002".
// In-test transports do what the host link does: D's local members deliver
// to H by id range, H sends everything (its daemon's ids and other nodes)
// up to D, which relays it.
#include <string>
#include <utility>
#include <vector>

#include "daemon/common/strings.h"
#include "tests/runtime/fake_cluster.h"
#include "tests/runtime/runtime_test_util.h"
#include "troupe/wire.h"

namespace troupe::runtime::testing {
namespace {

constexpr std::string_view kNode = "127.0.0.1:2001";
constexpr std::string_view kPeerNode = "127.0.0.1:2002";
constexpr uint64_t kSlot = uint64_t{1} << 40;
constexpr absl::Duration kWait = absl::Seconds(60);

std::string AddressOf(std::string_view node, uint64_t id) {
  return troupe::StrCat("troupe://", node, "/", id);
}

// D's side: a message for an id of the node outside D's range goes to the
// host serving it (NotFound there, or no such host: undeliverable at D).
class HostRouter final : public FakeCluster {
 public:
  HostRouter(ActorSystem** daemon, ActorSystem** host) : daemon_(daemon), host_(host) {}
  void Cut() { cut_.store(true); }
  bool ResumeWhenRoom(std::string_view, std::function<void()>) override { return false; }
  bool Forward(std::string_view node, uint64_t id, Message message) override {
    ActorSystem& daemon = **daemon_;
    EXPECT_EQ(node, kNode);
    if (cut_.load() || !(*host_)->OwnsId(id)) {
      daemon.Undeliverable(node, id, std::move(message), "no host serves this id");
      return true;
    }
    absl::Status s = (*host_)->DeliverFromRemote(id, daemon.FormatAddress(message.sender()),
                                                 message.type(), message.payload());
    if (!s.ok()) daemon.Undeliverable(node, id, std::move(message), std::string(s.message()));
    return true;
  }

 private:
  ActorSystem** daemon_;
  ActorSystem** host_;
  std::atomic<bool> cut_{false};
};

// H's side: everything goes up to D (its local members and its cluster).
class Uplink final : public FakeCluster {
 public:
  Uplink(ActorSystem** host, ActorSystem** daemon) : host_(host), daemon_(daemon) {}
  bool ResumeWhenRoom(std::string_view, std::function<void()>) override { return false; }
  bool Forward(std::string_view node, uint64_t id, Message message) override {
    ActorSystem& host = **host_;
    absl::Status s = (*daemon_)->RelayFromLocalMember(
        node, id, host.FormatAddress(message.sender()), message.type(), message.payload());
    if (!s.ok()) host.Undeliverable(node, id, std::move(message), std::string(s.message()));
    return true;
  }

 private:
  ActorSystem** host_;
  ActorSystem** daemon_;
};

// D <-> P, as a peer link: deliver on the other side, undeliverable back.
class PeerLink final : public FakeCluster {
 public:
  PeerLink(ActorSystem** self, std::string_view peer_node, ActorSystem** peer)
      : self_(self), peer_node_(peer_node), peer_(peer) {}
  bool ResumeWhenRoom(std::string_view, std::function<void()>) override { return false; }
  bool Forward(std::string_view node, uint64_t id, Message message) override {
    ActorSystem& self = **self_;
    if (node != peer_node_) {
      self.Undeliverable(node, id, std::move(message), "unknown node");
      return true;
    }
    absl::Status s = (*peer_)->DeliverFromRemote(id, self.FormatAddress(message.sender()),
                                                 message.type(), message.payload());
    if (!s.ok()) self.Undeliverable(node, id, std::move(message), std::string(s.message()));
    return true;
  }

 private:
  ActorSystem** self_;
  std::string peer_node_;
  ActorSystem** peer_;
};

class LocalMembersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<ActorSystem>(SystemOptions{.worker_threads = 2,
                                                          .node_name = std::string(kNode),
                                                          .actor_id_limit = kSlot,
                                                          .local_members = &router_});
    host_ = std::make_unique<ActorSystem>(SystemOptions{.worker_threads = 2,
                                                        .node_name = std::string(kNode),
                                                        .cluster = &uplink_,
                                                        .first_actor_id = kSlot,
                                                        .actor_id_limit = 2 * kSlot,
                                                        .local_members = &uplink_});
    peer_ = std::make_unique<ActorSystem>(
        SystemOptions{.worker_threads = 2, .node_name = std::string(kPeerNode)});
    daemon_ptr_ = daemon_.get();
    host_ptr_ = host_.get();
    peer_ptr_ = peer_.get();
    daemon_->SetCluster(&daemon_to_peer_);
    peer_->SetCluster(&peer_to_daemon_);
  }
  void TearDown() override {
    host_->Shutdown();
    daemon_->Shutdown();
    peer_->Shutdown();
    host_->SetCluster(nullptr);
    host_->SetLocalMembers(nullptr);
    daemon_->SetLocalMembers(nullptr);
    daemon_->SetCluster(nullptr);
    peer_->SetCluster(nullptr);
  }

  std::pair<ActorRef, Inbox*> SpawnInbox(ActorSystem& system, std::string_view name = "inbox") {
    inboxes_.push_back(std::make_unique<Inbox>());
    Inbox* inbox = inboxes_.back().get();
    return {system.SpawnNative(inbox->Handler(), name), inbox};
  }
  ActorRef SpawnEcho(ActorSystem& system) {
    return system.SpawnNative(
        [](Cell* self, Message& m) {
          if (m.sender() != nullptr) Send(self, m.sender(), "pong", m.payload());
        },
        "echo");
  }
  // `actor` of system `from` as seen from system `on`.
  ActorRef Seen(ActorSystem& on, ActorSystem& from, const ActorRef& actor) {
    absl::StatusOr<ActorRef> ref = on.ParseAddress(from.FormatAddress(actor.get()));
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? *ref : ActorRef();
  }

  // Declared first: they outlive the systems.
  std::deque<std::unique_ptr<Inbox>> inboxes_;
  ActorSystem* daemon_ptr_ = nullptr;
  ActorSystem* host_ptr_ = nullptr;
  ActorSystem* peer_ptr_ = nullptr;
  HostRouter router_{&daemon_ptr_, &host_ptr_};
  Uplink uplink_{&host_ptr_, &daemon_ptr_};
  PeerLink daemon_to_peer_{&daemon_ptr_, kPeerNode, &peer_ptr_};
  PeerLink peer_to_daemon_{&peer_ptr_, kNode, &daemon_ptr_};
  std::unique_ptr<ActorSystem> daemon_;
  std::unique_ptr<ActorSystem> host_;
  std::unique_ptr<ActorSystem> peer_;
};

TEST_F(LocalMembersTest, EachSystemHandsOutIdsOfItsOwnRangeAndAddressesShareTheNode) {
  ActorRef on_daemon = SpawnEcho(*daemon_);
  ActorRef on_host = SpawnEcho(*host_);
  EXPECT_LT(on_daemon->id(), kSlot);
  EXPECT_GE(on_host->id(), kSlot);
  EXPECT_LT(on_host->id(), 2 * kSlot);
  EXPECT_TRUE(host_->OwnsId(on_host->id()));
  EXPECT_FALSE(host_->OwnsId(on_daemon->id()));
  const std::string host_text = host_->FormatAddress(on_host.get());
  EXPECT_EQ(host_text, AddressOf(kNode, on_host->id()));
  // The daemon prints the host's actor exactly as the host does.
  ActorRef seen = Seen(*daemon_, *host_, on_host);
  EXPECT_EQ(daemon_->FormatAddress(seen.get()), host_text);
  ASSERT_OK_AND_ASSIGN(ActorRef again, daemon_->ParseExternalAddress(host_text));
  EXPECT_EQ(again.get(), seen.get()) << "one canonical cell per host actor";
}

TEST_F(LocalMembersTest, AnAskFromTheDaemonIsAnsweredByAHostActorAndTheOtherWayRound) {
  ActorRef host_echo = SpawnEcho(*host_);
  ASSERT_OK_AND_ASSIGN(Message reply,
                       daemon_->Ask(Seen(*daemon_, *host_, host_echo), Msg("ping", "1"), kWait));
  EXPECT_EQ(reply.type(), "pong");
  EXPECT_EQ(reply.payload(), "1");
  ActorRef daemon_echo = SpawnEcho(*daemon_);
  ASSERT_OK_AND_ASSIGN(Message back,
                       host_->Ask(Seen(*host_, *daemon_, daemon_echo), Msg("ping", "2"), kWait));
  EXPECT_EQ(back.payload(), "2");
}

TEST_F(LocalMembersTest, TellsBetweenDaemonAndHostKeepOrderAndSenders) {
  auto [daemon_inbox_actor, daemon_inbox] = SpawnInbox(*daemon_);
  ActorRef target = Seen(*host_, *daemon_, daemon_inbox_actor);
  ActorRef host_sender = SpawnEcho(*host_);
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(host_->Tell(target, Msg("n", std::to_string(i)), host_sender));
  }
  ASSERT_TRUE(daemon_inbox->WaitForSize(100, kWait));
  std::vector<Received> got = daemon_inbox->items();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i].payload, std::to_string(i));
  EXPECT_EQ(daemon_->FormatAddress(got[0].sender.get()), host_->FormatAddress(host_sender.get()));
  // A reply to that sender reaches the host's actor, which answers back.
  ASSERT_OK(daemon_->Tell(got[0].sender, Msg("ping", "x"), daemon_inbox_actor));
  ASSERT_TRUE(daemon_inbox->WaitForSize(101, kWait));
  EXPECT_EQ(daemon_inbox->items()[100].type, "pong");
}

TEST_F(LocalMembersTest, APeerDaemonReachesAHostActorThroughItsDaemonAndGetsTheReply) {
  ActorRef host_echo = SpawnEcho(*host_);
  ActorRef from_peer = Seen(*peer_, *host_, host_echo);
  ASSERT_OK_AND_ASSIGN(Message reply, peer_->Ask(from_peer, Msg("ping", "via"), kWait));
  EXPECT_EQ(reply.payload(), "via");
  // And a host actor reaches the peer's actor through its daemon.
  ActorRef peer_echo = SpawnEcho(*peer_);
  ASSERT_OK_AND_ASSIGN(ActorRef peer_seen_from_host,
                       host_->ParseAddress(peer_->FormatAddress(peer_echo.get())));
  ASSERT_OK_AND_ASSIGN(Message back, host_->Ask(peer_seen_from_host, Msg("ping", "up"), kWait));
  EXPECT_EQ(back.payload(), "up");
}

TEST_F(LocalMembersTest, AMessageForAnIdNoHostServesIsADeadLetterAtTheSender) {
  auto [handler, dead] = SpawnInbox(*daemon_, "dead-letters");
  ASSERT_OK(daemon_->SetDeadLetterHandler(handler));
  const std::string nobody = AddressOf(kNode, 5 * kSlot + 3);
  ASSERT_OK_AND_ASSIGN(ActorRef ref, daemon_->ParseAddress(nobody));
  ASSERT_OK(daemon_->Tell(ref, Msg("lost", "p")));
  ASSERT_TRUE(dead->WaitForSize(1, kWait));
  EXPECT_EQ(Fields(dead->items()[0].payload), (std::vector<std::string>{nobody, "lost", "p"}));
  // An id of the host's range with no live actor there: the same.
  const std::string unknown_on_host = AddressOf(kNode, kSlot + 999999);
  ASSERT_OK_AND_ASSIGN(ActorRef ref2, daemon_->ParseAddress(unknown_on_host));
  ASSERT_OK(daemon_->Tell(ref2, Msg("lost2")));
  ASSERT_TRUE(dead->WaitForSize(2, kWait));
  EXPECT_EQ(Fields(dead->items()[1].payload)[0], unknown_on_host);
}

TEST_F(LocalMembersTest, WithoutLocalMembersAnIdOutsideTheRangeIsNotFoundFromOutside) {
  daemon_->SetLocalMembers(nullptr);
  const std::string text = AddressOf(kNode, kSlot + 1);
  absl::StatusOr<ActorRef> outside = daemon_->ParseExternalAddress(text);
  EXPECT_EQ(outside.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(outside.status().message().find("no host of this node serves its id"),
            std::string::npos)
      << outside.status();
  EXPECT_EQ(daemon_->DeliverFromRemote(kSlot + 1, "", "x", "").code(),
            absl::StatusCode::kNotFound);
  // Inside, such a handle is dead: its messages are dead letters, and it
  // does not move this system's next id past the range.
  auto [handler, dead] = SpawnInbox(*daemon_, "dead-letters");
  ASSERT_OK(daemon_->SetDeadLetterHandler(handler));
  ASSERT_OK_AND_ASSIGN(ActorRef ref, daemon_->ParseAddress(text));
  ASSERT_OK(daemon_->Tell(ref, Msg("gone")));
  ASSERT_TRUE(dead->WaitForSize(1, kWait));
  EXPECT_LT(SpawnEcho(*daemon_)->id(), kSlot);
}

TEST_F(LocalMembersTest, RelayToAnotherNodeWithoutAConventionIsAClearError) {
  daemon_->SetCluster(nullptr);
  absl::Status s = daemon_->RelayFromLocalMember("10.0.0.9:1", 4, "", "x", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("this daemon is in no convention"), std::string::npos) << s;
  EXPECT_EQ(daemon_->RelayFromLocalMember(kNode, 4, "", "", "").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LocalMembersTest, ALostHostReportsItsChildrenOnceAndOrphansItsDaemonChildren) {
  auto [parent, parent_inbox] = SpawnInbox(*daemon_, "supervisor");
  TestClass::Spec spec{.name = "worker"};
  ASSERT_OK(host_->RegisterClass(std::make_unique<TestClass>(spec)));
  ASSERT_OK_AND_ASSIGN(ActorRef child,
                       host_->CreateActor("worker", {.parent = Seen(*host_, *daemon_, parent)}));
  ActorRef child_on_daemon = Seen(*daemon_, *host_, child);
  ASSERT_OK(daemon_->AdoptRemoteChild(parent, child_on_daemon));
  // A daemon actor whose parent is the host's actor; it notes its exit request.
  inboxes_.push_back(std::make_unique<Inbox>());
  Inbox* orphan_log = inboxes_.back().get();
  ASSERT_OK(daemon_->RegisterClass(std::make_unique<TestClass>(TestClass::Spec{
      .name = "kid", .receive = [orphan_log](TestInstance&, Cell*, Message& m) {
        orphan_log->Add(m);
        return absl::OkStatus();
      }})));
  ASSERT_OK_AND_ASSIGN(ActorRef orphan, daemon_->CreateActor("kid", {.parent = child_on_daemon}));
  // Another daemon child outside the host's range is untouched.
  auto [bystander, bystander_inbox] = SpawnInbox(*daemon_, "bystander");

  router_.Cut();
  daemon_->LocalMemberLost(kSlot, 2 * kSlot, "host process killed by signal 11 (SIGSEGV)");
  daemon_->LocalMemberLost(kSlot, 2 * kSlot, "again");
  ASSERT_OK(daemon_->Tell(parent, Msg("marker")));
  ASSERT_TRUE(parent_inbox->WaitForSize(2, kWait));
  std::vector<Received> got = parent_inbox->items();
  EXPECT_EQ(got[0].type, TROUPE_MSG_CHILD_EXITED);
  EXPECT_EQ(Fields(got[0].payload),
            (std::vector<std::string>{host_->FormatAddress(child.get()),
                                      "host process killed by signal 11 (SIGSEGV)"}));
  EXPECT_EQ(got[1].type, "marker");
  // The orphan was asked to exit.
  ASSERT_TRUE(orphan_log->WaitForSize(1, kWait));
  EXPECT_EQ(orphan_log->items()[0].type, TROUPE_MSG_EXIT_REQUEST);
  ASSERT_OK_AND_ASSIGN(ActorStatus bystander_status, daemon_->GetActorStatus(bystander));
  EXPECT_EQ(bystander_status.state, "running");
  // Later sends to the host's actor are dead letters at the daemon.
  auto [handler, dead] = SpawnInbox(*daemon_, "dead-letters");
  ASSERT_OK(daemon_->SetDeadLetterHandler(handler));
  ASSERT_OK(daemon_->Tell(child_on_daemon, Msg("after")));
  ASSERT_TRUE(dead->WaitForSize(1, kWait));
  EXPECT_EQ(Fields(dead->items()[0].payload)[1], "after");
}

// A host system of slot 2 whose ids from 2 * kSlot + 1000 on are assigned
// by its daemon, with class "w"; null (and a failure) if that cannot be made.
std::unique_ptr<ActorSystem> HostWithAssignedIds() {
  auto host = std::make_unique<ActorSystem>(SystemOptions{.worker_threads = 1,
                                                          .node_name = std::string(kNode),
                                                          .first_actor_id = 2 * kSlot,
                                                          .actor_id_limit = 3 * kSlot,
                                                          .assigned_ids_from = 2 * kSlot + 1000});
  absl::Status registered =
      host->RegisterClass(std::make_unique<TestClass>(TestClass::Spec{.name = "w"}));
  EXPECT_TRUE(registered.ok()) << registered;
  return registered.ok() ? std::move(host) : nullptr;
}

TEST_F(LocalMembersTest, AnActorMayBeCreatedWithAnIdOfTheAssignedRangeOnly) {
  std::unique_ptr<ActorSystem> host = HostWithAssignedIds();
  ASSERT_NE(host, nullptr);
  const uint64_t chosen = 2 * kSlot + 1234;
  ASSERT_OK_AND_ASSIGN(ActorRef made, host->CreateActor("w", {.id = chosen}));
  EXPECT_EQ(made->id(), chosen);
  EXPECT_EQ(host->CreateActor("w", {.id = chosen}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(host->CreateActor("w", {.id = 2 * kSlot + 999}).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "below the assigned range: the system's own ids";
  EXPECT_EQ(host->CreateActor("w", {.id = 3 * kSlot}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(ActorRef own, host->CreateActor("w"));
  EXPECT_EQ(own->id(), 2 * kSlot);
  EXPECT_EQ(daemon_->CreateActor("w", {.id = 5}).status().code(),
            absl::StatusCode::kNotFound);  // no class here, checked first
  ASSERT_OK(daemon_->RegisterClass(std::make_unique<TestClass>(TestClass::Spec{.name = "w"})));
  EXPECT_EQ(daemon_->CreateActor("w", {.id = 5}).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a system without an assigned range takes no ids";
  host->Shutdown();
}

TEST_F(LocalMembersTest, ParsingAnAssignedOrFarIdNeverMovesTheNextIdIntoAnotherRange) {
  std::unique_ptr<ActorSystem> host = HostWithAssignedIds();
  ASSERT_NE(host, nullptr);
  ASSERT_OK_AND_ASSIGN(ActorRef assigned, host->CreateActor("w", {.id = 2 * kSlot + 5000}));
  ASSERT_OK_AND_ASSIGN(ActorRef parsed, host->ParseAddress(host->FormatAddress(assigned.get())));
  EXPECT_EQ(parsed.get(), assigned.get());
  ASSERT_OK(host->ParseAddress(AddressOf(kNode, 3 * kSlot - 1)).status());
  ASSERT_OK_AND_ASSIGN(ActorRef next, host->CreateActor("w"));
  EXPECT_EQ(next->id(), 2 * kSlot) << "still the first of the host's own ids";
  host->Shutdown();
}

TEST_F(LocalMembersTest, ANameBoundToAHostActorReachesItAndIsReleasedByItsExitNotice) {
  std::vector<std::pair<std::string, std::string>> released;
  troupe::Mutex released_mu;
  daemon_to_peer_.on_name_released = [&](std::string_view name, std::string_view address) {
    troupe::MutexLock lock(&released_mu);
    released.emplace_back(name, address);
  };
  auto [parent, parent_inbox] = SpawnInbox(*daemon_, "supervisor");
  ActorRef echo_parent = Seen(*host_, *daemon_, parent);
  ASSERT_OK(host_->RegisterClass(std::make_unique<TestClass>(TestClass::Spec{
      .name = "echo", .receive = [](TestInstance&, Cell* self, Message& m) {
        if (m.kind() == MessageKind::kUser && m.sender() != nullptr) {
          Send(self, m.sender(), "pong", m.payload());
        }
        return absl::OkStatus();
      }})));
  ASSERT_OK_AND_ASSIGN(ActorRef child, host_->CreateActor("echo", {.parent = echo_parent}));
  ActorRef seen = Seen(*daemon_, *host_, child);
  ASSERT_OK(daemon_->AdoptRemoteChild(parent, seen));
  ASSERT_OK(daemon_->BindGlobalName("service", seen));
  ASSERT_OK_AND_ASSIGN(ActorRef found, daemon_->Lookup("service"));
  EXPECT_EQ(found.get(), seen.get());
  auto [asker, asker_inbox] = SpawnInbox(*daemon_, "asker");
  ASSERT_OK(daemon_->TellByName("service", Msg("ping", "by-name"), asker));
  ASSERT_TRUE(asker_inbox->WaitForSize(1, kWait));
  EXPECT_EQ(asker_inbox->items()[0].payload, "by-name");
  // A name cannot go to an actor of another node, nor to a dead handle.
  ASSERT_OK_AND_ASSIGN(ActorRef peer_actor,
                       daemon_->ParseAddress(AddressOf(kPeerNode, 12)));
  EXPECT_EQ(daemon_->BindGlobalName("x", peer_actor).code(), absl::StatusCode::kInvalidArgument);

  ASSERT_OK(host_->RequestExit(child));
  ASSERT_TRUE(parent_inbox->WaitForSize(1, kWait));
  EXPECT_EQ(parent_inbox->items()[0].type, TROUPE_MSG_CHILD_EXITED);
  EXPECT_EQ(daemon_->Lookup("service").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(daemon_->BindGlobalName("service", seen).code(), absl::StatusCode::kFailedPrecondition);
  troupe::MutexLock lock(&released_mu);
  EXPECT_EQ(released, (std::vector<std::pair<std::string, std::string>>{
                          {"service", host_->FormatAddress(child.get())}}));
}

TEST_F(LocalMembersTest, ALostHostReleasesTheNamesOfItsActors) {
  ActorRef on_host = SpawnEcho(*host_);
  ActorRef seen = Seen(*daemon_, *host_, on_host);
  ASSERT_OK(daemon_->BindGlobalName("a", seen));
  ASSERT_OK(daemon_->BindGlobalName("b", seen));
  router_.Cut();
  daemon_->LocalMemberLost(kSlot, 2 * kSlot, "host process exited with code 1");
  EXPECT_EQ(daemon_->Lookup("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(daemon_->Lookup("b").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LocalMembersTest, AHostsNameReleaseDropsOnlyTheBindingToThatActor) {
  ActorRef first = SpawnEcho(*host_);
  ActorRef second = SpawnEcho(*host_);
  ASSERT_OK(daemon_->BindGlobalName("svc", Seen(*daemon_, *host_, first)));
  daemon_->LocalMemberNameReleased("svc", host_->FormatAddress(second.get()));
  EXPECT_OK(daemon_->Lookup("svc").status()) << "bound to the first, not the second";
  daemon_->LocalMemberNameReleased("svc", "not an address");
  daemon_->LocalMemberNameReleased("svc", host_->FormatAddress(first.get()));
  EXPECT_EQ(daemon_->Lookup("svc").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace troupe::runtime::testing
