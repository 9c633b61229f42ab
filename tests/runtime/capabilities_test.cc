// Tests of capabilities in the runtime (capabilities.cc, requirements.cc,
// convention_events.cc): changes and their observer, read-only names, the
// re-check of live actors (CapabilitiesChanged, exit_when_unfit), convention
// update subscriptions; then the same through the C ABI with the plugin
// libraries troupe_compat_caps (minor 2) and troupe_compat_minor1.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/common/strings.h"
#include "daemon/loader/plugin_library.h"
#include "daemon/runtime/requirements.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

constexpr std::string_view kNeedsGpu = R"({"gpu":{"equals":true}})";

// The requirements of an object-form text the runtime understands in full.
Requirements Needs(std::string_view object_json) {
  absl::StatusOr<ActorRequirements> parsed = ParseRequirementsObject(object_json);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  EXPECT_EQ(parsed->opaque, "") << object_json;
  return parsed->conditions;
}

// A C++ class whose actors record every message in `inbox` (after `hook`,
// when set), with an optional capability check and exit_when_unfit.
class CapsClass final : public ActorClass {
 public:
  struct Spec {
    std::string name;
    Inbox* inbox = nullptr;
    bool exit_when_unfit = false;
    std::function<bool(std::string_view caps, std::string_view requirements)> check;
    std::function<void(Cell*, Message&)> hook;
    uint32_t pool_max = 0;
    uint32_t pool_idle = 0;
  };
  explicit CapsClass(Spec spec) : spec_(std::move(spec)) {}

  std::string_view name() const override { return spec_.name; }
  absl::StatusOr<void*> Create(Cell*) const override { return static_cast<void*>(new int(0)); }
  absl::Status Receive(void*, Cell* cell, Message& message) const override {
    if (spec_.hook) spec_.hook(cell, message);
    if (spec_.inbox != nullptr) spec_.inbox->Add(message);
    return absl::OkStatus();
  }
  void Destroy(void* instance) const override { delete static_cast<int*>(instance); }
  uint32_t pool_max_count() const override { return spec_.pool_max; }
  uint32_t pool_idle_count() const override { return spec_.pool_idle; }
  bool has_capability_check() const override { return static_cast<bool>(spec_.check); }
  bool CapabilityCheck(std::string_view caps, std::string_view requirements) const override {
    return !spec_.check || spec_.check(caps, requirements);
  }
  bool exit_when_unfit() const override { return spec_.exit_when_unfit; }

 private:
  Spec spec_;
};

class CapabilitiesTest : public RuntimeTest {
 protected:
  // Registers a CapsClass recording into a fresh inbox; returns the inbox.
  Inbox* RegisterCaps(CapsClass::Spec spec) {
    if (spec.inbox == nullptr) spec.inbox = NewInbox();
    Inbox* inbox = spec.inbox;
    absl::Status s = sys().RegisterClass(std::make_unique<CapsClass>(std::move(spec)));
    EXPECT_TRUE(s.ok()) << s;
    return inbox;
  }
  ActorRef CreateWith(std::string_view class_name, std::string_view requirements) {
    CreateOptions options;
    options.requirements = Needs(requirements);
    return Create(class_name, options);
  }
  bool Update(std::string_view name, std::string_view value) {
    absl::StatusOr<bool> changed = sys().UpdateCapability(name, value);
    EXPECT_TRUE(changed.ok()) << changed.status();
    return changed.ok() && *changed;
  }
};

TEST_F(CapabilitiesTest, TheSameValueAgainOrRemovingAnAbsentNameChangesNothing) {
  MakeDeterministic();
  std::vector<std::string> observed;
  cluster_.on_capabilities_changed = [&](const std::string& json) { observed.push_back(json); };
  AttachCluster();
  Inbox* inbox = RegisterCaps({.name = "gpu.user"});
  EXPECT_TRUE(Update("gpu", "true"));
  EXPECT_TRUE(Update("memory_gb", "4"));
  ActorRef actor = CreateWith("gpu.user", kNeedsGpu);
  sys().RunUntilIdle();

  EXPECT_TRUE(Update("gpu", " false "));  // now unfit: told once
  sys().RunUntilIdle();
  ASSERT_EQ(inbox->OfType(TROUPE_MSG_CAPABILITIES_CHANGED).size(), 1u);
  ASSERT_EQ(observed.size(), 3u);

  EXPECT_FALSE(Update("gpu", "false"));
  EXPECT_FALSE(Update("memory_gb", "4.0")) << "equal by meaning";
  EXPECT_FALSE(Update("absent", ""));
  sys().RunUntilIdle();
  EXPECT_EQ(inbox->OfType(TROUPE_MSG_CAPABILITIES_CHANGED).size(), 1u)
      << "no change, no second notice";
  EXPECT_EQ(observed.size(), 3u) << "no change, no observer call";
  EXPECT_EQ(sys().CapabilitiesJson(), R"({"gpu":false,"memory_gb":4})");
}

TEST_F(CapabilitiesTest, TheObserverSeesEachRealChangeInOrderUntilCleared) {
  MakeDeterministic();
  std::vector<std::string> observed;
  cluster_.on_capabilities_changed = [&](const std::string& json) { observed.push_back(json); };
  AttachCluster();
  EXPECT_TRUE(Update("zone", R"("eu")"));
  EXPECT_TRUE(Update("list", R"([1, 2,  "x"])"));
  EXPECT_TRUE(Update("zone", ""));
  EXPECT_EQ(observed, (std::vector<std::string>{R"({"zone":"eu"})",
                                                R"({"zone":"eu","list":[1,2,"x"]})",
                                                R"({"list":[1,2,"x"]})"}));
  sys().SetCluster(nullptr);
  EXPECT_TRUE(Update("zone", R"("us")"));
  EXPECT_EQ(observed.size(), 3u);
}

TEST_F(CapabilitiesTest, BadNamesAndValuesAreRefused) {
  MakeDeterministic();
  EXPECT_EQ(sys().UpdateCapability("", "1").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<bool> bad = sys().UpdateCapability("zone", "eu");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(bad.status().message(), "value of capability 'zone' is not valid JSON");
  EXPECT_EQ(sys().CapabilitiesJson(), "{}");
}

TEST_F(CapabilitiesTest, ADeeplyNestedValueIsRefusedNotRecursedInto) {
  MakeDeterministic();
  // Printing or comparing a million nested arrays would overflow the stack.
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  absl::StatusOr<bool> bad = sys().UpdateCapability("zone", deep);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(bad.status().message(), "nested more than 64 deep");
  EXPECT_EQ(sys().CapabilitiesJson(), "{}");
}

TEST_F(CapabilitiesTest, ReadOnlyNamesRefuseUpdatesButTheDaemonMayChangeThem) {
  MakeDeterministic();
  ASSERT_OK(sys().SetReadOnlyCapability("troupe.cores", "8"));
  absl::StatusOr<bool> refused = sys().UpdateCapability("troupe.cores", "4");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(), "capability 'troupe.cores' is read-only");
  EXPECT_EQ(sys().UpdateCapability("troupe.cores", "").status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "nor removed";
  EXPECT_EQ(sys().CapabilitiesJson(), R"({"troupe.cores":8})");
  EXPECT_EQ(sys().ReadOnlyCapabilities(), std::vector<std::string>{"troupe.cores"});

  ASSERT_OK_AND_ASSIGN(bool changed, sys().SetReadOnlyCapability("troupe.cores", "16"));
  EXPECT_TRUE(changed);
  EXPECT_EQ(sys().CapabilitiesJson(), R"({"troupe.cores":16})");
  ASSERT_OK(sys().SetReadOnlyCapability("troupe.cores", ""));  // gone, and settable again
  EXPECT_TRUE(sys().ReadOnlyCapabilities().empty());
  EXPECT_TRUE(Update("troupe.cores", "2"));
}

TEST_F(CapabilitiesTest, ACreateIsRefusedWhereItsRequirementsDoNotHold) {
  MakeDeterministic();
  RegisterCaps({.name = "gpu.user"});
  absl::StatusOr<ActorRef> refused =
      sys().CreateActor("gpu.user", {.requirements = Needs(kNeedsGpu)});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(refused.status().message(),
                  "actor class 'gpu.user' cannot run on this node: requirement 'gpu equals true' "
                  "does not hold (this node's capabilities: {})");
  EXPECT_TRUE(Update("gpu", "true"));
  EXPECT_OK(sys().CreateActor("gpu.user", {.requirements = Needs(kNeedsGpu)}));
}

TEST_F(CapabilitiesTest, OnlyActorsWhoseRequirementsNoLongerHoldAreToldAndWhy) {
  MakeDeterministic();
  EXPECT_TRUE(Update("gpu", "true"));
  EXPECT_TRUE(Update("memory_gb", "8"));
  Inbox* gpu_inbox = RegisterCaps({.name = "gpu.user"});
  Inbox* memory_inbox = RegisterCaps({.name = "memory.user"});
  Inbox* plain_inbox = RegisterCaps({.name = "plain"});
  ActorRef gpu = CreateWith("gpu.user", kNeedsGpu);
  ActorRef memory = CreateWith("memory.user", R"({"memory_gb":{"at_least":4}})");
  ActorRef plain = Create("plain");
  sys().RunUntilIdle();

  EXPECT_TRUE(Update("gpu", "false"));
  sys().RunUntilIdle();
  std::vector<Received> told = gpu_inbox->OfType(TROUPE_MSG_CAPABILITIES_CHANGED);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(Fields(told[0].payload),
            (std::vector<std::string>{R"({"gpu":false,"memory_gb":8})",
                                      "requirement 'gpu equals true' does not hold"}));
  EXPECT_FALSE(told[0].sender) << "the runtime sends it";
  EXPECT_EQ(memory_inbox->size(), 0u);
  EXPECT_EQ(plain_inbox->size(), 0u);
  EXPECT_EQ(StateOf(gpu), "running") << "its class does not ask to exit";

  EXPECT_TRUE(Update("memory_gb", "2"));  // a later change: every unfit actor hears again
  sys().RunUntilIdle();
  EXPECT_EQ(gpu_inbox->OfType(TROUPE_MSG_CAPABILITIES_CHANGED).size(), 2u);
  told = memory_inbox->OfType(TROUPE_MSG_CAPABILITIES_CHANGED);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(Fields(told[0].payload)[1], "requirement 'memory_gb at_least 4' does not hold");
  EXPECT_EQ(plain_inbox->size(), 0u);
  EXPECT_EQ(sys().GetStatus().dead_letters, 0u);
}

TEST_F(CapabilitiesTest, TheClassCapabilityCheckIsAskedAgain) {
  MakeDeterministic();
  EXPECT_TRUE(Update("zone", R"("eu")"));
  std::vector<std::pair<std::string, std::string>> asked;
  Inbox* inbox = RegisterCaps(
      {.name = "eu.only", .check = [&](std::string_view caps, std::string_view requirements) {
         asked.emplace_back(caps, requirements);
         return caps.find(R"("zone":"eu")") != std::string_view::npos;
       }});
  ActorRef actor = Create("eu.only");
  sys().RunUntilIdle();
  EXPECT_TRUE(Update("zone", R"("us")"));
  sys().RunUntilIdle();
  ASSERT_EQ(asked.size(), 2u) << "at create and after the change";
  EXPECT_EQ(asked[1], (std::pair<std::string, std::string>{R"({"zone":"us"})", "{}"}));
  std::vector<Received> told = inbox->OfType(TROUPE_MSG_CAPABILITIES_CHANGED);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(Fields(told[0].payload)[1],
            "the capability check of actor class 'eu.only' refuses these capabilities");
}

TEST_F(CapabilitiesTest, AnExitWhenUnfitClassExitsAfterTheNoticeAndOthersKeepRunning) {
  MakeDeterministic();
  EXPECT_TRUE(Update("gpu", "true"));
  auto [parent_ref, parent_inbox] = SpawnInbox("parent");
  Inbox* leaver_inbox = RegisterCaps({.name = "leaver", .exit_when_unfit = true});
  Inbox* stayer_inbox = RegisterCaps({.name = "stayer"});
  CreateOptions options{.requirements = Needs(kNeedsGpu), .parent = parent_ref};
  ActorRef leaver = Create("leaver", options);
  ActorRef stayer = Create("stayer", options);
  sys().RunUntilIdle();

  EXPECT_TRUE(Update("gpu", "false"));
  sys().RunUntilIdle();
  std::vector<Received> seen = leaver_inbox->items();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type, TROUPE_MSG_CAPABILITIES_CHANGED);
  EXPECT_EQ(seen[1].type, TROUPE_MSG_EXIT_REQUEST) << "told first, then asked to exit";
  EXPECT_EQ(StateOf(leaver), "exited");
  std::vector<Received> exited = parent_inbox->OfType(TROUPE_MSG_CHILD_EXITED);
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(Fields(exited[0].payload), (std::vector<std::string>{Addr(leaver), ""}));

  ASSERT_EQ(stayer_inbox->OfType(TROUPE_MSG_CAPABILITIES_CHANGED).size(), 1u);
  EXPECT_EQ(StateOf(stayer), "running");
  ASSERT_OK(sys().Tell(stayer, Msg("still there?")));
  sys().RunUntilIdle();
  EXPECT_EQ(stayer_inbox->OfType("still there?").size(), 1u);
}

TEST_F(CapabilitiesTest, AnActorWhoseOwnChangeMakesItUnfitIsTreatedTheSame) {
  MakeDeterministic();
  EXPECT_TRUE(Update("gpu", "true"));
  absl::StatusOr<bool> own_change;
  Inbox* inbox = RegisterCaps({.name = "self.remover",
                               .exit_when_unfit = true,
                               .hook = [&](Cell* self, Message& m) {
                                 if (m.type() == "drop gpu") {
                                   own_change = self->system()->UpdateCapability("gpu", "");
                                 }
                               }});
  ActorRef actor = CreateWith("self.remover", kNeedsGpu);
  ASSERT_OK(sys().Tell(actor, Msg("drop gpu")));
  sys().RunUntilIdle();
  ASSERT_OK(own_change);
  EXPECT_TRUE(*own_change);
  std::vector<Received> seen = inbox->items();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].type, "drop gpu");
  EXPECT_EQ(seen[1].type, TROUPE_MSG_CAPABILITIES_CHANGED) << "after the handler that changed it";
  EXPECT_EQ(Fields(seen[1].payload)[1], "requirement 'gpu equals true' does not hold");
  EXPECT_EQ(seen[2].type, TROUPE_MSG_EXIT_REQUEST);
  EXPECT_EQ(StateOf(actor), "exited");
}

TEST_F(CapabilitiesTest, APoolsMembersAreToldAndAnExitWhenUnfitPoolExitsWhole) {
  MakeDeterministic();
  EXPECT_TRUE(Update("gpu", "true"));
  Inbox* inbox = RegisterCaps(
      {.name = "gpu.pool", .exit_when_unfit = true, .pool_max = 3, .pool_idle = 2});
  ActorRef pool = CreateWith("gpu.pool", kNeedsGpu);
  sys().RunUntilIdle();
  ASSERT_OK_AND_ASSIGN(ActorStatus status, sys().GetActorStatus(pool));
  ASSERT_EQ(status.children.size(), 2u);
  std::vector<ActorRef> members;
  for (const std::string& member : status.children) {
    ASSERT_OK_AND_ASSIGN(ActorRef ref, sys().ParseAddress(member));
    members.push_back(ref);
  }

  EXPECT_TRUE(Update("gpu", "false"));
  sys().RunUntilIdle();
  std::vector<Received> told = inbox->OfType(TROUPE_MSG_CAPABILITIES_CHANGED);
  ASSERT_EQ(told.size(), 2u) << "one per member (the manager is not an instance of the class)";
  EXPECT_EQ(StateOf(pool), "exited");
  for (const ActorRef& member : members) EXPECT_EQ(StateOf(member), "exited");
}

// ---------------------------------------------------------------------------
// Convention update subscriptions

using Members = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string> Updates(const Inbox& inbox) {
  std::vector<std::string> out;
  for (const Received& r : inbox.OfType(TROUPE_MSG_CONVENTION_UPDATE)) {
    std::vector<std::string> f = Fields(r.payload);
    if (f.size() == 3) out.push_back(f[2] + " " + f[0] + " " + f[1]);
  }
  return out;
}

TEST_F(CapabilitiesTest, ANewSubscriberGetsOneJoinedPerMemberThenEachUpdate) {
  MakeDeterministic();
  cluster_.on_members = [] {
    return Members{{"a.example:1900", R"({"zone":"eu"})"}, {"b.example:1900", "{}"}};
  };
  AttachCluster();
  auto [subscriber, inbox] = SpawnInbox("watcher");
  ASSERT_OK(sys().SubscribeConventionUpdates(subscriber, true));
  sys().RunUntilIdle();
  EXPECT_EQ(Updates(*inbox), (std::vector<std::string>{R"(joined a.example:1900 {"zone":"eu"})",
                                                       "joined b.example:1900 {}"}));
  sys().PublishConventionUpdate("b.example:1900", "{}", "left");
  sys().PublishConventionUpdate("a.example:1900", R"({"zone":"us"})", "capabilities");
  sys().RunUntilIdle();
  EXPECT_EQ(Updates(*inbox),
            (std::vector<std::string>{R"(joined a.example:1900 {"zone":"eu"})",
                                      "joined b.example:1900 {}", "left b.example:1900 {}",
                                      R"(capabilities a.example:1900 {"zone":"us"})"}));
  EXPECT_FALSE(inbox->items()[0].sender);
}

TEST_F(CapabilitiesTest, SubscribingAgainGivesNoDuplicatesAndDisablingEndsIt) {
  MakeDeterministic();
  cluster_.on_members = [] { return Members{{"a:1", "{}"}}; };
  AttachCluster();
  auto [subscriber, inbox] = SpawnInbox("watcher");
  ASSERT_OK(sys().SubscribeConventionUpdates(subscriber, true));
  ASSERT_OK(sys().SubscribeConventionUpdates(subscriber, true));
  sys().PublishConventionUpdate("c:1", "{}", "joined");
  sys().RunUntilIdle();
  EXPECT_EQ(Updates(*inbox), (std::vector<std::string>{"joined a:1 {}", "joined c:1 {}"}));

  ASSERT_OK(sys().SubscribeConventionUpdates(subscriber, false));
  ASSERT_OK(sys().SubscribeConventionUpdates(subscriber, false));
  sys().PublishConventionUpdate("c:1", "{}", "left");
  sys().RunUntilIdle();
  EXPECT_EQ(inbox->size(), 2u);
}

TEST_F(CapabilitiesTest, AnUpdatePublishedWhileTheSnapshotIsTakenArrivesAfterTheJoinedOnes) {
  MakeDeterministic();
  auto [other, other_inbox] = SpawnInbox("earlier");
  ASSERT_OK(sys().SubscribeConventionUpdates(other, true));
  cluster_.on_members = [this] {
    // As if the convention code published on another thread right now.
    sys().PublishConventionUpdate("b:1", "{}", "joined");
    return Members{{"a:1", "{}"}};
  };
  AttachCluster();
  auto [subscriber, inbox] = SpawnInbox("watcher");
  ASSERT_OK(sys().SubscribeConventionUpdates(subscriber, true));
  sys().RunUntilIdle();
  EXPECT_EQ(Updates(*inbox), (std::vector<std::string>{"joined a:1 {}", "joined b:1 {}"}));
  EXPECT_EQ(Updates(*other_inbox), std::vector<std::string>{"joined b:1 {}"})
      << "the earlier subscriber got it at once (and no snapshot: it subscribed before one "
         "was set)";
}

TEST_F(CapabilitiesTest, AnExitedSubscriberGetsNothingAndMakesNoDeadLetter) {
  MakeDeterministic();
  auto [subscriber, inbox] = SpawnInbox("watcher");
  auto [dead_letters, dead_inbox] = SpawnInbox("dead letters");
  ASSERT_OK(sys().SetDeadLetterHandler(dead_letters));
  ASSERT_OK(sys().SubscribeConventionUpdates(subscriber, true));
  ASSERT_OK(sys().RequestExit(subscriber));
  sys().RunUntilIdle();
  ASSERT_EQ(StateOf(subscriber), "exited");
  sys().PublishConventionUpdate("a:1", "{}", "joined");
  sys().RunUntilIdle();
  EXPECT_TRUE(Updates(*inbox).empty());
  EXPECT_EQ(sys().GetStatus().dead_letters, 0u);
  EXPECT_EQ(dead_inbox->size(), 0u);

  absl::Status late = sys().SubscribeConventionUpdates(subscriber, true);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(late.message(), "is not a live actor");
}

TEST_F(CapabilitiesTest, UnknownEventsAreNotSentAndSystemTypesCannotBeForged) {
  MakeDeterministic();
  auto [subscriber, inbox] = SpawnInbox("watcher");
  ASSERT_OK(sys().SubscribeConventionUpdates(subscriber, true));
  sys().PublishConventionUpdate("a:1", "{}", "exploded");
  sys().RunUntilIdle();
  EXPECT_EQ(inbox->size(), 0u);
  for (std::string_view type : {TROUPE_MSG_CONVENTION_UPDATE, TROUPE_MSG_CAPABILITIES_CHANGED}) {
    EXPECT_EQ(sys().Tell(subscriber, Msg(type)).code(), absl::StatusCode::kInvalidArgument)
        << type;
  }
}

// Real threads (for ThreadSanitizer): changes from several threads while a
// subscriber gets updates published from others.
TEST_F(CapabilitiesTest, ConcurrentChangesAndUpdatesAreAllDeliveredInOrderOfTheirChange) {
  MakeThreaded(4);
  std::vector<std::string> observed;  // under caps' change lock: the observer is serialized
  cluster_.on_capabilities_changed = [&](const std::string& json) { observed.push_back(json); };
  AttachCluster();
  Inbox* unfit_inbox = RegisterCaps({.name = "gpu.user"});
  EXPECT_TRUE(Update("gpu", "true"));
  ActorRef user = CreateWith("gpu.user", kNeedsGpu);
  cluster_.on_members = [] { return Members{{"a:1", "{}"}}; };
  AttachCluster();
  auto [subscriber, inbox] = SpawnInbox("watcher");
  ASSERT_OK(sys().SubscribeConventionUpdates(subscriber, true));

  constexpr int kThreads = 4, kChanges = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 1; i <= kChanges; ++i) {
        absl::StatusOr<bool> changed =
            sys().UpdateCapability(troupe::StrCat("k", t), std::to_string(i));
        EXPECT_TRUE(changed.ok() && *changed);
        sys().PublishConventionUpdate(troupe::StrCat("n", t, ":1"), "{}", "capabilities");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(Update("gpu", "false"));
  ASSERT_TRUE(inbox->WaitForSize(1 + kThreads * kChanges));
  ASSERT_TRUE(unfit_inbox->WaitForSize(1));
  EXPECT_EQ(observed.size(), 2u + kThreads * kChanges);
  EXPECT_EQ(observed.back(), sys().CapabilitiesJson());
  EXPECT_EQ(Updates(*inbox).front(), "joined a:1 {}");
  sys().Shutdown();
}

// ---------------------------------------------------------------------------
// Through the C ABI

class CapabilitiesPluginTest : public CapabilitiesTest {
 protected:
  void SetUp() override {
    for (const char* path : {TROUPE_COMPAT_CAPS_PATH, TROUPE_COMPAT_MINOR1_PATH}) {
      absl::StatusOr<std::unique_ptr<loader::PluginLibrary>> lib =
          loader::PluginLibrary::Open(path);
      ASSERT_TRUE(lib.ok()) << lib.status();
      libraries_.push_back(*std::move(lib));
    }
    MakeDeterministic();
    for (const auto& library : libraries_) ASSERT_OK(sys().RegisterLibrary(&library->plugin()));
  }
  void TearDown() override { system_.reset(); }  // before the libraries are closed

  // Creates `class_name` (with requirements) reporting to a fresh inbox.
  std::pair<ActorRef, Inbox*> Reporting(std::string_view class_name,
                                        std::string_view requirements = "") {
    auto [client, inbox] = SpawnInbox("client");
    ActorRef actor = CreateWith(class_name, requirements);
    EXPECT_OK(sys().Tell(actor, Msg("report_to"), client));
    sys().RunUntilIdle();
    EXPECT_EQ(inbox->OfType("ready").size(), 1u);
    return {actor, inbox};
  }

  std::vector<std::unique_ptr<loader::PluginLibrary>> libraries_;
};

TEST_F(CapabilitiesPluginTest, AMinorTwoClassWithExitWhenUnfitIsToldThenExits) {
  ASSERT_EQ(libraries_[0]->abi_minor(), 2u);
  EXPECT_TRUE(Update("gpu", "true"));
  auto [leaver, leaver_inbox] = Reporting("caps.Leaver", kNeedsGpu);
  auto [stayer, stayer_inbox] = Reporting("caps.Stayer", kNeedsGpu);
  EXPECT_TRUE(leaver->actor_class()->exit_when_unfit());
  EXPECT_FALSE(stayer->actor_class()->exit_when_unfit());

  EXPECT_TRUE(Update("gpu", "false"));
  sys().RunUntilIdle();
  for (Inbox* inbox : {leaver_inbox, stayer_inbox}) {
    std::vector<Received> unfit = inbox->OfType("unfit");
    ASSERT_EQ(unfit.size(), 1u);
    EXPECT_EQ(unfit[0].payload, "requirement 'gpu equals true' does not hold");
  }
  EXPECT_EQ(StateOf(leaver), "exited");
  EXPECT_EQ(StateOf(stayer), "running");
}

TEST_F(CapabilitiesPluginTest, APluginActorThatDropsItsOwnRequirementExits) {
  EXPECT_TRUE(Update("gpu", "true"));
  auto [leaver, inbox] = Reporting("caps.Leaver", kNeedsGpu);
  ASSERT_OK(sys().Tell(leaver, Msg("drop", "gpu")));
  sys().RunUntilIdle();
  ASSERT_EQ(inbox->OfType("unfit").size(), 1u);
  EXPECT_EQ(StateOf(leaver), "exited");
  EXPECT_EQ(sys().CapabilitiesJson(), "{}");
}

TEST_F(CapabilitiesPluginTest, AReadOnlyCapabilityCannotBeSetByAnActor) {
  ASSERT_OK(sys().SetReadOnlyCapability("troupe.cores", "8"));
  auto [actor, inbox] = Reporting("caps.Stayer");
  ASSERT_OK(sys().Tell(actor, Msg("set", "troupe.cores 4")));
  ASSERT_OK(sys().Tell(actor, Msg("set", "zone \"eu\"")));
  sys().RunUntilIdle();
  std::vector<Received> refused = inbox->OfType("refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_CONTAINS(refused[0].payload, "update_capability('troupe.cores') failed: FAILED_PRECONDITION");
  EXPECT_EQ(sys().CapabilitiesJson(), R"({"troupe.cores":8,"zone":"eu"})");
}

TEST_F(CapabilitiesPluginTest, NotifyOnConventionChangesWorksThroughTheHostTable) {
  cluster_.on_members = [] { return Members{{"a:1", "{}"}, {"b:1", "{}"}}; };
  AttachCluster();
  auto [watcher, inbox] = Reporting("caps.Watcher");
  ASSERT_OK(sys().Tell(watcher, Msg("watch")));
  ASSERT_OK(sys().Tell(watcher, Msg("watch")));  // again: no second round
  sys().RunUntilIdle();
  sys().PublishConventionUpdate("b:1", "{}", "left");
  sys().RunUntilIdle();
  auto payloads = [&] {
    std::vector<std::string> out;
    for (const Received& r : inbox->OfType("update")) out.push_back(r.payload);
    return out;
  };
  EXPECT_EQ(payloads(), (std::vector<std::string>{"joined a:1", "joined b:1", "left b:1"}));
  ASSERT_OK(sys().Tell(watcher, Msg("unwatch")));
  sys().RunUntilIdle();
  sys().PublishConventionUpdate("c:1", "{}", "joined");
  sys().RunUntilIdle();
  EXPECT_EQ(payloads().size(), 3u);
}

TEST_F(CapabilitiesPluginTest, AMinorOneLibraryLoadsIsToldAndNeverReadsExitWhenUnfit) {
  ASSERT_EQ(libraries_[1]->abi_minor(), 1u);
  EXPECT_TRUE(Update("gpu", "true"));
  CreateOptions options{.requirements = Needs(kNeedsGpu),
                        .library = &libraries_[1]->plugin()};
  ActorRef echo = Create("compat.Echo", options);
  EXPECT_FALSE(echo->actor_class()->exit_when_unfit());
  EXPECT_TRUE(Update("gpu", "false"));
  sys().RunUntilIdle();
  EXPECT_EQ(StateOf(echo), "running") << "only told (echo has no sender to answer it to)";
  ASSERT_OK_AND_ASSIGN(Message reply, sys().Ask(echo, Msg("hello", "old"), absl::Seconds(1)));
  EXPECT_EQ(reply.payload(), "old");
}

// A plugin's create_actor text: parsed once at the C ABI edge; the runtime
// checks what it understands and the class's own check gets the text as
// written, at creation and after changes.
TEST_F(CapabilitiesTest, APluginsTextReachesTheClassCheckAsWritten) {
  MakeDeterministic();
  EXPECT_TRUE(Update("gpu", "true"));
  std::vector<std::string> seen;
  Inbox* inbox =
      RegisterCaps({.name = "gpu.user", .check = [&](std::string_view, std::string_view requirements) {
                      seen.emplace_back(requirements);
                      return true;
                    }});
  const std::string text = R"({"gpu": {"equals": true, "near": 1}, "zone": "eu"})";
  std::optional<absl::StatusOr<ActorRef>> child;
  ActorRef parent = sys().SpawnNative([&](Cell* self, Message& m) {
    if (m.type() != "spawn") return;  // e.g. the exit request at shutdown
    absl::StatusOr<ActorRequirements> requirements = ParseRequirementsObject(text);
    ASSERT_TRUE(requirements.ok()) << requirements.status();
    child = self->system()->CreateChild(self, "gpu.user", *requirements, "");
  });
  ASSERT_OK(sys().Tell(parent, Msg("spawn")));
  sys().RunUntilIdle();
  ASSERT_TRUE(child.has_value());
  ASSERT_OK(*child);
  EXPECT_EQ(seen, (std::vector<std::string>{text}));
  EXPECT_TRUE(Update("gpu", "false"));  // the runtime refuses first: the class is not asked
  sys().RunUntilIdle();
  std::vector<Received> told = inbox->OfType(TROUPE_MSG_CAPABILITIES_CHANGED);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(Fields(told[0].payload)[1], "requirement 'gpu equals true' does not hold");
  EXPECT_TRUE(Update("gpu", "true"));
  sys().RunUntilIdle();
  EXPECT_EQ(seen, (std::vector<std::string>{text, text}));
  EXPECT_EQ(StateOf(**child), "running");
}

}  // namespace
}  // namespace troupe::runtime::testing
