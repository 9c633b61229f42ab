// Tests of remote addresses: two actor systems in one process, nodes
// "127.0.0.1:1001" (A) and "127.0.0.1:1002" (B), joined by an in-test
// transport that does what a peer link does (DeliverFromRemote on the other
// side, Undeliverable back on NotFound), plus a recording fake transport.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "tests/runtime/fake_cluster.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

constexpr std::string_view kNodeA = "127.0.0.1:1001";
constexpr std::string_view kNodeB = "127.0.0.1:1002";
constexpr std::string_view kNodeC = "127.0.0.1:1003";  // known to nobody
constexpr absl::Duration kWait = absl::Seconds(60);

// Joins systems of one process like a peer link: a forwarded message is
// delivered at once by the peer's DeliverFromRemote, and one the peer does
// not take (NotFound) or for an unknown node is reported back with
// Undeliverable. Thread-safe.
class LoopbackTransport final : public FakeCluster {
 public:
  void Join(ActorSystem* self, std::string_view peer_node, ActorSystem* peer) {
    troupe::MutexLock lock(&mu_);
    self_ = self;
    peers_[std::string(peer_node)] = peer;
  }
  void Cut(std::string_view peer_node) {
    troupe::MutexLock lock(&mu_);
    peers_.erase(std::string(peer_node));
  }
  bool ResumeWhenRoom(std::string_view, std::function<void()>) override { return false; }
  bool Forward(std::string_view node, uint64_t remote_id, Message message) override {
    ActorSystem* self;
    ActorSystem* peer = nullptr;
    {
      troupe::MutexLock lock(&mu_);
      self = self_;
      auto it = peers_.find(std::string(node));
      if (it != peers_.end()) peer = it->second;
    }
    if (peer == nullptr) {
      self->Undeliverable(node, remote_id, std::move(message), "node unreachable");
      return true;
    }
    absl::Status s = peer->DeliverFromRemote(remote_id, self->FormatAddress(message.sender()),
                                             message.type(), message.payload());
    if (absl::IsNotFound(s)) {
      self->Undeliverable(node, remote_id, std::move(message), std::string(s.message()));
    } else {
      EXPECT_OK(s);
    }
    return true;
  }

 private:
  troupe::Mutex mu_;
  ActorSystem* self_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::flat_hash_map<std::string, ActorSystem*> peers_ ABSL_GUARDED_BY(mu_);
};

// Records what it is asked to forward. Thread-safe.
class RecordingTransport final : public FakeCluster {
 public:
  struct Forwarded {
    std::string node;
    uint64_t remote_id;
    std::string type;
    std::string payload;
    std::string sender;
  };
  explicit RecordingTransport(ActorSystem** system) : system_(system) {}
  bool ResumeWhenRoom(std::string_view, std::function<void()>) override { return false; }
  bool Forward(std::string_view node, uint64_t remote_id, Message message) override {
    troupe::MutexLock lock(&mu_);
    items_.push_back(Forwarded{std::string(node), remote_id, std::string(message.type()),
                               std::string(message.payload()),
                               (*system_)->FormatAddress(message.sender())});
    return true;
  }
  std::vector<Forwarded> items() {
    troupe::MutexLock lock(&mu_);
    return items_;
  }

 private:
  ActorSystem** system_;
  troupe::Mutex mu_;
  std::vector<Forwarded> items_ ABSL_GUARDED_BY(mu_);
};

// Counts forwards. Thread-safe.
class CountingTransport final : public FakeCluster {
 public:
  bool Forward(std::string_view, uint64_t, Message) override {
    count_.fetch_add(1);
    return true;
  }
  bool ResumeWhenRoom(std::string_view, std::function<void()>) override { return false; }
  int count() const { return count_.load(); }

 private:
  std::atomic<int> count_{0};
};

std::string AddressOf(std::string_view node, uint64_t id) {
  return std::string("troupe://") + std::string(node) + "/" + std::to_string(id);
}

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<ActorSystem>(
        SystemOptions{.worker_threads = 2, .node_name = std::string(kNodeA)});
    b_ = std::make_unique<ActorSystem>(
        SystemOptions{.worker_threads = 2, .node_name = std::string(kNodeB)});
    a_link_.Join(a_.get(), kNodeB, b_.get());
    b_link_.Join(b_.get(), kNodeA, a_.get());
    a_->SetCluster(&a_link_);
    b_->SetCluster(&b_link_);
  }
  void TearDown() override {
    // Still linked while they drain: exit notices cross as they would.
    a_->Shutdown();
    b_->Shutdown();
    a_->SetCluster(nullptr);
    b_->SetCluster(nullptr);
    a_.reset();
    b_.reset();
  }

  Inbox* NewInbox() {
    inboxes_.push_back(std::make_unique<Inbox>());
    return inboxes_.back().get();
  }
  std::pair<ActorRef, Inbox*> SpawnInbox(ActorSystem& system, std::string_view name = "inbox") {
    Inbox* inbox = NewInbox();
    return {system.SpawnNative(inbox->Handler(), name), inbox};
  }
  // `actor` of system `from` as seen from system `on`.
  ActorRef Remote(ActorSystem& on, ActorSystem& from, const ActorRef& actor) {
    absl::StatusOr<ActorRef> ref = on.ParseAddress(from.FormatAddress(actor.get()));
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? *ref : ActorRef();
  }
  // A native actor on `system` answering every message with "pong" and the
  // same payload, from itself to the message's sender.
  ActorRef SpawnEcho(ActorSystem& system) {
    return system.SpawnNative(
        [](Cell* self, Message& m) {
          if (m.sender() != nullptr) Send(self, m.sender(), "pong", m.payload());
        },
        "echo");
  }
  TestClass* RegisterOn(ActorSystem& system, TestClass::Spec spec) {
    auto owned = std::make_unique<TestClass>(std::move(spec));
    TestClass* raw = owned.get();
    EXPECT_OK(system.RegisterClass(std::move(owned)));
    return raw;
  }

  // Declared first: they outlive the systems (handlers and links use them).
  std::deque<std::unique_ptr<Inbox>> inboxes_;
  LoopbackTransport a_link_;
  LoopbackTransport b_link_;
  std::unique_ptr<ActorSystem> a_;
  std::unique_ptr<ActorSystem> b_;
};

TEST_F(RemoteTest, ARemoteAddressParsesToOneCanonicalCellThatFormatsBackAndIsReleased) {
  const std::string text = AddressOf(kNodeB, 42);
  {
    ASSERT_OK_AND_ASSIGN(ActorRef first, a_->ParseAddress(text));
    ASSERT_OK_AND_ASSIGN(ActorRef second, a_->ParseAddress(text));
    ASSERT_OK_AND_ASSIGN(ActorRef external, a_->ParseExternalAddress(text));
    EXPECT_EQ(a_->FormatAddress(first.get()), text);
    EXPECT_EQ(first.get(), second.get());
    EXPECT_EQ(first.get(), external.get());
    EXPECT_EQ(HostTable()->address_compare(first.get(), second.get()), 0);
    EXPECT_EQ(HostTable()->address_hash(first.get()), HostTable()->address_hash(second.get()));
    EXPECT_EQ(first->state(), CellState::kRemote);

    // Different from another remote actor and from every local handle.
    ASSERT_OK_AND_ASSIGN(ActorRef other, a_->ParseAddress(AddressOf(kNodeB, 43)));
    ActorRef local = a_->SpawnNative([](Cell*, Message&) {});
    ASSERT_OK_AND_ASSIGN(ActorRef local_ghost, a_->ParseAddress(AddressOf(kNodeA, 987654)));
    for (const ActorRef& different : {other, local, local_ghost}) {
      EXPECT_NE(HostTable()->address_compare(first.get(), different.get()), 0);
    }
    EXPECT_EQ(a_->RemoteCellCountForTest(), 2u);

    absl::StatusOr<ActorStatus> status = a_->GetActorStatus(first);
    EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound);
    EXPECT_CONTAINS(status.status().message(), "is an actor of node '127.0.0.1:1002'");
    EXPECT_EQ(a_->BindGlobalName("name", first).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(a_->SetDeadLetterHandler(first).code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(a_->RemoteCellCountForTest(), 0u) << "nobody holds them: the registry forgets them";
  ASSERT_OK_AND_ASSIGN(ActorRef again, a_->ParseAddress(text));
  EXPECT_EQ(a_->FormatAddress(again.get()), text);
  EXPECT_EQ(a_->RemoteCellCountForTest(), 1u);
}

TEST_F(RemoteTest, WithoutATransportAnotherNodesAddressIsAClearError) {
  ActorSystem alone(SystemOptions{.worker_threads = 1, .node_name = std::string(kNodeA)});
  const std::string text = AddressOf(kNodeB, 7);
  for (const absl::StatusOr<ActorRef>& parsed :
       {alone.ParseAddress(text), alone.ParseExternalAddress(text)}) {
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_CONTAINS(parsed.status().message(), "belongs to node '127.0.0.1:1002'");
    EXPECT_CONTAINS(parsed.status().message(), "this daemon is in no convention");
  }
  EXPECT_EQ(alone.ParseAddress("troupe:///7").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->ParseAddress("troupe:///7").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->ParseAddress(AddressOf(kNodeB, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(alone.RemoteCellCountForTest(), 0u);
}

TEST_F(RemoteTest, AfterTheTransportIsRemovedAMessageToARemoteActorIsUndeliverable) {
  ActorSystem* system = nullptr;
  RecordingTransport transport(&system);
  ActorSystem one(SystemOptions{.worker_threads = 1, .node_name = std::string(kNodeA)});
  system = &one;
  one.SetCluster(&transport);
  ASSERT_OK_AND_ASSIGN(ActorRef remote, one.ParseAddress(AddressOf(kNodeB, 5)));
  ASSERT_OK(one.Tell(remote, Msg("first", "1")));
  one.SetCluster(nullptr);
  ASSERT_OK(one.Tell(remote, Msg("second", "2")));
  ASSERT_EQ(transport.items().size(), 1u);
  EXPECT_EQ(transport.items()[0].type, "first");
  EXPECT_EQ(one.GetStatus().dead_letters, 1u);
}

TEST_F(RemoteTest, ATellGoesToTheTransportWithNodeIdTypePayloadAndSender) {
  ActorSystem* system = nullptr;
  RecordingTransport transport(&system);
  ActorSystem one(SystemOptions{.worker_threads = 1, .node_name = std::string(kNodeA)});
  system = &one;
  one.SetCluster(&transport);
  ActorRef sender = one.SpawnNative([](Cell*, Message&) {}, "sender");
  ASSERT_OK_AND_ASSIGN(ActorRef remote, one.ParseAddress(AddressOf(kNodeB, 77)));
  ASSERT_OK(one.Tell(remote, Msg("greeting", std::string("hi\0there", 8)), sender));
  ASSERT_OK(one.RequestExit(remote));  // system messages travel too
  std::vector<RecordingTransport::Forwarded> sent = transport.items();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].node, kNodeB);
  EXPECT_EQ(sent[0].remote_id, 77u);
  EXPECT_EQ(sent[0].type, "greeting");
  EXPECT_EQ(sent[0].payload, std::string("hi\0there", 8));
  EXPECT_EQ(sent[0].sender, one.FormatAddress(sender.get()));
  EXPECT_EQ(sent[1].type, TROUPE_MSG_EXIT_REQUEST);
  EXPECT_EQ(sent[1].sender, "");
  EXPECT_EQ(one.GetStatus().dead_letters, 0u) << "forwarded messages are not dead letters";
}

TEST_F(RemoteTest, TellsAndRepliesCrossBothWaysWithSendersAndOrderKept) {
  constexpr int kCount = 10000;
  ActorRef echo = SpawnEcho(*b_);
  auto [client, inbox] = SpawnInbox(*a_, "client");
  ActorRef echo_from_a = Remote(*a_, *b_, echo);
  for (int i = 0; i < kCount; ++i) {
    ASSERT_OK(a_->Tell(echo_from_a, Msg("ping", std::to_string(i)), client));
  }
  ASSERT_TRUE(inbox->WaitForSize(kCount, kWait)) << inbox->size();
  std::vector<Received> replies = inbox->items();
  ASSERT_EQ(replies.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(replies[i].type, "pong");
    ASSERT_EQ(replies[i].payload, std::to_string(i)) << "order kept";
    ASSERT_EQ(replies[i].sender.get(), echo_from_a.get()) << "the canonical cell of B's echo";
  }
  EXPECT_EQ(a_->FormatAddress(replies[0].sender.get()), b_->FormatAddress(echo.get()));
  EXPECT_EQ(a_->GetStatus().dead_letters + b_->GetStatus().dead_letters, 0u);
}

TEST_F(RemoteTest, TheSenderSeenOnTheOtherNodeIsTheCanonicalCellOfTheSendersAddress) {
  auto [receiver, inbox] = SpawnInbox(*b_, "receiver");
  auto [sender, unused] = SpawnInbox(*a_, "sender");
  ASSERT_OK(a_->Tell(Remote(*a_, *b_, receiver), Msg("hello"), sender));
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  Received got = inbox->items()[0];
  EXPECT_EQ(b_->FormatAddress(got.sender.get()), a_->FormatAddress(sender.get()));
  EXPECT_EQ(got.sender.get(), Remote(*b_, *a_, sender).get());

  // A sender of the receiving node itself is that local actor.
  auto [local, local_inbox] = SpawnInbox(*b_, "local");
  ASSERT_OK(b_->DeliverFromRemote(receiver->id(), b_->FormatAddress(local.get()), "from-b", ""));
  ASSERT_TRUE(inbox->WaitForSize(2, kWait));
  EXPECT_EQ(inbox->items()[1].sender.get(), local.get());
}

TEST_F(RemoteTest, AnAskFromOneNodeIsAnsweredByAnActorOfTheOther) {
  ActorRef echo = SpawnEcho(*b_);
  ASSERT_OK_AND_ASSIGN(Message reply,
                       a_->Ask(Remote(*a_, *b_, echo), Msg("ping", "are you there"), kWait));
  EXPECT_EQ(reply.type(), "pong");
  EXPECT_EQ(reply.payload(), "are you there");
  EXPECT_EQ(a_->FormatAddress(reply.sender()), b_->FormatAddress(echo.get()));
}

TEST_F(RemoteTest, APoisonMessageFromAFailingRemoteActorGoesBackToTheSender) {
  RegisterOn(*b_, {.name = "fragile", .receive = [](TestInstance&, Cell*, Message&) {
                     return absl::InternalError("cannot cope");
                   }});
  ASSERT_OK_AND_ASSIGN(ActorRef fragile, b_->CreateActor("fragile"));
  auto [client, inbox] = SpawnInbox(*a_, "client");
  ASSERT_OK(a_->Tell(Remote(*a_, *b_, fragile), Msg("work", "load"), client));
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  Received poison = inbox->items()[0];
  EXPECT_EQ(poison.type, TROUPE_MSG_POISON);
  EXPECT_EQ(Fields(poison.payload), (std::vector<std::string>{"work", "load", "cannot cope"}));
  EXPECT_EQ(a_->FormatAddress(poison.sender.get()), b_->FormatAddress(fragile.get()));
}

TEST_F(RemoteTest, AMessageForAnUnknownRemoteActorIsADeadLetterAtTheSendingNode) {
  auto [handler, dead] = SpawnInbox(*a_, "dead-letters");
  ASSERT_OK(a_->SetDeadLetterHandler(handler));
  struct Seen {
    std::string sender, target, reason;
  };
  troupe::Mutex mu;
  std::vector<Seen> observed;
  a_->SetUndeliverableObserver(
      [&](Cell* sender, std::string_view target, std::string_view reason) {
        troupe::MutexLock lock(&mu);
        observed.push_back(
            Seen{a_->FormatAddress(sender), std::string(target), std::string(reason)});
      });
  auto [client, unused] = SpawnInbox(*a_, "client");
  const std::string ghost_text = AddressOf(kNodeB, 987654);
  ASSERT_OK_AND_ASSIGN(ActorRef ghost, a_->ParseAddress(ghost_text));

  ASSERT_OK(a_->Tell(ghost, Msg("lost", "payload"), client));
  ASSERT_TRUE(dead->WaitForSize(1, kWait));
  Received envelope = dead->items()[0];
  EXPECT_EQ(envelope.type, TROUPE_MSG_DEAD_ENVELOPE);
  EXPECT_EQ(Fields(envelope.payload), (std::vector<std::string>{ghost_text, "lost", "payload"}));
  EXPECT_EQ(envelope.sender.get(), client.get());
  EXPECT_EQ(a_->GetStatus().dead_letters, 1u);
  EXPECT_EQ(b_->GetStatus().dead_letters, 0u) << "NotFound at B is not B's dead letter";
  {
    troupe::MutexLock lock(&mu);
    ASSERT_EQ(observed.size(), 1u);
    EXPECT_EQ(observed[0].sender, a_->FormatAddress(client.get()));
    EXPECT_EQ(observed[0].target, ghost_text);
    EXPECT_CONTAINS(observed[0].reason, "no live actor");
  }

  // Without a sender: counted and handed on, the observer is not called.
  ASSERT_OK(a_->Tell(ghost, Msg("anonymous")));
  ASSERT_TRUE(dead->WaitForSize(2, kWait));
  EXPECT_EQ(a_->GetStatus().dead_letters, 2u);
  // Bookkeeping is neither counted nor observed.
  a_->Undeliverable(kNodeB, 987654, Message::Make(TROUPE_MSG_CHILD_EXITED, "", client.get()),
                    "gone");
  EXPECT_EQ(a_->GetStatus().dead_letters, 2u);
  a_->SetUndeliverableObserver(nullptr);
  troupe::MutexLock lock(&mu);
  EXPECT_EQ(observed.size(), 1u);
}

TEST_F(RemoteTest, DeliverFromRemoteRefusesUnknownActorsAndMalformedInput) {
  auto [inbox_actor, inbox] = SpawnInbox(*b_);
  absl::Status unknown = b_->DeliverFromRemote(987654, "", "x", "");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(b_->GetStatus().dead_letters, 0u);
  EXPECT_EQ(b_->DeliverFromRemote(inbox_actor->id(), "", "", "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b_->DeliverFromRemote(inbox_actor->id(), "nonsense", "x", "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b_->DeliverFromRemote(inbox_actor->id(), "troupe://127.0.0.1:1001/x", "x", "").code(),
            absl::StatusCode::kInvalidArgument);
  // An address of B that B never handed out.
  EXPECT_EQ(b_->DeliverFromRemote(inbox_actor->id(), AddressOf(kNodeB, 1u << 30), "x", "").code(),
            absl::StatusCode::kInvalidArgument);
  // Reserved types are fine from a peer.
  ASSERT_OK(b_->DeliverFromRemote(inbox_actor->id(), AddressOf(kNodeA, 3), TROUPE_MSG_DEAD_ENVELOPE,
                                  ""));
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  EXPECT_EQ(inbox->items()[0].type, TROUPE_MSG_DEAD_ENVELOPE);
}

TEST_F(RemoteTest, ARemoteChildsExitReachesItsParentExactlyOnce) {
  auto [parent, parent_inbox] = SpawnInbox(*a_, "parent");
  RegisterOn(*b_, {.name = "child"});
  ASSERT_OK_AND_ASSIGN(ActorRef child,
                       b_->CreateActor("child", {.parent = Remote(*b_, *a_, parent)}));
  ASSERT_OK_AND_ASSIGN(ActorStatus child_status, b_->GetActorStatus(child));
  EXPECT_EQ(child_status.parent, a_->FormatAddress(parent.get()));
  ActorRef child_on_a = Remote(*a_, *b_, child);
  ASSERT_OK(a_->AdoptRemoteChild(parent, child_on_a));
  ASSERT_OK(a_->AdoptRemoteChild(parent, child_on_a)) << "adopting twice is harmless";
  ASSERT_OK_AND_ASSIGN(ActorStatus parent_status, a_->GetActorStatus(parent));
  EXPECT_EQ(parent_status.children,
            std::vector<std::string>{b_->FormatAddress(child.get())});

  ASSERT_OK(b_->RequestExit(child));
  ASSERT_TRUE(parent_inbox->WaitForSize(1, kWait));
  Received notice = parent_inbox->items()[0];
  EXPECT_EQ(notice.type, TROUPE_MSG_CHILD_EXITED);
  EXPECT_EQ(notice.sender.get(), child_on_a.get());
  EXPECT_EQ(Fields(notice.payload),
            (std::vector<std::string>{b_->FormatAddress(child.get()), ""}));
  // A lost node afterwards reports nothing more; a marker proves the mailbox
  // has nothing else before it.
  a_->NodeLost(kNodeB, "expired");
  ASSERT_OK(a_->Tell(parent, Msg("marker")));
  ASSERT_TRUE(parent_inbox->WaitForSize(2, kWait));
  EXPECT_EQ(parent_inbox->items()[1].type, "marker");
  EXPECT_EQ(parent_inbox->OfType(TROUPE_MSG_CHILD_EXITED).size(), 1u);
  ASSERT_OK_AND_ASSIGN(parent_status, a_->GetActorStatus(parent));
  EXPECT_TRUE(parent_status.children.empty());
}

TEST_F(RemoteTest, ARecursiveExitAsksTheRemoteChildAndWaitsForItsNotice) {
  auto [grandparent, grandparent_inbox] = SpawnInbox(*a_, "grandparent");
  RegisterOn(*a_, {.name = "parent"});
  ASSERT_OK_AND_ASSIGN(ActorRef parent, a_->CreateActor("parent", {.parent = grandparent}));
  Inbox* child_log = NewInbox();
  ActorSystem* a = a_.get();
  RegisterOn(*b_, {.name = "child", .receive = [=](TestInstance&, Cell*, Message& m) {
                     if (m.kind() == MessageKind::kExitRequest) {
                       // What the parent's node says while this child exits.
                       absl::StatusOr<ActorStatus> s = a->GetActorStatus(parent);
                       child_log->Add(Message::Make("exit-request", s.ok() ? s->state : "?",
                                                    m.sender()));
                     }
                     return absl::OkStatus();
                   }});
  ASSERT_OK_AND_ASSIGN(ActorRef child,
                       b_->CreateActor("child", {.parent = Remote(*b_, *a_, parent)}));
  ASSERT_OK(a_->AdoptRemoteChild(parent, Remote(*a_, *b_, child)));

  ASSERT_OK(a_->RequestExit(parent));
  ASSERT_TRUE(grandparent_inbox->WaitForSize(1, kWait));
  EXPECT_EQ(grandparent_inbox->items()[0].type, TROUPE_MSG_CHILD_EXITED);
  ASSERT_EQ(child_log->size(), 1u);
  EXPECT_EQ(child_log->items()[0].payload, "exiting") << "the parent waited for its child";
  EXPECT_EQ(b_->FormatAddress(child_log->items()[0].sender.get()), a_->FormatAddress(parent.get()));
  ASSERT_OK_AND_ASSIGN(ActorStatus child_status, b_->GetActorStatus(child));
  EXPECT_EQ(child_status.state, "exited");
  ASSERT_OK_AND_ASSIGN(ActorStatus parent_status, a_->GetActorStatus(parent));
  EXPECT_EQ(parent_status.state, "exited");
  // Adoption by a parent that has exited is refused.
  auto [other, unused] = SpawnInbox(*b_);
  EXPECT_EQ(a_->AdoptRemoteChild(parent, Remote(*a_, *b_, other)).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RemoteTest, NodeLostReportsEachAdoptedChildOnceWithTheReason) {
  auto [parent, inbox] = SpawnInbox(*a_, "parent");
  ASSERT_OK_AND_ASSIGN(ActorRef r1, a_->ParseAddress(AddressOf(kNodeB, 11)));
  ASSERT_OK_AND_ASSIGN(ActorRef r2, a_->ParseAddress(AddressOf(kNodeB, 12)));
  ASSERT_OK_AND_ASSIGN(ActorRef elsewhere, a_->ParseAddress(AddressOf(kNodeC, 11)));
  ASSERT_OK(a_->AdoptRemoteChild(parent, r1));
  ASSERT_OK(a_->AdoptRemoteChild(parent, r2));
  ASSERT_OK(a_->AdoptRemoteChild(parent, elsewhere));
  auto [second_parent, unused] = SpawnInbox(*a_, "second");
  EXPECT_EQ(a_->AdoptRemoteChild(second_parent, r1).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(a_->AdoptRemoteChild(r2, r1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->AdoptRemoteChild(parent, second_parent).code(),
            absl::StatusCode::kInvalidArgument);

  a_->NodeLost(kNodeB, "peer expired");
  a_->NodeLost(kNodeB, "peer expired again");
  // The real notice arriving late is not passed on a second time.
  std::string late;
  wire::AppendField(&late, AddressOf(kNodeB, 11));
  wire::AppendField(&late, "");
  ASSERT_OK(a_->DeliverFromRemote(parent->id(), AddressOf(kNodeB, 11), TROUPE_MSG_CHILD_EXITED,
                                  late));
  ASSERT_OK(a_->Tell(parent, Msg("marker")));
  ASSERT_TRUE(inbox->WaitForSize(3, kWait));
  std::vector<Received> got = inbox->items();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].type, "marker");
  std::vector<Received> notices = inbox->OfType(TROUPE_MSG_CHILD_EXITED);
  ASSERT_EQ(notices.size(), 2u);
  for (const Received& notice : notices) {
    EXPECT_TRUE(notice.sender.get() == r1.get() || notice.sender.get() == r2.get());
    EXPECT_EQ(Fields(notice.payload),
              (std::vector<std::string>{a_->FormatAddress(notice.sender.get()), "peer expired"}));
  }
  EXPECT_NE(notices[0].sender.get(), notices[1].sender.get());
  ASSERT_OK_AND_ASSIGN(ActorStatus status, a_->GetActorStatus(parent));
  EXPECT_EQ(status.children, std::vector<std::string>{AddressOf(kNodeC, 11)});
  EXPECT_EQ(a_->AdoptRemoteChild(parent, r1).code(), absl::StatusCode::kFailedPrecondition)
      << "an actor of a lost node is presumed gone";

  a_->NodeLost(kNodeC, "gone too");
  ASSERT_TRUE(inbox->WaitForSize(4, kWait));
  EXPECT_EQ(Fields(inbox->items()[3].payload),
            (std::vector<std::string>{AddressOf(kNodeC, 11), "gone too"}));
}

TEST_F(RemoteTest, NodeLostLetsAParentWaitingForAnUnreachableChildFinish) {
  auto [grandparent, grandparent_inbox] = SpawnInbox(*a_, "grandparent");
  RegisterOn(*a_, {.name = "parent"});
  ASSERT_OK_AND_ASSIGN(ActorRef parent, a_->CreateActor("parent", {.parent = grandparent}));
  RegisterOn(*b_, {.name = "child"});
  ASSERT_OK_AND_ASSIGN(ActorRef child,
                       b_->CreateActor("child", {.parent = Remote(*b_, *a_, parent)}));
  ASSERT_OK(a_->AdoptRemoteChild(parent, Remote(*a_, *b_, child)));
  auto [handler, dead] = SpawnInbox(*a_, "dead-letters");
  ASSERT_OK(a_->SetDeadLetterHandler(handler));
  a_link_.Cut(kNodeB);  // the exit request cannot get there
  ASSERT_OK(a_->RequestExit(parent));
  // The parent asks its child only once it is exiting; that request comes
  // back undeliverable.
  ASSERT_TRUE(dead->WaitForSize(1, kWait));
  EXPECT_EQ(Fields(dead->items()[0].payload)[1], TROUPE_MSG_EXIT_REQUEST);
  ASSERT_OK_AND_ASSIGN(ActorStatus waiting, a_->GetActorStatus(parent));
  EXPECT_EQ(waiting.state, "exiting");
  a_->NodeLost(kNodeB, "link down");
  ASSERT_TRUE(grandparent_inbox->WaitForSize(1, kWait));
  ASSERT_OK_AND_ASSIGN(ActorStatus done, a_->GetActorStatus(parent));
  EXPECT_EQ(done.state, "exited");
  ASSERT_OK(b_->RequestExit(child));  // B's child, whose parent is gone, still exits cleanly
}

TEST_F(RemoteTest, SetClusterWaitsForAForwardUnderWay) {
  class BlockingTransport final : public FakeCluster {
   public:
    bool Forward(std::string_view, uint64_t, Message) override {
      entered.Notify();
      release.WaitForNotification();
      returned.store(true);
      return true;
    }
    bool ResumeWhenRoom(std::string_view, std::function<void()>) override { return false; }
    troupe::Notification entered;
    troupe::Notification release;
    std::atomic<bool> returned{false};
  };
  BlockingTransport transport;
  ActorSystem one(SystemOptions{.worker_threads = 1, .node_name = std::string(kNodeA)});
  one.SetCluster(&transport);
  ASSERT_OK_AND_ASSIGN(ActorRef remote, one.ParseAddress(AddressOf(kNodeB, 1)));
  std::thread teller([&] { EXPECT_OK(one.Tell(remote, Msg("x"))); });
  transport.entered.WaitForNotification();
  troupe::Notification unsetting;
  std::atomic<bool> unset{false};
  std::thread unsetter([&] {
    unsetting.Notify();
    one.SetCluster(nullptr);
    unset.store(true);
    EXPECT_TRUE(transport.returned.load()) << "returned before the forward under way";
  });
  unsetting.WaitForNotification();
  EXPECT_FALSE(unset.load());
  transport.release.Notify();
  unsetter.join();
  teller.join();
  EXPECT_TRUE(unset.load());
}

TEST_F(RemoteTest, ARemoteCellMayOutliveItsSystem) {
  ActorRef survivor;
  {
    CountingTransport transport;
    ActorSystem one(SystemOptions{.worker_threads = 1, .node_name = std::string(kNodeA)});
    one.SetCluster(&transport);
    ASSERT_OK_AND_ASSIGN(survivor, one.ParseAddress(AddressOf(kNodeB, 9)));
    one.SetCluster(nullptr);
  }
  EXPECT_EQ(survivor->state(), CellState::kRemote);
  survivor = ActorRef();  // ~Cell reaches the registry, which the cell kept alive
}

TEST_F(RemoteTest, ConcurrentParsesReleasesTellsAndDeliveriesOfOneRemoteAddressAgree) {
  constexpr int kRounds = 2000;
  CountingTransport transport;
  std::atomic<int> received{0};
  std::atomic<int> wrong{0};
  troupe::Notification all_received;
  const std::string held_text = AddressOf(kNodeB, 500);
  const std::string churned_text = AddressOf(kNodeB, 501);
  ActorSystem one(SystemOptions{.worker_threads = 2, .node_name = std::string(kNodeA)});
  one.SetCluster(&transport);
  ActorRef counter = one.SpawnNative(
      [&](Cell* self, Message& m) {
        if (m.type() == "last") {
          all_received.Notify();
          return;
        }
        if (self->system()->FormatAddress(m.sender()) != churned_text) wrong.fetch_add(1);
        received.fetch_add(1);
      },
      "counter");
  ASSERT_OK_AND_ASSIGN(ActorRef held, one.ParseAddress(held_text));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        absl::StatusOr<ActorRef> same = one.ParseAddress(held_text);
        if (!same.ok() || same->get() != held.get()) wrong.fetch_add(1);
        absl::StatusOr<ActorRef> churned = one.ParseAddress(churned_text);
        if (!churned.ok() || one.FormatAddress(churned->get()) != churned_text) wrong.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < kRounds; ++i) {
      if (!one.Tell(held, Msg("m")).ok()) wrong.fetch_add(1);
    }
  });
  threads.emplace_back([&] {
    for (int i = 0; i < kRounds; ++i) {
      if (!one.DeliverFromRemote(counter->id(), churned_text, "m", "").ok()) wrong.fetch_add(1);
    }
  });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(transport.count(), kRounds);
  ASSERT_OK(one.Tell(counter, Msg("last")));  // queued after every delivery above
  all_received.WaitForNotification();
  EXPECT_EQ(received.load(), kRounds);
  EXPECT_EQ(wrong.load(), 0);
  held = ActorRef();
  one.Shutdown();  // every turn is over: no handled message holds its sender
  one.NodeLost(kNodeB, "test over");  // drops the cached sender too
  EXPECT_EQ(one.RemoteCellCountForTest(), 0u);
}

}  // namespace
}  // namespace troupe::runtime::testing
