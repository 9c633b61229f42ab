// Tests of the runtime driving actors from the example plugin library
// (plugins/examples/examples.cc) through the C ABI and the host table.
#include <memory>
#include <set>
#include <string>

#include "daemon/loader/plugin_library.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

class PluginActorTest : public RuntimeTest {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<loader::PluginLibrary>> lib =
        loader::PluginLibrary::Open(TROUPE_EXAMPLES_PATH);
    ASSERT_TRUE(lib.ok()) << lib.status();
    library_ = *std::move(lib);
    MakeDeterministic();
    ASSERT_OK(sys().RegisterLibrary(&library_->plugin()));
  }
  void TearDown() override { system_.reset(); }  // before the library is closed

  std::unique_ptr<loader::PluginLibrary> library_;
};

TEST_F(PluginActorTest, EchoRepliesWithTheSameTypeAndPayload) {
  ActorRef echo = Create("examples.Echo");
  ASSERT_OK_AND_ASSIGN(Message reply, sys().Ask(echo, Msg("hello", "world"), absl::Seconds(1)));
  EXPECT_EQ(reply.type(), "hello");
  EXPECT_EQ(reply.payload(), "world");
}

TEST_F(PluginActorTest, CounterKeepsStateAcrossMessagesSentBeforeItStarted) {
  ActorRef counter = Create("examples.Counter");
  ASSERT_OK(sys().Tell(counter, Msg("increment")));
  ASSERT_OK(sys().Tell(counter, Msg("increment", "41")));
  ASSERT_OK_AND_ASSIGN(Message reply, sys().Ask(counter, Msg("get"), absl::Seconds(1)));
  EXPECT_EQ(reply.type(), "count");
  EXPECT_EQ(reply.payload(), "42");
}

TEST_F(PluginActorTest, ResumePolicyRetriesOnTheSameInstance) {
  ActorRef actor = Create("examples.Failing");
  ASSERT_OK_AND_ASSIGN(Message reply, sys().Ask(actor, Msg("fail_once"), absl::Seconds(1)));
  EXPECT_EQ(reply.type(), "ok");
  EXPECT_EQ(reply.payload(), "2") << "the failed attempt was counted by the same instance";
}

TEST_F(PluginActorTest, RestartPolicyRetriesOnAFreshInstance) {
  ActorRef resume = Create("examples.Failing");
  ActorRef restart = Create("examples.RestartingFailing");
  for (const ActorRef& a : {resume, restart}) {
    ASSERT_OK_AND_ASSIGN(Message first, sys().Ask(a, Msg("a"), absl::Seconds(1)));
    EXPECT_EQ(first.payload(), "1");
    ASSERT_OK_AND_ASSIGN(Message poison, sys().Ask(a, Msg("fail", "p"), absl::Seconds(1)));
    ASSERT_EQ(poison.type(), TROUPE_MSG_POISON);
    std::vector<std::string> f = Fields(poison.payload());
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[0], "fail");
    EXPECT_EQ(f[1], "p");
    EXPECT_NE(f[2].find("asked to fail"), std::string::npos) << f[2];
  }
  ASSERT_OK_AND_ASSIGN(Message r1, sys().Ask(resume, Msg("b"), absl::Seconds(1)));
  ASSERT_OK_AND_ASSIGN(Message r2, sys().Ask(restart, Msg("b"), absl::Seconds(1)));
  EXPECT_EQ(r1.payload(), "4") << "one instance saw a, fail twice, b";
  EXPECT_EQ(r2.payload(), "2") << "the restarted instance saw the retried fail, then b";
}

TEST_F(PluginActorTest, TimerWakeupArrivesWhenTheClockAdvances) {
  auto [client, inbox] = SpawnInbox();
  ActorRef timer = Create("examples.Timer");
  ASSERT_OK(sys().Tell(timer, Msg("start", "25"), client));
  sys().RunUntilIdle();
  sys().AdvanceClock(absl::Milliseconds(24));
  sys().RunUntilIdle();
  EXPECT_TRUE(inbox->OfType("tick").empty());
  sys().AdvanceClock(absl::Milliseconds(1));
  sys().RunUntilIdle();
  ASSERT_EQ(inbox->OfType("tick").size(), 1u);
  EXPECT_EQ(inbox->OfType("tick")[0].payload, "25000000");
}

TEST_F(PluginActorTest, ParentLearnsThatAChildFailedToStart) {
  auto [client, inbox] = SpawnInbox();
  ActorRef parent = Create("examples.Parent");
  ASSERT_OK(sys().Tell(parent, Msg("spawn", "examples.BrokenConstructor"), client));
  sys().RunUntilIdle();
  ASSERT_EQ(inbox->OfType("spawned").size(), 1u);
  std::string child = inbox->OfType("spawned")[0].payload;
  std::vector<Received> exited = inbox->OfType("child_exited");
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(exited[0].payload.substr(0, child.size() + 1), child + " ");
  EXPECT_NE(exited[0].payload.find("always fails"), std::string::npos) << exited[0].payload;
}

TEST_F(PluginActorTest, ExitingAPluginParentExitsItsChildFirst) {
  auto [client, inbox] = SpawnInbox();
  ActorRef parent = Create("examples.Parent");
  ASSERT_OK(sys().Tell(parent, Msg("spawn", "examples.Echo"), client));
  sys().RunUntilIdle();
  ASSERT_OK_AND_ASSIGN(ActorRef child, sys().ParseAddress(inbox->OfType("spawned")[0].payload));
  EXPECT_EQ(StateOf(child), "running");
  ASSERT_OK(sys().RequestExit(parent));
  sys().RunUntilIdle();
  EXPECT_EQ(StateOf(child), "exited");
  EXPECT_EQ(StateOf(parent), "exited");
}

TEST_F(PluginActorTest, PingerAndPongerPlayAGame) {
  auto [client, inbox] = SpawnInbox();
  ActorRef ponger = Create("examples.Ponger");
  ActorRef pinger = Create("examples.Pinger");
  ASSERT_OK(sys().Tell(pinger, Msg("start", Addr(ponger) + " 10"), client));
  sys().RunUntilIdle();
  ASSERT_EQ(inbox->OfType("done").size(), 1u);
  EXPECT_EQ(inbox->OfType("done")[0].payload, "10");
  ASSERT_OK_AND_ASSIGN(ActorStatus s, sys().GetActorStatus(pinger));
  EXPECT_EQ(s.sent, 11u) << "ten pings and one done";
}

TEST_F(PluginActorTest, PooledEchoRepliesFromUpToFourMembers) {
  auto [client, inbox] = SpawnInbox();
  ActorRef pool = Create("examples.PooledEcho");
  for (int i = 0; i < 12; ++i) ASSERT_OK(sys().Tell(pool, Msg("e", std::to_string(i)), client));
  sys().RunUntilIdle();
  std::vector<Received> replies = inbox->OfType("e");
  ASSERT_EQ(replies.size(), 12u);
  std::set<Cell*> members;
  for (const Received& r : replies) members.insert(r.sender.get());
  EXPECT_EQ(members.size(), 4u);
  ASSERT_OK_AND_ASSIGN(ActorStatus s, sys().GetActorStatus(pool));
  EXPECT_EQ(s.children.size(), 1u) << "idle_count 1 stays warm";
}

TEST_F(PluginActorTest, ACreateNamingALibraryLooksOnlyThere) {
  CreateOptions options;
  options.library = &library_->plugin();
  EXPECT_OK(sys().CreateActor("examples.Echo", options));
  absl::StatusOr<ActorRef> missing = sys().CreateActor("compat.Echo", options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("troupe_examples"), std::string::npos)
      << missing.status();
}

// Libraries built for the oldest and the newest ABI minor both run: the host
// reads only what each table's struct_size covers.
class CompatLibraryTest : public RuntimeTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(CompatLibraryTest, RunsAnActorFromALibraryOfEitherMinor) {
  absl::StatusOr<std::unique_ptr<loader::PluginLibrary>> lib =
      loader::PluginLibrary::Open(GetParam());
  ASSERT_TRUE(lib.ok()) << lib.status();
  MakeDeterministic();
  ASSERT_OK(sys().RegisterLibrary(&(*lib)->plugin()));
  ActorRef echo = Create("compat.Echo");
  ASSERT_OK_AND_ASSIGN(Message reply, sys().Ask(echo, Msg("hello", "old"), absl::Seconds(1)));
  EXPECT_EQ(reply.type(), "hello");
  EXPECT_EQ(reply.payload(), "old");
  system_.reset();  // before the library is closed
}

INSTANTIATE_TEST_SUITE_P(OldestAndNewestMinor, CompatLibraryTest,
                         ::testing::Values(TROUPE_COMPAT_MINOR0_PATH, TROUPE_COMPAT_NEWEST_PATH));

// Two libraries that both define "compat.Echo" (like two versions of one
// bundle): the later one is unregistered and closed while the earlier stays.
class UnregisterLibraryTest : public RuntimeTest {
 protected:
  void SetUp() override {
    for (const char* path : {TROUPE_COMPAT_MINOR0_PATH, TROUPE_COMPAT_NEWEST_PATH}) {
      absl::StatusOr<std::unique_ptr<loader::PluginLibrary>> lib =
          loader::PluginLibrary::Open(path);
      ASSERT_TRUE(lib.ok()) << lib.status();
      libraries_.push_back(*std::move(lib));
    }
    MakeDeterministic();
    ASSERT_OK(sys().RegisterLibrary(old_table()));
    ASSERT_OK(sys().RegisterLibrary(new_table()));
  }
  void TearDown() override { system_.reset(); }  // before the libraries are closed

  const troupe_plugin_v1_t* old_table() { return &libraries_[0]->plugin(); }
  const troupe_plugin_v1_t* new_table() { return &libraries_[1]->plugin(); }
  static const void* LibraryOf(const ActorRef& ref) { return ref->actor_class()->library(); }

  std::vector<std::unique_ptr<loader::PluginLibrary>> libraries_;
};

TEST_F(UnregisterLibraryTest, IsRefusedWhileAnActorOfTheLibraryLives) {
  CreateOptions options;
  options.library = new_table();
  ActorRef echo = Create("compat.Echo", options);
  sys().RunUntilIdle();
  ASSERT_EQ(sys().LiveActorsOfLibrary(new_table()).size(), 1u);
  EXPECT_EQ(sys().LiveActorsOfLibrary(new_table())[0], echo);
  EXPECT_TRUE(sys().LiveActorsOfLibrary(old_table()).empty());

  absl::Status refused = sys().UnregisterLibrary(new_table());
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(refused.message(), "troupe_compat_newest' still has 1 actors");

  ASSERT_OK(sys().RequestExit(echo));
  sys().RunUntilIdle();
  EXPECT_TRUE(sys().LiveActorsOfLibrary(new_table()).empty());
  EXPECT_OK(sys().UnregisterLibrary(new_table()));
  EXPECT_EQ(sys().UnregisterLibrary(new_table()).code(), absl::StatusCode::kNotFound)
      << "a second unregistration finds nothing";
}

TEST_F(UnregisterLibraryTest, TheShadowedClassNameResolvesToTheEarlierLibraryAgain) {
  ActorRef before = Create("compat.Echo");
  EXPECT_EQ(LibraryOf(before), new_table()) << "the later registration wins by name";
  ASSERT_OK(sys().RequestExit(before));
  sys().RunUntilIdle();
  ASSERT_OK(sys().UnregisterLibrary(new_table()));

  ActorRef after = Create("compat.Echo");
  EXPECT_EQ(LibraryOf(after), old_table());
  ASSERT_OK_AND_ASSIGN(Message reply, sys().Ask(after, Msg("hello", "again"), absl::Seconds(1)));
  EXPECT_EQ(reply.payload(), "again");

  CreateOptions options;
  options.library = new_table();
  EXPECT_EQ(sys().CreateActor("compat.Echo", options).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(UnregisterLibraryTest, StatusOfAnExitedActorSurvivesClosingItsLibrary) {
  CreateOptions options;
  options.library = new_table();
  ActorRef echo = Create("compat.Echo", options);
  ASSERT_OK(sys().RequestExit(echo));
  sys().RunUntilIdle();
  ASSERT_OK(sys().UnregisterLibrary(new_table()));
  libraries_[1].reset();  // dlclose: the class description is gone
  ASSERT_OK_AND_ASSIGN(ActorStatus status, sys().GetActorStatus(echo));
  EXPECT_EQ(status.class_name, "compat.Echo");
  EXPECT_EQ(status.state, "exited");
}

TEST_F(UnregisterLibraryTest, ALibraryCanBeRegisteredAgainAfterUnregistering) {
  ASSERT_OK(sys().UnregisterLibrary(new_table()));
  ASSERT_OK(sys().RegisterLibrary(new_table()));
  CreateOptions options;
  options.library = new_table();
  ActorRef echo = Create("compat.Echo", options);
  ASSERT_OK_AND_ASSIGN(Message reply, sys().Ask(echo, Msg("hi", "x"), absl::Seconds(1)));
  EXPECT_EQ(reply.payload(), "x");
}

}  // namespace
}  // namespace troupe::runtime::testing
