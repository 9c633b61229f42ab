// Tests of an isolated host from the daemon's side: a daemon ActorSystem
// whose local members (LocalMembers) route to IsolatedHosts running the real
// troupe-host program with the examples library, or a scripted stand-in
// that misbehaves. Each waits on futures and inboxes; none sleeps.
#include "daemon/isolation/isolated_host.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "daemon/isolation/library_memfd.h"
#include "daemon/isolation/local_members.h"
#include "daemon/runtime/addresses.h"
#include "daemon/common/strings.h"
#include "tests/common/root_access.h"
#include "tests/runtime/fake_cluster.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::isolation {
namespace {

using runtime::ActorRef;
using runtime::ActorSystem;
using runtime::Message;
using runtime::testing::Fields;
using runtime::testing::Inbox;
using runtime::testing::Msg;

constexpr std::string_view kNode = "127.0.0.1:3001";
constexpr absl::Duration kWait = absl::Seconds(60);

struct Ended {
  std::string reason;
  std::vector<std::string> last_stderr;
};

class IsolatedHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Hosts run as nobody when the tests run as root.
    if (::geteuid() == 0 && !troupe::testing::OthersCanSearchRoot()) {
      GTEST_SKIP() << troupe::testing::kRootNotSearchable;
    }
    system_ = std::make_unique<ActorSystem>(SystemOptions());
    members_ = std::make_unique<LocalMembers>(system_.get());
    system_->SetLocalMembers(members_.get());
    absl::StatusOr<int> examples = SealedMemfdOfFile(TROUPE_EXAMPLES_PATH);
    ASSERT_OK(examples.status());
    library_fd_ = *examples;
    absl::StatusOr<int> faults = SealedMemfdOfFile(TROUPE_TEST_FAULTS_PATH);
    ASSERT_OK(faults.status());
    faults_fd_ = *faults;
  }
  void TearDown() override {
    if (system_ == nullptr) return;  // skipped
    for (auto& host : hosts_) host->Kill();
    hosts_.clear();
    system_->Shutdown();
    system_->SetLocalMembers(nullptr);
    ::close(library_fd_);
    ::close(faults_fd_);
  }
  static runtime::SystemOptions SystemOptions() {
    runtime::SystemOptions options;
    options.worker_threads = 2;
    options.node_name = std::string(kNode);
    options.actor_id_limit = kDaemonIdLimit;
    return options;
  }

  // Spawns `program` (troupe-host by default) running the examples library;
  // its end is reported to the members and the system as troupd will.
  // Confined as troupd confines hosts: reads of the system's libraries only,
  // no writes, nobody when the test runs as root.
  static troupe::v1::HostConfinement Confinement() {
    troupe::v1::HostConfinement confinement;
    confinement.add_read_only_paths("/usr/lib");
    confinement.add_read_only_paths("/etc/ld.so.cache");
    confinement.set_open_files(256);
    return confinement;
  }
  IsolatedHost* Spawn(const std::string& program = TROUPE_HOST_PATH,
                      troupe::v1::HostConfinement confinement = Confinement(),
                      bool faults = false, std::vector<std::string> environment = {}) {
    IsolatedHostOptions options;
    options.program = program;
    options.environment = std::move(environment);
    options.members = members_.get();
    options.name = faults ? "bundle 'faults' version '1.0'" : "bundle 'examples' version '1.0'";
    options.confinement = std::move(confinement);
    std::tie(options.first_actor_id, options.actor_id_limit) = members_->ReserveRange();
    options.libraries.push_back(faults ? HostLibraryFile{"lib/faults.so", faults_fd_, false}
                                       : HostLibraryFile{"lib/examples.so", library_fd_, false});
    options.bundle_hash = "0123abcd";
    options.group = "examples";
    options.version = "1.0";
    options.worker_threads = 2;
    options.handler_timeout = handler_timeout_;
    auto ended = std::make_shared<std::promise<Ended>>();
    ended_.push_back(ended->get_future().share());
    absl::StatusOr<std::unique_ptr<IsolatedHost>> host = IsolatedHost::Spawn(
        system_.get(), std::move(options),
        [this, ended](IsolatedHost* h, const std::string& reason,
                      const std::vector<std::string>& lines) {
          system_->LocalMemberLost(h->options().first_actor_id, h->options().actor_id_limit,
                                   reason);
          ended->set_value(Ended{reason, lines});
        });
    EXPECT_TRUE(host.ok()) << host.status();
    if (!host.ok()) return nullptr;
    hosts_.push_back(*std::move(host));
    return hosts_.back().get();
  }
  Ended WaitForEnd(size_t index = 0) {
    EXPECT_EQ(ended_[index].wait_for(std::chrono::seconds(60)), std::future_status::ready);
    return ended_[index].get();
  }
  absl::StatusOr<std::string> Create(IsolatedHost* host, std::string_view class_name,
                                     const ActorRef& parent = {}) {
    auto created = std::make_shared<std::promise<absl::StatusOr<std::string>>>();
    host->Create(class_name, parent ? system_->FormatAddress(parent.get()) : "",
                 [created](absl::StatusOr<std::string> address) {
                   created->set_value(std::move(address));
                 });
    std::future<absl::StatusOr<std::string>> answer = created->get_future();
    if (answer.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      return absl::DeadlineExceededError("no answer to a create within 60 s");
    }
    return answer.get();
  }
  ActorRef Parse(const std::string& address) {
    absl::StatusOr<ActorRef> ref = system_->ParseAddress(address);
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? *ref : ActorRef();
  }
  std::pair<ActorRef, Inbox*> SpawnInbox(std::string_view name = "inbox") {
    inboxes_.push_back(std::make_unique<Inbox>());
    Inbox* inbox = inboxes_.back().get();
    return {system_->SpawnNative(inbox->Handler(), name), inbox};
  }

  std::deque<std::unique_ptr<Inbox>> inboxes_;
  std::unique_ptr<ActorSystem> system_;
  std::unique_ptr<LocalMembers> members_;
  std::vector<std::unique_ptr<IsolatedHost>> hosts_;
  absl::Duration handler_timeout_ = absl::ZeroDuration();  // for the hosts Spawn starts
  std::vector<std::shared_future<Ended>> ended_;
  int library_fd_ = -1;
  int faults_fd_ = -1;
};

TEST_F(IsolatedHostTest, AnActorInTheHostAnswersAnAskAndHasAnAddressOfThisNodeInItsRange) {
  IsolatedHost* host = Spawn();
  ASSERT_NE(host, nullptr);
  ASSERT_OK_AND_ASSIGN(std::string address, Create(host, "examples.Echo"));
  ASSERT_OK_AND_ASSIGN(runtime::AddressParts parts, runtime::SplitAddress(address));
  EXPECT_EQ(parts.node, kNode);
  EXPECT_GE(parts.id, host->options().first_actor_id);
  EXPECT_LT(parts.id, host->options().actor_id_limit);
  EXPECT_TRUE(host->ready());
  EXPECT_OK(host->WaitReady(absl::ZeroDuration()));
  EXPECT_NE(host->pid(), getpid());
  std::vector<std::string> classes = host->classes();
  EXPECT_NE(std::find(classes.begin(), classes.end(), "examples.Counter"), classes.end());
  ASSERT_OK_AND_ASSIGN(Message reply, system_->Ask(Parse(address), Msg("hello", "42"), kWait));
  EXPECT_EQ(reply.type(), "hello");
  EXPECT_EQ(reply.payload(), "42");
  EXPECT_GT(host->ResidentBytes(), 0u);
}

TEST_F(IsolatedHostTest, TellsFromOneSenderArriveInOrderAndRepliesComeBackToIt) {
  IsolatedHost* host = Spawn();
  ASSERT_OK_AND_ASSIGN(std::string address, Create(host, "examples.Counter"));
  ActorRef counter = Parse(address);
  auto [sender, inbox] = SpawnInbox();
  for (int i = 0; i < 5000; ++i) ASSERT_OK(system_->Tell(counter, Msg("increment"), sender));
  ASSERT_OK(system_->Tell(counter, Msg("get"), sender));
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  EXPECT_EQ(inbox->items()[0].type, "count");
  EXPECT_EQ(inbox->items()[0].payload, "5000");
  EXPECT_EQ(inbox->items()[0].sender.get(), counter.get()) << "the canonical cell of the host actor";
}

TEST_F(IsolatedHostTest, CreateNowGivesTheAddressAtOnceAndMailSentMeanwhileArrivesInOrder) {
  IsolatedHost* host = Spawn();
  auto [parent, inbox] = SpawnInbox("parent");
  ASSERT_OK_AND_ASSIGN(ActorRef counter, host->CreateNow("examples.Counter", parent));
  const std::string address = system_->FormatAddress(counter.get());
  ASSERT_OK_AND_ASSIGN(runtime::AddressParts parts, runtime::SplitAddress(address));
  EXPECT_GE(parts.id, host->options().first_actor_id);
  for (int i = 0; i < 100; ++i) ASSERT_OK(system_->Tell(counter, Msg("increment"), parent));
  ASSERT_OK(system_->Tell(counter, Msg("get"), parent));
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  EXPECT_EQ(inbox->items()[0].payload, "100");
  ASSERT_OK_AND_ASSIGN(runtime::ActorStatus status, system_->GetActorStatus(parent));
  EXPECT_EQ(status.children, std::vector<std::string>{address});
}

TEST_F(IsolatedHostTest, AConstructorThatFailsInTheHostIsReportedToTheParentWithTheError) {
  IsolatedHost* host = Spawn();
  auto [parent, inbox] = SpawnInbox("parent");
  ASSERT_OK_AND_ASSIGN(ActorRef broken, host->CreateNow("examples.BrokenConstructor", parent));
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  EXPECT_EQ(inbox->items()[0].type, TROUPE_MSG_CHILD_EXITED);
  std::vector<std::string> fields = Fields(inbox->items()[0].payload);
  EXPECT_EQ(fields[0], system_->FormatAddress(broken.get()));
  EXPECT_NE(fields[1].find("always fails in its constructor"), std::string::npos) << fields[1];
  EXPECT_FALSE(host->ended());
}

TEST_F(IsolatedHostTest, AClassTheHostDoesNotHaveIsNotFoundOnceItIsReady) {
  IsolatedHost* host = Spawn();
  ASSERT_OK(Create(host, "examples.Echo").status());  // answered after HostReady
  absl::StatusOr<ActorRef> missing = host->CreateNow("examples.Nope", {});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("has no actor class 'examples.Nope'"),
            std::string::npos)
      << missing.status();
}

TEST_F(IsolatedHostTest, ADaemonNameOfAHostActorIsReleasedWhenTheActorExits) {
  IsolatedHost* host = Spawn();
  ASSERT_OK_AND_ASSIGN(ActorRef echo, host->CreateNow("examples.Echo", {}, "echo-service"));
  ASSERT_OK(system_->BindGlobalName("echo-service", echo));
  auto [asker, inbox] = SpawnInbox("asker");
  ASSERT_OK(system_->TellByName("echo-service", Msg("hi", "by name"), asker));
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  EXPECT_EQ(inbox->items()[0].payload, "by name");
  // The host tells the daemon once the actor has exited (it has no parent
  // here to hear of it); the daemon then tells its cluster, as for its own.
  std::promise<std::string> released;
  runtime::testing::FakeCluster cluster;
  cluster.on_name_released = [&released](std::string_view name, std::string_view address) {
    released.set_value(troupe::StrCat(name, " ", address));
  };
  system_->SetCluster(&cluster);
  ASSERT_OK(system_->RequestExit(echo));
  EXPECT_EQ(released.get_future().get(),
            troupe::StrCat("echo-service ", system_->FormatAddress(echo.get())));
  EXPECT_EQ(system_->Lookup("echo-service").status().code(), absl::StatusCode::kNotFound);
  system_->SetCluster(nullptr);
  (void)host;
}

TEST_F(IsolatedHostTest, AnUnknownClassIsNotFoundAndTheHostKeepsServing) {
  IsolatedHost* host = Spawn();
  absl::StatusOr<std::string> missing = Create(host, "examples.NoSuchClass");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  ASSERT_OK_AND_ASSIGN(std::string address, Create(host, "examples.Echo"));
  EXPECT_OK(system_->Ask(Parse(address), Msg("x"), kWait).status());
}

TEST_F(IsolatedHostTest, AKillFromOutsideEndsTheHostAndItsChildrenAreReportedToTheirParents) {
  IsolatedHost* host = Spawn();
  auto [parent, inbox] = SpawnInbox("supervisor");
  ASSERT_OK_AND_ASSIGN(std::string address, Create(host, "examples.Echo", parent));
  ActorRef child = Parse(address);
  ASSERT_OK(system_->AdoptRemoteChild(parent, child));
  ASSERT_EQ(::kill(host->pid(), SIGKILL), 0);
  Ended ended = WaitForEnd();
  EXPECT_EQ(ended.reason, "host process killed by signal 9 (SIGKILL)");
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  EXPECT_EQ(inbox->items()[0].type, TROUPE_MSG_CHILD_EXITED);
  EXPECT_EQ(Fields(inbox->items()[0].payload),
            (std::vector<std::string>{address, "host process killed by signal 9 (SIGKILL)"}));
  // Later messages are undeliverable at once, with the reason, and creates fail.
  std::promise<std::string> undeliverable;
  system_->SetUndeliverableObserver(
      [&undeliverable](runtime::Cell*, std::string_view target, std::string_view reason) {
        undeliverable.set_value(troupe::StrCat(target, ": ", reason));
      });
  ASSERT_OK(system_->Tell(child, Msg("late"), parent));
  EXPECT_EQ(undeliverable.get_future().get(),
            address + ": no running isolated host serves this address");
  system_->SetUndeliverableObserver(nullptr);
  EXPECT_EQ(Create(host, "examples.Echo").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(IsolatedHostTest, AnExitRequestFromTheDaemonReachesTheHostActorAndItsNoticeComesBack) {
  IsolatedHost* host = Spawn();
  auto [parent, inbox] = SpawnInbox("parent");
  ASSERT_OK_AND_ASSIGN(std::string address, Create(host, "examples.Echo", parent));
  ActorRef child = Parse(address);
  ASSERT_OK(system_->AdoptRemoteChild(parent, child));
  ASSERT_OK(system_->RequestExit(child));
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  EXPECT_EQ(inbox->items()[0].type, TROUPE_MSG_CHILD_EXITED);
  EXPECT_EQ(Fields(inbox->items()[0].payload), (std::vector<std::string>{address, ""}));
  EXPECT_FALSE(host->ended());
}

TEST_F(IsolatedHostTest, StopLetsTheActorsExitAndTheirNoticesArriveBeforeTheHostEnds) {
  IsolatedHost* host = Spawn();
  auto [parent, inbox] = SpawnInbox("parent");
  ASSERT_OK_AND_ASSIGN(std::string address, Create(host, "examples.Echo", parent));
  ASSERT_OK(system_->AdoptRemoteChild(parent, Parse(address)));
  host->Stop(absl::Seconds(10));
  Ended ended = WaitForEnd();
  EXPECT_EQ(ended.reason, "host process exited with code 0");
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  EXPECT_EQ(Fields(inbox->items()[0].payload), (std::vector<std::string>{address, ""}))
      << "the real notice, not the host's end";
}

TEST_F(IsolatedHostTest, AHostThatCannotOpenItsLibraryEndsWithItsErrorInTheLastStderrLines) {
  const int not_a_library = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(not_a_library, 0);
  const int library = std::exchange(library_fd_, not_a_library);
  IsolatedHost* host = Spawn();
  ASSERT_NE(host, nullptr);
  std::promise<absl::Status> created;
  host->Create("examples.Echo", "", [&created](absl::StatusOr<std::string> address) {
    created.set_value(address.status());
  });
  absl::Status ready = host->WaitReady(kWait);
  EXPECT_EQ(ready.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(ready.message().find("host process exited with code 1 (it wrote: troupe-host: library"),
            std::string::npos)
      << ready;
  Ended ended = WaitForEnd();
  ::close(library);
  EXPECT_EQ(ended.reason, "host process exited with code 1");
  ASSERT_FALSE(ended.last_stderr.empty());
  EXPECT_NE(ended.last_stderr.back().find("library 'lib/examples.so'"), std::string::npos)
      << ended.last_stderr.back();
  absl::Status status = created.get_future().get();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("host process exited with code 1"), std::string::npos) << status;
}

TEST_F(IsolatedHostTest, AHostThatWritesGarbageIsKilledWithTheReason) {
  Spawn(TROUPE_SCRIPTED_HOST_PATH, Confinement(), false, {"TROUPE_TEST_HOST_MODE=garbage"});
  Ended ended = WaitForEnd();
  EXPECT_NE(ended.reason.find("host process broke its link"), std::string::npos) << ended.reason;
  EXPECT_NE(ended.reason.find("bad frame length"), std::string::npos) << ended.reason;
}

TEST_F(IsolatedHostTest, AHostThatClosesItsLinkButDoesNotExitIsKilledAfterTheGrace) {
  Spawn(TROUPE_SCRIPTED_HOST_PATH, Confinement(), false, {"TROUPE_TEST_HOST_MODE=hangup"});
  Ended ended = WaitForEnd();
  EXPECT_NE(ended.reason.find("closed its link but did not exit within 2s"), std::string::npos)
      << ended.reason;
}

TEST_F(IsolatedHostTest, AHostCannotSpeakForOthersForgeRuntimeMessagesOrReportsFalsely) {
  auto [target, inbox] = SpawnInbox("target");
  std::atomic<int> undeliverable{0};
  system_->SetUndeliverableObserver(
      [&undeliverable](runtime::Cell*, std::string_view, std::string_view) { ++undeliverable; });
  IsolatedHost* host =
      Spawn(TROUPE_SCRIPTED_HOST_PATH, Confinement(), false,
            {"TROUPE_TEST_HOST_MODE=forged",
             troupe::StrCat("TROUPE_TEST_HOST_TARGET=", target->id())});
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
  // Frames are handled in order: had anything before it passed, it would be
  // first, and the forged report would have been counted.
  EXPECT_EQ(inbox->items()[0].type, "genuine");
  EXPECT_EQ(undeliverable.load(), 0);
  EXPECT_EQ(system_->GetStatus().dead_letters, 0u);
  system_->SetUndeliverableObserver(nullptr);
  EXPECT_EQ(system_->FormatAddress(inbox->items()[0].sender.get()),
            troupe::StrCat("troupe://", kNode, "/", host->options().first_actor_id + 7));
  host->Kill();
  WaitForEnd();
  EXPECT_EQ(inbox->size(), 1u);
}

TEST_F(IsolatedHostTest, SpawnRefusesUnusableOptionsAndAMissingProgram) {
  IsolatedHostOptions options;
  options.name = "bundle 'x' version '1'";
  options.program = TROUPE_HOST_PATH;
  options.first_actor_id = kDaemonIdLimit;
  options.actor_id_limit = 2 * kDaemonIdLimit;
  absl::StatusOr<std::unique_ptr<IsolatedHost>> none =
      IsolatedHost::Spawn(system_.get(), options, nullptr);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("no actor library"), std::string::npos);
  options.libraries.push_back({"lib/examples.so", library_fd_, false});
  options.program = "/nonexistent/troupe-host";
  absl::StatusOr<std::unique_ptr<IsolatedHost>> missing =
      IsolatedHost::Spawn(system_.get(), options, nullptr);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/troupe-host"), std::string::npos)
      << missing.status();
  options.program = TROUPE_HOST_PATH;
  options.actor_id_limit = options.first_actor_id;
  EXPECT_EQ(IsolatedHost::Spawn(system_.get(), options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Faults in the bundle's code: the host ends (or the handler fails), the
// daemon and another host go on.

class IsolatedFaultTest : public IsolatedHostTest {
 protected:
  void SetUp() override {
    IsolatedHostTest::SetUp();
    if (IsSkipped()) return;
    bystander_host_ = Spawn();
    ASSERT_NE(bystander_host_, nullptr);
    ASSERT_OK_AND_ASSIGN(bystander_, bystander_host_->CreateNow("examples.Echo", {}));
  }
  IsolatedHost* SpawnFaults(troupe::v1::HostConfinement confinement = Confinement()) {
    return Spawn(TROUPE_HOST_PATH, std::move(confinement), /*faults=*/true);
  }
  // The daemon and the other host still answer.
  void ExpectOthersServe() {
    auto [local, inbox] = SpawnInbox("local");
    ASSERT_OK(system_->Tell(local, Msg("daemon", "serves")));
    EXPECT_TRUE(inbox->WaitForSize(1, kWait)) << "the daemon's own actor answers";
    EXPECT_OK(system_->Ask(bystander_, Msg("still", "there"), kWait).status());
    EXPECT_FALSE(bystander_host_->ended());
  }
  // Sends `type` from a daemon actor to a new probe and returns what came
  // back to the sender (a reply or a PoisonMessage).
  runtime::testing::Received SendToProbe(IsolatedHost* host, std::string_view type,
                                         std::string_view payload = "") {
    auto [sender, inbox] = SpawnInbox("sender");
    absl::StatusOr<ActorRef> probe = host->CreateNow("faults.Probe", {});
    EXPECT_TRUE(probe.ok()) << probe.status();
    EXPECT_OK(system_->Tell(*probe, Msg(type, payload), sender));
    EXPECT_TRUE(inbox->WaitForSize(1, kWait));
    return inbox->items()[0];
  }
  // The host ends with `reason` when `type` reaches a probe; its parent in
  // the daemon hears of it with the reason.
  void ExpectEndsWith(std::string_view type, std::string_view reason) {
    SpawnFaults();
    IsolatedHost* host = hosts_.back().get();
    auto [parent, inbox] = SpawnInbox("supervisor");
    ASSERT_OK_AND_ASSIGN(ActorRef probe, host->CreateNow("faults.Probe", parent));
    ASSERT_OK(system_->Tell(probe, Msg(type)));
    Ended ended = WaitForEnd(1);
    EXPECT_EQ(ended.reason, reason);
    ASSERT_TRUE(inbox->WaitForSize(1, kWait));
    EXPECT_EQ(Fields(inbox->items()[0].payload),
              (std::vector<std::string>{system_->FormatAddress(probe.get()), std::string(reason)}));
    ExpectOthersServe();
  }

  IsolatedHost* bystander_host_ = nullptr;
  ActorRef bystander_;
};

TEST_F(IsolatedFaultTest, AHandlerThatRunsOverTheTimeoutGetsItsHostKilled) {
  handler_timeout_ = absl::Milliseconds(300);
  ExpectEndsWith("loop", "handler ran over 300 ms on message 'loop'; the host was killed");
  EXPECT_NE(hosts_.back()->last_stderr().back().find("a handler has run "), std::string::npos)
      << "the host said so on stderr";
}

TEST_F(IsolatedFaultTest, ASegfaultInAHandlerEndsOnlyItsHost) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizers catch the fault, report it on stderr and exit.
  ExpectEndsWith("segv", "host process exited with code 1");
#elif defined(__SANITIZE_THREAD__)
  ExpectEndsWith("segv", "host process exited with code 66");
#else
  ExpectEndsWith("segv", "host process killed by signal 11 (SIGSEGV)");
#endif
}

TEST_F(IsolatedFaultTest, AnAbortInAHandlerEndsOnlyItsHost) {
  ExpectEndsWith("abort", "host process killed by signal 6 (SIGABRT)");
}

TEST_F(IsolatedFaultTest, AnExitInAHandlerEndsOnlyItsHost) {
  ExpectEndsWith("exit", "host process exited with code 0");
}

TEST_F(IsolatedFaultTest, RefusedSyscallsFailTheHandlerAndTheHostGoesOn) {
  IsolatedHost* host = SpawnFaults();
  for (const auto& [type, error] : std::vector<std::pair<std::string, std::string>>{
           {"socket", "socket: Operation not permitted"},
           {"exec", "execve: Operation not permitted"},
           {"write-tmp", "Operation not permitted"}}) {
    runtime::testing::Received got = SendToProbe(host, type);
    EXPECT_EQ(got.type, TROUPE_MSG_POISON) << type;
    std::vector<std::string> fields = Fields(got.payload);
    ASSERT_EQ(fields.size(), 3u);
    EXPECT_EQ(fields[0], type);
    EXPECT_NE(fields[2].find(error), std::string::npos) << type << ": " << fields[2];
  }
  EXPECT_EQ(SendToProbe(host, "ping", "alive").type, "pong");
  EXPECT_FALSE(host->ended());
  ExpectOthersServe();
}

TEST_F(IsolatedFaultTest, AnAllocationOverTheMemoryLimitFailsTheHandlerOnly) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizers reserve terabytes of address space: RLIMIT_AS cannot apply";
#endif
  troupe::v1::HostConfinement confinement = Confinement();
  confinement.set_memory_bytes(uint64_t{1} << 30);
  IsolatedHost* host = SpawnFaults(confinement);
  runtime::testing::Received got = SendToProbe(host, "alloc", "10000000000");
  EXPECT_EQ(got.type, TROUPE_MSG_POISON);
  EXPECT_NE(Fields(got.payload)[2].find("bad_alloc"), std::string::npos) << got.payload;
  EXPECT_EQ(SendToProbe(host, "alloc", "1000000").type, "allocated");
  EXPECT_FALSE(host->ended());
}

TEST_F(IsolatedFaultTest, AHostThatCannotBeConfinedNeverRunsBundleCode) {
  troupe::v1::HostConfinement confinement = Confinement();
  confinement.add_read_only_paths("/nonexistent/troupe-data");
  SpawnFaults(confinement);
  Ended ended = WaitForEnd(1);
  EXPECT_EQ(ended.reason, "host process exited with code 1");
  ASSERT_FALSE(ended.last_stderr.empty());
  EXPECT_NE(ended.last_stderr.back().find("confinement failed"), std::string::npos)
      << ended.last_stderr.back();
  EXPECT_NE(ended.last_stderr.back().find("/nonexistent/troupe-data"), std::string::npos);
  ExpectOthersServe();
}

TEST_F(IsolatedFaultTest, AHostKilledFromOutsideIsReportedAndOthersServe) {
  ExpectOthersServe();
  ASSERT_EQ(::kill(bystander_host_->pid(), SIGKILL), 0);
  EXPECT_EQ(WaitForEnd(0).reason, "host process killed by signal 9 (SIGKILL)");
  auto [local, inbox] = SpawnInbox("local");
  ASSERT_OK(system_->Tell(local, Msg("daemon", "still serves")));
  ASSERT_TRUE(inbox->WaitForSize(1, kWait));
}

}  // namespace
}  // namespace troupe::isolation
