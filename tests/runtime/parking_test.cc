// Tests of back-pressure from other daemons: a send that finds a peer's
// outbox over its bound parks the sending actor (not the worker) until the
// transport says the outbox drained; other actors keep running meanwhile.
#include <functional>
#include <string>
#include <vector>

#include "tests/runtime/fake_cluster.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

constexpr std::string_view kPeer = "127.0.0.1:1002";

// A transport whose outbox is "full" while `full` is set: Forward records and
// reports it, ResumeWhenRoom keeps the resume (unless `room_by_then`).
// Thread-safe.
class BoundedTransport final : public FakeCluster {
 public:
  bool Forward(std::string_view, uint64_t, Message message) override {
    troupe::MutexLock lock(&mu_);
    forwarded_.emplace_back(message.payload());
    changed_.SignalAll();
    return !full_;
  }
  bool ResumeWhenRoom(std::string_view node, std::function<void()> resume) override {
    troupe::MutexLock lock(&mu_);
    EXPECT_EQ(node, kPeer);
    if (room_by_then_) return false;
    resumes_.push_back(std::move(resume));
    changed_.SignalAll();
    return true;
  }
  void SetFull(bool full, bool room_by_then = false) {
    troupe::MutexLock lock(&mu_);
    full_ = full;
    room_by_then_ = room_by_then;
  }
  // Runs the kept resumes (the outbox drained).
  void Drain() {
    std::vector<std::function<void()>> resumes;
    {
      troupe::MutexLock lock(&mu_);
      resumes.swap(resumes_);
    }
    for (auto& resume : resumes) resume();
  }
  std::vector<std::string> forwarded() const {
    troupe::MutexLock lock(&mu_);
    return forwarded_;
  }
  size_t waiting() const {
    troupe::MutexLock lock(&mu_);
    return resumes_.size();
  }
  // Waits (up to a minute) until `n` resumes are kept / `n` messages came.
  bool WaitForWaiting(size_t n) {
    return WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return resumes_.size() >= n; });
  }
  bool WaitForForwarded(size_t n) {
    return WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return forwarded_.size() >= n; });
  }

 private:
  bool WaitFor(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    troupe::MutexLock lock(&mu_);
    while (!done()) {
      if (changed_.WaitWithDeadline(&mu_, deadline)) return done();
    }
    return true;
  }

  mutable troupe::Mutex mu_;
  troupe::CondVar changed_;
  bool full_ ABSL_GUARDED_BY(mu_) = false;
  bool room_by_then_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> forwarded_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> resumes_ ABSL_GUARDED_BY(mu_);
};

class ParkingTest : public RuntimeTest {
 protected:
  void TearDown() override {
    transport_.SetFull(false);
    transport_.Drain();
    if (system_ != nullptr) system_->SetCluster(nullptr);
    RuntimeTest::TearDown();
  }
  void Use(ActorSystem& system) {
    system.SetCluster(&transport_);
    absl::StatusOr<ActorRef> remote = system.ParseAddress("troupe://" + std::string(kPeer) + "/7");
    ASSERT_TRUE(remote.ok()) << remote.status();
    remote_ = *remote;
  }
  // An actor that forwards every message it gets to the remote actor.
  ActorRef SpawnRelay() {
    Cell* remote = remote_.get();
    return system_->SpawnNative(
        [remote](Cell* self, Message& m) { Send(self, remote, "relayed", m.payload()); }, "relay");
  }

  BoundedTransport transport_;
  ActorRef remote_;
};

TEST_F(ParkingTest, ASenderOverAPeersBoundParksUntilTheOutboxDrainsWhileOthersRun) {
  ActorSystem& system = MakeDeterministic();
  Use(system);
  ActorRef relay = SpawnRelay();
  auto [bystander, inbox] = SpawnInbox();
  system.RunUntilIdle();
  transport_.SetFull(true);
  for (std::string_view p : {"1", "2", "3"}) ASSERT_OK(system.Tell(relay, Msg("m", p)));
  ASSERT_OK(system.Tell(bystander, Msg("hello")));
  system.RunUntilIdle();
  EXPECT_EQ(transport_.forwarded(), (std::vector<std::string>{"1"}))
      << "the turn ends after the send that found the outbox full";
  EXPECT_EQ(transport_.waiting(), 1u);
  EXPECT_EQ(system.GetStatus().parked_actors, 1u);
  EXPECT_EQ(inbox->size(), 1u) << "another actor ran meanwhile";
  ASSERT_OK_AND_ASSIGN(ActorStatus parked, system.GetActorStatus(relay));
  EXPECT_EQ(parked.mailbox_depth, 2u);

  // New mail does not wake a parked actor: only the transport does.
  ASSERT_OK(system.Tell(relay, Msg("m", "4")));
  EXPECT_EQ(system.RunUntilIdle(), 0u);
  EXPECT_EQ(transport_.forwarded().size(), 1u);

  transport_.SetFull(false);
  transport_.Drain();
  system.RunUntilIdle();
  EXPECT_EQ(transport_.forwarded(), (std::vector<std::string>{"1", "2", "3", "4"}))
      << "order kept across the pause";
  EXPECT_EQ(system.GetStatus().parked_actors, 0u);
}

TEST_F(ParkingTest, AnOutboxThatHasRoomAgainByTheEndOfTheMessageLetsTheTurnGoOn) {
  ActorSystem& system = MakeDeterministic();
  Use(system);
  ActorRef relay = SpawnRelay();
  system.RunUntilIdle();
  transport_.SetFull(true, /*room_by_then=*/true);
  for (std::string_view p : {"1", "2", "3"}) ASSERT_OK(system.Tell(relay, Msg("m", p)));
  system.RunUntilIdle();
  EXPECT_EQ(transport_.forwarded(), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(transport_.waiting(), 0u);
  EXPECT_EQ(system.GetStatus().parked_actors, 0u);
}

TEST_F(ParkingTest, AParkedActorHoldsNoWorkerAndGoesOnWhenResumed) {
  ActorSystem& system = MakeThreaded(/*workers=*/1);
  Use(system);
  ActorRef relay = SpawnRelay();
  ActorRef echo = system.SpawnNative(
      [](Cell* self, Message& m) {
        if (m.sender() != nullptr) Send(self, m.sender(), "echo", m.payload());
      },
      "echo");
  transport_.SetFull(true);
  ASSERT_OK(system.Tell(relay, Msg("m", "1")));
  ASSERT_OK(system.Tell(relay, Msg("m", "2")));
  // With the only worker free, an ask of another actor is answered.
  ASSERT_OK_AND_ASSIGN(Message reply, system.Ask(echo, Msg("ping", "x"), absl::Seconds(60)));
  EXPECT_EQ(reply.payload(), "x");
  ASSERT_TRUE(transport_.WaitForWaiting(1)) << "the relay parks after \"1\"";
  EXPECT_EQ(transport_.forwarded(), (std::vector<std::string>{"1"}));
  transport_.SetFull(false);
  transport_.Drain();
  ASSERT_TRUE(transport_.WaitForForwarded(2));
  EXPECT_EQ(transport_.forwarded(), (std::vector<std::string>{"1", "2"}));
}

}  // namespace
}  // namespace troupe::runtime::testing
