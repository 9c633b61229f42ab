// Tests of BundleHost with a threaded actor system and real signed bundles:
// loading, activation and names, AutoUnload (drain vs keep loaded),
// unloading and reactivation, failing loads, restarts and their limit,
// persistence and Restore (bundles that fail to restore are kept), roles,
// creating actors by group (with requirements), and shutdown.
//
// The lifecycle/drained bundles (tests/testdata/bundles/lifecycle) report
// every action they handle to the actor named "hosting_test.observer", which
// the fixture binds to an EventLog; the waits below are on condition
// variables, never sleeps.
#include "daemon/hosting/bundle_host.h"

#include <zip.h>

#include <signal.h>

#include <algorithm>
#include <cerrno>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/bundle/keys.h"
#include "daemon/common/logging.h"
#include "daemon/hosting/crash_record.h"
#include "daemon/hosting/loaded_state.h"
#include "daemon/runtime/actor_class.h"
#include "daemon/runtime/actor_system.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::hosting {
namespace {

namespace fs = std::filesystem;
using runtime::ActorRef;
using runtime::ActorSystem;
using runtime::Cell;
using runtime::Message;

constexpr absl::Duration kWait = absl::Seconds(20);

// Lines received (observer events, log lines); waits for them. Thread-safe.
class Recorder {
 public:
  void Add(std::string line) {
    troupe::MutexLock lock(&mu_);
    lines_.push_back(std::move(line));
    cv_.SignalAll();
  }
  // Waits until `count` lines contain `part`; false on timeout.
  bool WaitFor(std::string_view part, size_t count = 1) const {
    const absl::Time deadline = absl::Now() + kWait;
    troupe::MutexLock lock(&mu_);
    while (CountLocked(part) < count) {
      if (cv_.WaitWithDeadline(&mu_, deadline)) return CountLocked(part) >= count;
    }
    return true;
  }
  size_t Count(std::string_view part) const {
    troupe::MutexLock lock(&mu_);
    return CountLocked(part);
  }
  // The position of the first line containing `part`, or -1.
  int IndexOf(std::string_view part) const {
    troupe::MutexLock lock(&mu_);
    for (size_t i = 0; i < lines_.size(); ++i) {
      if (lines_[i].find(part) != std::string::npos) return static_cast<int>(i);
    }
    return -1;
  }
  std::string Dump() const {
    troupe::MutexLock lock(&mu_);
    std::string out;
    for (const std::string& line : lines_) out += "  " + line + "\n";
    return out;
  }

 private:
  size_t CountLocked(std::string_view part) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t n = 0;
    for (const std::string& line : lines_) n += line.find(part) != std::string::npos ? 1 : 0;
    return n;
  }

  mutable troupe::Mutex mu_;
  mutable troupe::CondVar cv_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Lifecycle(std::string_view group, std::string_view version) {
  return std::string(TROUPE_LIFECYCLE_BUNDLE_DIR) + "/" + std::string(group) + "-" +
         std::string(version) + ".troupe";
}

// `bytes` (a zip) with one byte of the entry `name` changed, re-zipped.
std::string TamperWithEntry(const std::string& bytes, const std::string& name) {
  struct Entry {
    std::string name;
    std::string content;
  };
  std::vector<Entry> entries;
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, nullptr);
  zip_t* in = zip_open_from_source(src, ZIP_RDONLY, nullptr);
  EXPECT_NE(in, nullptr);
  for (zip_int64_t i = 0; i < zip_get_num_entries(in, 0); ++i) {
    Entry e;
    e.name = zip_get_name(in, i, 0);
    zip_stat_t st;
    zip_stat_index(in, i, 0, &st);
    e.content.resize(st.size);
    zip_file_t* f = zip_fopen_index(in, i, 0);
    EXPECT_EQ(zip_fread(f, e.content.data(), st.size), static_cast<zip_int64_t>(st.size));
    zip_fclose(f);
    if (e.name == name) e.content[e.content.size() / 2] ^= 0x01;
    entries.push_back(std::move(e));
  }
  zip_discard(in);

  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_source_keep(out);
  zip_t* za = zip_open_from_source(out, ZIP_TRUNCATE, &error);
  EXPECT_NE(za, nullptr);
  for (const Entry& e : entries) {
    zip_source_t* data = zip_source_buffer(za, e.content.data(), e.content.size(), 0);
    zip_int64_t index = zip_file_add(za, e.name.c_str(), data, 0);
    EXPECT_GE(index, 0) << e.name;
    zip_file_set_external_attributes(za, static_cast<zip_uint64_t>(index), 0, ZIP_OPSYS_UNIX,
                                     0100644u << 16);
  }
  EXPECT_EQ(zip_close(za), 0);
  zip_stat_t st;
  zip_source_open(out);
  zip_source_stat(out, &st);
  std::string result(st.size, '\0');
  EXPECT_EQ(zip_source_read(out, result.data(), result.size()), static_cast<zip_int64_t>(st.size));
  zip_source_close(out);
  zip_source_free(out);
  return result;
}

class BundleHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSinkForTest([this](LogLevel, std::string_view text) { log_.Add(std::string(text)); });
    bundle::TrustStore trust(dir_ + "/keys/trusted");
    ASSERT_OK(trust.Trust(TROUPE_BUILD_PUBLIC_KEY));
    system_ = std::make_unique<ActorSystem>(
        runtime::SystemOptions{.worker_threads = 2, .clock = &clock_});
    observer_ = system_->SpawnNative(
        [this](Cell*, Message& m) {
          if (m.type() == "life.event") events_.Add(std::string(m.payload()));
        },
        "observer");
    ASSERT_OK(system_->BindGlobalName("hosting_test.observer", observer_));
  }
  void TearDown() override {
    host_.reset();
    system_->Shutdown();
    system_.reset();
    SetLogSinkForTest(nullptr);
    if (HasFailure()) std::fprintf(stderr, "log:\n%s", log_.Dump().c_str());
  }

  HostOptions Options() {
    HostOptions options;
    options.troupe_dir = dir_;
    options.clock = &clock_;
    options.drain_timeout = kWait;
    options.load_timeout = kWait;
    return options;
  }
  BundleHost& Host() {
    if (host_ == nullptr) host_ = std::make_unique<BundleHost>(system_.get(), Options());
    return *host_;
  }

  LoadOutcome Load(const std::string& path) {
    absl::StatusOr<LoadOutcome> outcome = Host().LoadFile(path);
    EXPECT_TRUE(outcome.ok()) << path << ": " << outcome.status();
    return outcome.ok() ? *std::move(outcome) : LoadOutcome();
  }
  // Asks the actor named `name` for "version".
  std::string VersionOf(std::string_view name) {
    absl::StatusOr<ActorRef> actor = system_->Lookup(name);
    if (!actor.ok()) return std::string(actor.status().message());
    absl::StatusOr<Message> reply =
        system_->Ask(*actor, Message::Make("version", ""), absl::Seconds(10));
    if (!reply.ok()) return std::string(reply.status().message());
    return std::string(reply->payload());
  }
  std::string AddressOf(std::string_view name) {
    absl::StatusOr<ActorRef> actor = system_->Lookup(name);
    return actor.ok() ? system_->FormatAddress(actor->get()) : "";
  }
  // "group version state" for each listed bundle.
  std::vector<std::string> Listing() {
    std::vector<std::string> out;
    for (const BundleInfo& info : Host().List()) {
      constexpr const char* kStates[] = {"none", "active", "inactive", "draining"};  // BundleState
      out.push_back(info.group + " " + info.version + " " + kStates[static_cast<int>(info.state)]);
    }
    return out;
  }
  // The managed actor `class_name` of `version` as List shows it.
  std::optional<ManagedActor> Managed(std::string_view version, std::string_view class_name) {
    for (const BundleInfo& info : Host().List()) {
      if (info.version != version) continue;
      for (const ManagedActor& actor : info.actors) {
        if (actor.class_name == class_name) return actor;
      }
    }
    return std::nullopt;
  }
  // Tells the actor at `address` to exit on its own (not asked by the host).
  void MakeExit(const std::string& address) {
    ASSERT_OK_AND_ASSIGN(ActorRef actor, system_->ParseAddress(address));
    ASSERT_OK_AND_ASSIGN(Message reply,
                         system_->Ask(actor, Message::Make("exit", ""), absl::Seconds(10)));
    EXPECT_EQ(reply.type(), "exiting");
  }
  std::vector<std::string> StoredBundles() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_ + "/loaded", ec)) {
      if (entry.path().extension() == ".troupe") out.push_back(entry.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string StateFile() { return ReadFile(dir_ + "/loaded/state"); }

  // Declared before the system: its handlers use them until it is gone.
  ManualClock clock_;
  Recorder events_;
  Recorder log_;
  troupe::testing::TempDir temp_{"bundle_host"};
  const std::string dir_ = temp_.path();
  std::unique_ptr<ActorSystem> system_;
  ActorRef observer_;
  std::unique_ptr<BundleHost> host_;
};

TEST_F(BundleHostTest, ALoadedVersionAnswersByItsGlobalNameAndIsRecorded) {
  LoadOutcome outcome = Load(TROUPE_VERSIONED_1_0);
  EXPECT_FALSE(outcome.already_loaded);
  EXPECT_EQ(outcome.bundle.group, "versioned");
  EXPECT_EQ(outcome.bundle.version, "1.0");
  EXPECT_EQ(outcome.bundle.state, BundleState::kActive);
  EXPECT_EQ(outcome.bundle.signing_key.size(), 16u);
  ASSERT_EQ(outcome.bundle.actors.size(), 1u);
  EXPECT_EQ(outcome.bundle.actors[0].class_name, "versioned.Version");
  EXPECT_EQ(outcome.bundle.actors[0].global_name, "versioned");
  EXPECT_EQ(outcome.bundle.actors[0].state, ManagedActorState::kRunning);
  EXPECT_EQ(outcome.bundle.actors[0].address, AddressOf("versioned"));
  EXPECT_NE(std::find(outcome.changes.begin(), outcome.changes.end(), "activated versioned 1.0"),
            outcome.changes.end());
  EXPECT_EQ(VersionOf("versioned"), "1.0");

  const std::string hash = outcome.bundle.hash;
  EXPECT_EQ(StoredBundles(), std::vector<std::string>{hash + ".troupe"});
  EXPECT_CONTAINS(StateFile(), hash + " active # versioned 1.0\n");
  EXPECT_EQ(fs::status(dir_ + "/loaded").permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST_F(BundleHostTest, TwoVersionsRunTheirOwnCodeAndUnloadingTheNewerBringsBackTheOlder) {
  Load(TROUPE_VERSIONED_1_0);
  EXPECT_EQ(VersionOf("versioned"), "1.0");
  Load(TROUPE_VERSIONED_2_0);
  EXPECT_EQ(VersionOf("versioned"), "2.0") << "the name moved to the new version's actor";
  EXPECT_EQ(Listing(), (std::vector<std::string>{"versioned 1.0 inactive",
                                                 "versioned 2.0 active"}));
  ASSERT_OK_AND_ASSIGN(UnloadOutcome unloaded, Host().Unload("versioned-2.0"));
  ASSERT_EQ(unloaded.unloaded.size(), 1u);
  EXPECT_EQ(unloaded.unloaded[0].version, "2.0");
  EXPECT_EQ(VersionOf("versioned"), "1.0");
  EXPECT_EQ(Listing(), std::vector<std::string>{"versioned 1.0 active"});
}

TEST_F(BundleHostTest, WithKeepLoadedTheOldVersionIsDeactivatedButKeepsRunning) {
  Load(Lifecycle("lifecycle", "1.0"));
  LoadOutcome second = Load(Lifecycle("lifecycle", "2.0"));
  EXPECT_EQ(second.changes, (std::vector<std::string>{second.changes[0], "activated lifecycle 2.0",
                                                      "deactivated lifecycle 1.0 (kept loaded)"}));
  ASSERT_TRUE(events_.WaitFor("lifecycle.Worker deactivate 1.0")) << events_.Dump();
  ASSERT_TRUE(events_.WaitFor("lifecycle.Helper deactivate 1.0")) << events_.Dump();
  EXPECT_EQ(VersionOf("lifecycle.worker"), "2.0");

  EXPECT_EQ(Listing(), (std::vector<std::string>{"lifecycle 1.0 inactive",
                                                 "lifecycle 2.0 active"}));
  std::optional<ManagedActor> old_worker = Managed("1.0", "lifecycle.Worker");
  ASSERT_TRUE(old_worker.has_value());
  EXPECT_EQ(old_worker->state, ManagedActorState::kRunning);
  EXPECT_EQ(events_.Count("exit 1.0"), 0u) << "an inactive version is not drained";
}

TEST_F(BundleHostTest, WithAutoUnloadTheOldVersionGetsOnDeactivateThenDrains) {
  LoadOutcome first = Load(Lifecycle("drained", "1.0"));
  LoadOutcome second = Load(Lifecycle("drained", "2.0"));
  EXPECT_EQ(second.changes, (std::vector<std::string>{second.changes[0], "activated drained 2.0",
                                                      "deactivated drained 1.0 (draining)",
                                                      "unloaded drained 1.0"}));
  EXPECT_EQ(Listing(), std::vector<std::string>{"drained 2.0 active"});
  EXPECT_EQ(VersionOf("drained.worker"), "2.0");
  for (const char* actor : {"lifecycle.Worker", "lifecycle.Helper"}) {
    ASSERT_TRUE(events_.WaitFor(std::string(actor) + " exit 1.0")) << events_.Dump();
    int deactivated = events_.IndexOf(std::string(actor) + " deactivate 1.0");
    int exited = events_.IndexOf(std::string(actor) + " exit 1.0");
    ASSERT_GE(deactivated, 0) << events_.Dump();
    EXPECT_GT(exited, deactivated) << "on_deactivate first, then the exit request\n"
                                   << events_.Dump();
  }
  EXPECT_EQ(StoredBundles(), std::vector<std::string>{second.bundle.hash + ".troupe"});
  EXPECT_EQ(StateFile().find(first.bundle.hash), std::string::npos);
}

TEST_F(BundleHostTest, KeepLoadedUnloadsTheOldestLoadBeyondTheLimit) {
  for (const char* version : {"1.0", "2.0", "3.0"}) Load(Lifecycle("lifecycle", version));
  LoadOutcome fourth = Load(Lifecycle("lifecycle", "4.0"));
  EXPECT_NE(std::find(fourth.changes.begin(), fourth.changes.end(), "unloaded lifecycle 1.0"),
            fourth.changes.end())
      << "keep_loaded 3 counts the new version";
  EXPECT_EQ(Listing(), (std::vector<std::string>{"lifecycle 2.0 inactive",
                                                 "lifecycle 3.0 inactive",
                                                 "lifecycle 4.0 active"}));
}

TEST_F(BundleHostTest, UnloadingTheActiveVersionReactivatesTheHighestNotTheLastLoaded) {
  for (const char* version : {"3.0", "1.0", "2.0"}) Load(Lifecycle("lifecycle", version));
  EXPECT_EQ(VersionOf("lifecycle.worker"), "2.0") << "the last load is active";
  ASSERT_OK_AND_ASSIGN(UnloadOutcome outcome, Host().Unload("lifecycle-2.0"));
  EXPECT_EQ(outcome.changes,
            (std::vector<std::string>{"deactivated lifecycle 2.0", "reactivated lifecycle 3.0",
                                      "unloaded lifecycle 2.0"}));
  ASSERT_EQ(outcome.unloaded.size(), 1u);
  EXPECT_EQ(outcome.unloaded[0].version, "2.0");
  EXPECT_EQ(VersionOf("lifecycle.worker"), "3.0");
  ASSERT_TRUE(events_.WaitFor("lifecycle.Worker reactivate 3.0")) << events_.Dump();
  EXPECT_EQ(events_.Count("reactivate 1.0"), 0u);
  EXPECT_EQ(Listing(), (std::vector<std::string>{"lifecycle 1.0 inactive",
                                                 "lifecycle 3.0 active"}));
}

TEST_F(BundleHostTest, UnloadingAnInactiveVersionByHashPrefixDrainsIt) {
  LoadOutcome first = Load(Lifecycle("lifecycle", "1.0"));
  Load(Lifecycle("lifecycle", "2.0"));
  ASSERT_OK_AND_ASSIGN(UnloadOutcome outcome, Host().Unload(first.bundle.hash.substr(0, 10)));
  EXPECT_EQ(outcome.changes, std::vector<std::string>{"unloaded lifecycle 1.0"});
  ASSERT_TRUE(events_.WaitFor("lifecycle.Worker exit 1.0")) << events_.Dump();
  EXPECT_EQ(events_.Count("lifecycle.Worker deactivate 1.0"), 1u)
      << "it got on_deactivate when 2.0 became active, not again";
  EXPECT_EQ(VersionOf("lifecycle.worker"), "2.0");
  EXPECT_EQ(Listing(), std::vector<std::string>{"lifecycle 2.0 active"});
}

TEST_F(BundleHostTest, UnloadingAGroupUnloadsEveryVersion) {
  Load(Lifecycle("lifecycle", "1.0"));
  Load(Lifecycle("lifecycle", "2.0"));
  ASSERT_OK_AND_ASSIGN(UnloadOutcome outcome, Host().Unload("lifecycle"));
  EXPECT_EQ(outcome.unloaded.size(), 2u);
  EXPECT_TRUE(Host().List().empty());
  EXPECT_EQ(system_->Lookup("lifecycle.worker").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(StoredBundles().empty());
  EXPECT_TRUE(ParseLoadedState(StateFile(), "state").entries.empty()) << StateFile();
}

TEST_F(BundleHostTest, LoadingALoadedBundleAgainChangesNothing) {
  LoadOutcome first = Load(Lifecycle("lifecycle", "1.0"));
  const std::string address = AddressOf("lifecycle.worker");
  LoadOutcome again = Load(Lifecycle("lifecycle", "1.0"));
  EXPECT_TRUE(again.already_loaded);
  EXPECT_TRUE(again.changes.empty());
  EXPECT_EQ(again.bundle.hash, first.bundle.hash);
  EXPECT_EQ(AddressOf("lifecycle.worker"), address);
  ASSERT_TRUE(events_.WaitFor("lifecycle.Worker load 1.0"));
  EXPECT_EQ(events_.Count("lifecycle.Worker load 1.0"), 1u);
}

TEST_F(BundleHostTest, AnUnknownTargetIsNotFoundAndSaysWhatIsLoaded) {
  Load(Lifecycle("lifecycle", "1.0"));
  for (const char* target : {"nosuch", "lifecycle-9.0", "0123456789abcdef"}) {
    absl::StatusOr<UnloadOutcome> outcome = Host().Unload(target);
    EXPECT_EQ(outcome.status().code(), absl::StatusCode::kNotFound) << target;
    EXPECT_CONTAINS(outcome.status().message(), "loaded: lifecycle 1.0");
  }
  EXPECT_EQ(Listing(), std::vector<std::string>{"lifecycle 1.0 active"});
}

TEST_F(BundleHostTest, AFailingOnLoadActionNamesTheActorAndKeepsThePreviousVersionActive) {
  Load(Lifecycle("lifecycle", "1.0"));
  absl::StatusOr<LoadOutcome> failed = Host().LoadFile(Lifecycle("lifecycle", "5.0"));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(failed.status().message(),
            "lifecycle 5.0: actor 'lifecycle.Helper' failed its on_load action 'life.fail': "
            "refusing to start: bad config");
  EXPECT_EQ(VersionOf("lifecycle.worker"), "1.0");
  EXPECT_EQ(Listing(), std::vector<std::string>{"lifecycle 1.0 active"});
  EXPECT_EQ(StoredBundles().size(), 1u) << "the failed version is not stored";
  ASSERT_TRUE(events_.WaitFor("lifecycle.Worker exit 5.0")) << "its actors were drained";
  EXPECT_EQ(events_.Count("deactivate 1.0"), 0u) << "the previous version never stepped down";
}

TEST_F(BundleHostTest, ATamperedBundleIsRefusedAndNothingIsStored) {
  const std::string tampered = TamperWithEntry(ReadFile(TROUPE_VERSIONED_1_0), "lib/versioned.so");
  absl::StatusOr<LoadOutcome> outcome = Host().LoadBytes(tampered);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(outcome.status().message(), "was tampered with");
  EXPECT_TRUE(Host().List().empty());
  EXPECT_TRUE(StoredBundles().empty());
  EXPECT_FALSE(fs::exists(dir_ + "/loaded/state"));
}

TEST_F(BundleHostTest, ABundleSignedByAnUntrustedKeyIsRefused) {
  ASSERT_TRUE(fs::remove_all(dir_ + "/keys") > 0);
  absl::StatusOr<LoadOutcome> outcome = Host().LoadFile(TROUPE_VERSIONED_1_0);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Host().List().empty());
  EXPECT_TRUE(StoredBundles().empty());
}

TEST_F(BundleHostTest, AMissingFileIsNotFoundAndBytesThatAreNoBundleAreInvalid) {
  EXPECT_EQ(Host().LoadFile(dir_ + "/missing.troupe").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Host().LoadBytes("not a zip").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BundleHostTest, RequirementsThatDoNotHoldRefuseTheLoad) {
  absl::StatusOr<LoadOutcome> refused = Host().LoadFile(TROUPE_GPU_ONLY_1_0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(refused.status().message(),
                  "gpu_only 1.0: actor 'gpu_only.Worker' cannot run on this node: requirement "
                  "'gpu equals true' does not hold");
  EXPECT_TRUE(StoredBundles().empty());
  ASSERT_OK(system_->UpdateCapability("gpu", "true"));
  EXPECT_OK(Host().LoadFile(TROUPE_GPU_ONLY_1_0));
}

TEST_F(BundleHostTest, AnActorThatExitsIsRestartedWithinTheLimitThenStaysDown) {
  HostOptions options = Options();
  options.restart_limit = 2;
  options.restart_window = absl::Seconds(60);
  host_ = std::make_unique<BundleHost>(system_.get(), options);
  Load(Lifecycle("lifecycle", "1.0"));
  std::string address = AddressOf("lifecycle.worker");

  // Two restarts at once are allowed; then the window moves on.
  for (size_t restarts = 1; restarts <= 4; ++restarts) {
    if (restarts == 3) clock_.Advance(absl::Seconds(61));
    MakeExit(address);
    ASSERT_TRUE(events_.WaitFor("lifecycle.Worker load 1.0", restarts + 1)) << events_.Dump();
    const std::string restarted = AddressOf("lifecycle.worker");
    EXPECT_NE(restarted, address) << "a new actor holds the name";
    address = restarted;
    std::optional<ManagedActor> worker = Managed("1.0", "lifecycle.Worker");
    ASSERT_TRUE(worker.has_value());
    EXPECT_EQ(worker->restarts, restarts);
    EXPECT_EQ(worker->state, ManagedActorState::kRunning);
    EXPECT_EQ(worker->address, address);
    EXPECT_EQ(worker->last_exit, "exited on its own");
    EXPECT_EQ(Host().OriginOf(address).restarts, restarts);
  }
  MakeExit(address);  // a third restart within 60 s is one too many
  ASSERT_TRUE(log_.WaitFor("lifecycle 1.0: actor 'lifecycle.Worker' is down")) << log_.Dump();
  std::optional<ManagedActor> worker = Managed("1.0", "lifecycle.Worker");
  ASSERT_TRUE(worker.has_value());
  EXPECT_EQ(worker->state, ManagedActorState::kDown);
  EXPECT_EQ(worker->last_exit,
            "exited on its own; not restarted: it was restarted 2 times within 1m");
  EXPECT_EQ(system_->Lookup("lifecycle.worker").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(BundleHostTest, AnInactiveVersionIsNotRestartedButStartsAgainWhenReactivated) {
  Load(Lifecycle("lifecycle", "1.0"));
  Load(Lifecycle("lifecycle", "2.0"));
  std::optional<ManagedActor> old_worker = Managed("1.0", "lifecycle.Worker");
  ASSERT_TRUE(old_worker.has_value());
  MakeExit(old_worker->address);
  ASSERT_TRUE(log_.WaitFor("not restarted: the version is not active")) << log_.Dump();
  EXPECT_EQ(Managed("1.0", "lifecycle.Worker")->state, ManagedActorState::kDown);

  ASSERT_OK(Host().Unload("lifecycle-2.0"));
  ASSERT_TRUE(events_.WaitFor("lifecycle.Worker load 1.0", 2)) << "started afresh";
  ASSERT_TRUE(events_.WaitFor("lifecycle.Helper reactivate 1.0")) << "the survivor reactivated";
  EXPECT_EQ(VersionOf("lifecycle.worker"), "1.0");
  EXPECT_EQ(Managed("1.0", "lifecycle.Worker")->state, ManagedActorState::kRunning);
}

TEST_F(BundleHostTest, ANewHostRestoresTheSameSetWithTheSameActiveVersions) {
  for (const char* version : {"3.0", "1.0", "2.0"}) Load(Lifecycle("lifecycle", version));
  Load(Lifecycle("drained", "1.0"));
  const std::vector<std::string> before = Listing();
  const std::string state = StateFile();
  Host().Shutdown();
  EXPECT_TRUE(Host().List().empty());
  EXPECT_EQ(StateFile(), state) << "shutdown keeps the record";

  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  EXPECT_TRUE(Host().Restore().empty());
  EXPECT_EQ(Listing(), before);
  EXPECT_EQ(VersionOf("lifecycle.worker"), "2.0");
  EXPECT_EQ(VersionOf("drained.worker"), "1.0");
  EXPECT_EQ(StateFile(), state) << "same set, same load order";
  // The restored inactive versions know they are inactive.
  ASSERT_TRUE(events_.WaitFor("lifecycle.Worker deactivate 3.0", 2)) << events_.Dump();
}

TEST_F(BundleHostTest, RestoreReportsEachBundleBeforeRestoringItAndKeepsTheWholeStateMeanwhile) {
  LoadOutcome first = Load(Lifecycle("lifecycle", "1.0"));
  LoadOutcome second = Load(TROUPE_VERSIONED_1_0);
  Host().Shutdown();
  const std::string state = StateFile();

  std::vector<std::string> names;
  std::vector<std::string> states;  // the state file as each restore begins
  HostOptions options = Options();
  options.on_restore_progress = [&](std::string_view name) {
    names.emplace_back(name);
    states.push_back(StateFile());
  };
  host_ = std::make_unique<BundleHost>(system_.get(), options);
  EXPECT_TRUE(Host().Restore().empty());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "lifecycle 1.0 (" + first.bundle.hash.substr(0, 16) + ")",
                       "versioned 1.0 (" + second.bundle.hash.substr(0, 16) + ")"}));
  EXPECT_EQ(states, (std::vector<std::string>{state, state}))
      << "a crash during the restore would find every entry still recorded";
  EXPECT_EQ(StateFile(), state);
}

TEST_F(BundleHostTest, ABundleThatFailsToRestoreIsKeptAndRestoredOnceItsKeyIsTrustedAgain) {
  LoadOutcome loaded = Load(Lifecycle("lifecycle", "1.0"));
  const std::string hash = loaded.bundle.hash;
  Host().Shutdown();
  ASSERT_GT(fs::remove_all(dir_ + "/keys/trusted"), 0u);  // the key is no longer trusted

  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  std::vector<std::string> problems = Host().Restore();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_CONTAINS(problems[0], "lifecycle 1.0 (" + hash.substr(0, 16) + ") was not restored: ");
  EXPECT_CONTAINS(problems[0], "the next start tries again");
  EXPECT_TRUE(log_.Count("lifecycle 1.0 (" + hash.substr(0, 16) + ") was not restored") > 0);
  EXPECT_TRUE(Host().List().empty()) << "it is not loaded";
  ASSERT_EQ(Host().NotRestored().size(), 1u);
  EXPECT_EQ(Host().NotRestored()[0].hash, hash);
  EXPECT_FALSE(Host().NotRestored()[0].failure.empty());
  EXPECT_EQ(StoredBundles(), std::vector<std::string>{hash + ".troupe"}) << "the copy is kept";
  EXPECT_CONTAINS(StateFile(), hash + " active # lifecycle 1.0\n");

  ASSERT_OK(bundle::TrustStore(dir_ + "/keys/trusted").Trust(TROUPE_BUILD_PUBLIC_KEY));
  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  EXPECT_TRUE(Host().Restore().empty());
  EXPECT_EQ(Listing(), std::vector<std::string>{"lifecycle 1.0 active"});
  EXPECT_EQ(VersionOf("lifecycle.worker"), "1.0");
  EXPECT_CONTAINS(StateFile(), hash + " active # lifecycle 1.0\n");
}

TEST_F(BundleHostTest, ABundleThatFailedToRestoreStaysRecordedAcrossLoadsAndUnloads) {
  ASSERT_OK(system_->UpdateCapability("gpu", "true"));
  LoadOutcome gpu = Load(TROUPE_GPU_ONLY_1_0);
  Load(TROUPE_VERSIONED_1_0);
  Host().Shutdown();
  ASSERT_OK(system_->UpdateCapability("gpu", "false"));  // capabilities are set at runtime

  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  std::vector<std::string> problems = Host().Restore();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_CONTAINS(problems[0],
                  "gpu_only 1.0 (" + gpu.bundle.hash.substr(0, 16) + ") was not restored: ");
  EXPECT_CONTAINS(problems[0], "requirement 'gpu equals true' does not hold");
  EXPECT_EQ(Listing(), std::vector<std::string>{"versioned 1.0 active"});

  // Later loads and unloads rewrite the state; it stays there, in its place.
  Load(TROUPE_VERSIONED_2_0);
  ASSERT_OK(Host().Unload("versioned-1.0"));
  ParsedState state = ParseLoadedState(StateFile(), "state");
  ASSERT_EQ(state.entries.size(), 2u) << StateFile();
  EXPECT_EQ(state.entries[0].hash, gpu.bundle.hash);
  EXPECT_TRUE(state.entries[0].active);
  EXPECT_EQ(state.entries[1].name, "versioned 2.0");
  EXPECT_EQ(StoredBundles().size(), 2u);

  ASSERT_OK(system_->UpdateCapability("gpu", "true"));
  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  EXPECT_TRUE(Host().Restore().empty());
  EXPECT_EQ(Listing(), (std::vector<std::string>{"gpu_only 1.0 active",
                                                 "versioned 2.0 active"}));
  std::optional<ManagedActor> worker = Managed("1.0", "gpu_only.Worker");
  ASSERT_TRUE(worker.has_value());
  ASSERT_OK_AND_ASSIGN(ActorRef actor, system_->ParseAddress(worker->address));
  ASSERT_OK_AND_ASSIGN(Message reply,
                       system_->Ask(actor, Message::Make("where", ""), absl::Seconds(10)));
  EXPECT_EQ(reply.payload(), "here");
}

TEST_F(BundleHostTest, WhileTheRecordedActiveVersionFailsToRestoreAnotherStandsInUnrecorded) {
  Load(Lifecycle("lifecycle", "1.0"));
  LoadOutcome second = Load(Lifecycle("lifecycle", "2.0"));
  const std::string copy = dir_ + "/loaded/" + second.bundle.hash + ".troupe";
  const std::string good = ReadFile(copy);
  Host().Shutdown();
  std::ofstream(copy, std::ios::binary | std::ios::trunc)
      << TamperWithEntry(good, "lib/lifecycle.so");

  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  std::vector<std::string> problems = Host().Restore();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_CONTAINS(problems[0],
                  "lifecycle 2.0 (" + second.bundle.hash.substr(0, 16) + ") was not restored: ");
  EXPECT_EQ(Listing(), std::vector<std::string>{"lifecycle 1.0 active"});
  EXPECT_EQ(VersionOf("lifecycle.worker"), "1.0");
  EXPECT_CONTAINS(StateFile(), " inactive # lifecycle 1.0\n");
  EXPECT_CONTAINS(StateFile(), second.bundle.hash + " active # lifecycle 2.0\n");

  std::ofstream(copy, std::ios::binary | std::ios::trunc) << good;  // e.g. a disk repaired
  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  EXPECT_TRUE(Host().Restore().empty());
  EXPECT_EQ(VersionOf("lifecycle.worker"), "2.0") << "the recorded active version";
}

TEST_F(BundleHostTest, UnloadingABundleThatFailedToRestoreForgetsIt) {
  LoadOutcome loaded = Load(Lifecycle("lifecycle", "1.0"));
  const std::string hash = loaded.bundle.hash;
  Host().Shutdown();
  ASSERT_GT(fs::remove_all(dir_ + "/keys/trusted"), 0u);
  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  ASSERT_EQ(Host().Restore().size(), 1u);

  ASSERT_OK_AND_ASSIGN(UnloadOutcome outcome, Host().Unload("lifecycle"));
  EXPECT_EQ(outcome.changes,
            std::vector<std::string>{"removed lifecycle 1.0 (" + hash.substr(0, 16) +
                                     ") (it had failed to restore)"});
  ASSERT_EQ(outcome.unloaded.size(), 1u);
  EXPECT_EQ(outcome.unloaded[0].hash, hash);
  EXPECT_EQ(outcome.unloaded[0].state, BundleState::kNone);
  EXPECT_TRUE(StoredBundles().empty());
  EXPECT_EQ(StateFile().find(hash), std::string::npos);
  EXPECT_EQ(Host().Unload(hash).status().code(), absl::StatusCode::kNotFound);

  ASSERT_OK(bundle::TrustStore(dir_ + "/keys/trusted").Trust(TROUPE_BUILD_PUBLIC_KEY));
  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  EXPECT_TRUE(Host().Restore().empty());
  EXPECT_TRUE(Host().List().empty());
}

TEST_F(BundleHostTest, RolesResolveToTheActorsOfTheActiveVersion) {
  Load(Lifecycle("lifecycle", "1.0"));
  Load(Lifecycle("lifecycle", "2.0"));
  ASSERT_OK_AND_ASSIGN(std::vector<ManagedActor> workers, Host().Role("worker"));
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].address, AddressOf("lifecycle.worker"));
  ASSERT_OK_AND_ASSIGN(std::vector<ManagedActor> helpers, Host().Role("helper", "lifecycle"));
  ASSERT_EQ(helpers.size(), 1u);
  EXPECT_EQ(helpers[0].class_name, "lifecycle.Helper");
  EXPECT_EQ(Host().OriginOf(helpers[0].address).bundle, "lifecycle 2.0");
  EXPECT_EQ(Host().OriginOf(helpers[0].address).role, "helper");

  absl::StatusOr<std::vector<ManagedActor>> none = Host().Role("nobody");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(none.status().message(), "no actor plays role 'nobody'");
  EXPECT_EQ(Host().Role("worker", "drained").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(BundleHostTest, CreateActorUsesTheActiveVersionsLibraryAndDrainsWithIt) {
  Load(Lifecycle("lifecycle", "1.0"));
  ASSERT_OK_AND_ASSIGN(ActorRef echo1, Host().CreateActor("lifecycle", "lifecycle.Echo", {}));
  ASSERT_OK_AND_ASSIGN(Message reply,
                       system_->Ask(echo1, Message::Make("hi", "there"), absl::Seconds(10)));
  EXPECT_EQ(reply.payload(), "there");
  EXPECT_EQ(Host().OriginOf(system_->FormatAddress(echo1.get())).bundle, "lifecycle 1.0");

  Load(Lifecycle("lifecycle", "2.0"));
  ASSERT_OK_AND_ASSIGN(ActorRef echo2, Host().CreateActor("lifecycle", "lifecycle.Echo", {}));
  EXPECT_EQ(Host().OriginOf(system_->FormatAddress(echo2.get())).bundle, "lifecycle 2.0");
  EXPECT_EQ(Host().OriginOf(system_->FormatAddress(observer_.get())).bundle, "");

  absl::StatusOr<ActorRef> unknown_class = Host().CreateActor("lifecycle", "lifecycle.Nope", {});
  EXPECT_EQ(unknown_class.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(unknown_class.status().message(), "lifecycle.Echo");
  EXPECT_EQ(Host().CreateActor("nosuch", "lifecycle.Echo", {}).status().code(),
            absl::StatusCode::kNotFound);

  // Unloading 1.0 asks the actor made from its library to exit too.
  ASSERT_OK_AND_ASSIGN(UnloadOutcome outcome, Host().Unload("lifecycle-1.0"));
  EXPECT_EQ(outcome.changes, std::vector<std::string>{"unloaded lifecycle 1.0"});
  EXPECT_EQ(echo1->state(), runtime::CellState::kExited);
  EXPECT_NE(echo2->state(), runtime::CellState::kExited);
}

TEST_F(BundleHostTest, CreateActorChecksRequirementsAgainstTheNodesCapabilities) {
  Load(Lifecycle("lifecycle", "1.0"));
  runtime::CreateOptions options;
  options.requirements = {{"gpu", runtime::Requirement::Op::kEquals, true}};
  absl::StatusOr<ActorRef> refused = Host().CreateActor("lifecycle", "lifecycle.Echo", options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(refused.status().message(),
                  "lifecycle 1.0: actor class 'lifecycle.Echo' cannot run on this node: "
                  "requirement 'gpu equals true' does not hold");

  ASSERT_OK(system_->UpdateCapability("gpu", "true"));
  ASSERT_OK_AND_ASSIGN(ActorRef echo, Host().CreateActor("lifecycle", "lifecycle.Echo", options));
  ASSERT_OK_AND_ASSIGN(Message reply,
                       system_->Ask(echo, Message::Make("hi", "there"), absl::Seconds(10)));
  EXPECT_EQ(reply.payload(), "there");
}

TEST_F(BundleHostTest, ShutdownSendsOnDeactivateAndDrainsEveryVersion) {
  Load(Lifecycle("lifecycle", "1.0"));
  Load(Lifecycle("lifecycle", "2.0"));
  Host().Shutdown();
  for (const char* exited : {"lifecycle.Worker exit 1.0", "lifecycle.Helper exit 1.0",
                             "lifecycle.Worker exit 2.0", "lifecycle.Helper exit 2.0"}) {
    ASSERT_TRUE(events_.WaitFor(exited)) << exited << "\n" << events_.Dump();
  }
  EXPECT_EQ(events_.Count("lifecycle.Worker deactivate 2.0"), 1u) << events_.Dump();
  EXPECT_EQ(events_.Count("lifecycle.Worker deactivate 1.0"), 1u) << "not twice";
  EXPECT_LT(events_.IndexOf("lifecycle.Worker deactivate 2.0"),
            events_.IndexOf("lifecycle.Worker exit 2.0"));
  EXPECT_TRUE(Host().List().empty());
  EXPECT_EQ(Host().LoadFile(Lifecycle("lifecycle", "3.0")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Host().Shutdown();  // idempotent
  EXPECT_CONTAINS(StateFile(), " active # lifecycle 2.0\n");
}

TEST_F(BundleHostTest, ShutdownAfterTheActorSystemStoppedClosesEverythingWithoutWaiting) {
  HostOptions options = Options();
  options.drain_timeout = absl::Minutes(10);
  host_ = std::make_unique<BundleHost>(system_.get(), options);
  Load(Lifecycle("lifecycle", "1.0"));
  system_->Shutdown();  // its actors exit without the host hearing of it
  const absl::Time start = absl::Now();
  Host().Shutdown();
  EXPECT_LT(absl::Now() - start, absl::Minutes(1)) << "the drain saw the actors were gone";
  EXPECT_TRUE(Host().List().empty());
  EXPECT_TRUE(log_.Count("did not drain") == 0) << log_.Dump();
}

TEST_F(BundleHostTest, ALibraryDirectoryLeftByACrashIsReplaced) {
  LoadOutcome first = Load(TROUPE_VERSIONED_1_0);
  ASSERT_OK(Host().Unload("versioned"));
  const std::string leftover = dir_ + "/loaded/code/" + first.bundle.hash + "/lib";
  ASSERT_TRUE(fs::create_directories(leftover));
  std::ofstream(leftover + "/versioned.so") << "not the library";
  Load(TROUPE_VERSIONED_1_0);
  EXPECT_EQ(VersionOf("versioned"), "1.0");
}

// Every instant of a load leaves a TROUPE_DIR that restores the old or the
// new set: a crash (HostOptions::fault_for_test) before each step of loading
// drained 2.0 (AutoUnload: it drains 1.0 and deletes its copy), then a new
// host on the same directory restores exactly one active version.
TEST_F(BundleHostTest, ACrashAtAnyStepOfALoadRestoresTheOldOrTheNewActiveVersion) {
  std::string crash_at;            // the step to die at; empty: none
  bool armed = false;              // only the second load is faulted
  std::vector<std::string> steps;  // the steps of that load, in order
  auto options_for = [&](const std::string& dir) {
    HostOptions options = Options();
    options.troupe_dir = dir;
    options.fault_for_test = [&](std::string_view step) {
      LoadStepFault fault;
      if (!armed) return fault;
      steps.emplace_back(step);
      fault.crash = step == crash_at;
      return fault;
    };
    return options;
  };
  // Runs the two loads in a fresh TROUPE_DIR; returns their outcomes.
  int run = 0;
  auto load_twice = [&](std::string* dir) -> std::pair<LoadOutcome, absl::StatusOr<LoadOutcome>> {
    *dir = dir_ + "/run" + std::to_string(run++);
    EXPECT_OK(bundle::TrustStore(*dir + "/keys/trusted").Trust(TROUPE_BUILD_PUBLIC_KEY));
    BundleHost host(system_.get(), options_for(*dir));
    EXPECT_TRUE(host.Restore().empty());
    absl::StatusOr<LoadOutcome> first = host.LoadFile(Lifecycle("drained", "1.0"));
    EXPECT_OK(first);
    armed = true;
    absl::StatusOr<LoadOutcome> second = host.LoadFile(Lifecycle("drained", "2.0"));
    armed = false;
    return {first.ok() ? *first : LoadOutcome(), second};
  };  // the host goes: a crashed one writes nothing more

  std::string dir;
  auto [first, second] = load_twice(&dir);
  ASSERT_OK(second);
  EXPECT_EQ(steps, (std::vector<std::string>{"write copy", "rename copy", "extract code",
                                             "write state", "rename state", "remove old copy"}));
  const std::string old_hash = first.bundle.hash;
  const std::string new_hash = second->bundle.hash;
  const std::vector<std::string> all_steps = steps;
  for (const std::string& step : all_steps) {
    SCOPED_TRACE("crash before step '" + step + "'");
    crash_at = step;
    steps.clear();
    auto [crashed_first, crashed] = load_twice(&dir);
    ASSERT_EQ(crashed.status().code(), absl::StatusCode::kAborted) << crashed.status();
    EXPECT_EQ(steps.back(), step) << "nothing after the crash";

    BundleHost restarted(system_.get(), options_for(dir));
    EXPECT_TRUE(restarted.Restore().empty());
    const bool recorded = step == "remove old copy";  // the state was renamed before it
    const std::string version = recorded ? "2.0" : "1.0";
    const std::string hash = recorded ? new_hash : old_hash;
    std::vector<BundleInfo> listed = restarted.List();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].version, version);
    EXPECT_EQ(listed[0].state, BundleState::kActive);
    EXPECT_EQ(VersionOf("drained.worker"), version);
    // Nothing of the interrupted load is left.
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir + "/loaded")) {
      if (entry.is_regular_file()) files.push_back(entry.path().filename().string());
    }
    std::sort(files.begin(), files.end());
    std::vector<std::string> expected{hash + ".troupe", "crashes", "running", "state"};
    std::sort(expected.begin(), expected.end());  // the hash may sort anywhere
    EXPECT_EQ(files, expected);
    restarted.Shutdown();
  }
}

// Disk full while recording the loaded set: the load fails, names the state
// file and the OS error, and is undone.
TEST_F(BundleHostTest, ALoadWhoseStateCannotBeRecordedFailsAndIsUndone) {
  bool full = false;
  HostOptions options = Options();
  options.fault_for_test = [&](std::string_view step) {
    LoadStepFault fault;
    if (full && step == "write state") fault.error_number = ENOSPC;
    return fault;
  };
  host_ = std::make_unique<BundleHost>(system_.get(), options);
  LoadOutcome first = Load(Lifecycle("drained", "1.0"));
  const std::string state = StateFile();

  full = true;
  absl::StatusOr<LoadOutcome> second = Host().LoadFile(Lifecycle("drained", "2.0"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(second.status().message(),
            "drained 2.0 was not loaded: the loaded set cannot be recorded in " + dir_ +
                "/loaded/state (" + dir_ +
                "/loaded/state.tmp: cannot write: No space left on device); the load was "
                "undone, drained 1.0 stays active");
  EXPECT_EQ(Listing(), std::vector<std::string>{"drained 1.0 active"});
  EXPECT_EQ(VersionOf("drained.worker"), "1.0");
  EXPECT_EQ(StoredBundles(), std::vector<std::string>{first.bundle.hash + ".troupe"});
  std::vector<std::string> code;
  for (const auto& entry : fs::directory_iterator(dir_ + "/loaded/code")) {
    code.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(code, std::vector<std::string>{first.bundle.hash}) << "2.0's libraries are gone";
  EXPECT_EQ(StateFile(), state);
  ASSERT_TRUE(events_.WaitFor("lifecycle.Worker exit 2.0")) << "the new version drained";
  EXPECT_EQ(events_.Count("deactivate 1.0"), 0u) << events_.Dump();

  full = false;  // space again: the same load works
  LoadOutcome again = Load(Lifecycle("drained", "2.0"));
  EXPECT_EQ(Listing(), std::vector<std::string>{"drained 2.0 active"});
  EXPECT_EQ(StoredBundles(), std::vector<std::string>{again.bundle.hash + ".troupe"});
}

TEST_F(BundleHostTest, RestoreRemovesWhatInterruptedLoadsLeftAndSaysWhat) {
  LoadOutcome loaded = Load(TROUPE_VERSIONED_1_0);
  Host().Shutdown();
  const std::string loaded_dir = dir_ + "/loaded";
  const std::string orphan(64, 'e');
  std::ofstream(loaded_dir + "/" + orphan + ".troupe") << ReadFile(TROUPE_VERSIONED_2_0);
  std::ofstream(loaded_dir + "/" + orphan + ".troupe.tmp") << "partial";
  std::ofstream(loaded_dir + "/state.tmp") << "partial";
  ASSERT_TRUE(fs::create_directories(loaded_dir + "/code/" + orphan + "/lib"));
  std::ofstream(loaded_dir + "/code/" + orphan + "/lib/versioned.so") << "partial";

  host_ = std::make_unique<BundleHost>(system_.get(), Options());
  EXPECT_TRUE(Host().Restore().empty());
  std::vector<std::string> cleanup = Host().RestoreCleanup();
  std::sort(cleanup.begin(), cleanup.end());
  std::vector<std::string> expected = {
      "removed " + loaded_dir + "/" + orphan +
          ".troupe (a stored copy no state line names, left by an interrupted load or "
          "unload)",
      "removed " + loaded_dir + "/" + orphan +
          ".troupe.tmp (a partial file of an interrupted write)",
      "removed " + loaded_dir + "/code/" + orphan +
          " (libraries of a bundle no state line names, left by an interrupted load)",
      "removed " + loaded_dir + "/state.tmp (a partial file of an interrupted write)"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(cleanup, expected);
  for (const std::string& line : cleanup) EXPECT_EQ(log_.Count(line), 1u) << line;
  EXPECT_EQ(Listing(), std::vector<std::string>{"versioned 1.0 active"});
  EXPECT_EQ(StoredBundles(), std::vector<std::string>{loaded.bundle.hash + ".troupe"});
  EXPECT_FALSE(fs::exists(loaded_dir + "/code/" + orphan));
}

// What the fault handler does when a fatal signal hits a thread running the
// code of bundle `hash` (InstallFaultHandler), without the death.
void FaultInCodeOf(const std::string& hash) {
  runtime::BundleCodeScope running(hash.c_str());
  EXPECT_TRUE(RecordFault(SIGABRT)) << "no running mark to record the fault in";
}

// Crash-loop protection: the daemon dies (CrashForTest: no Shutdown, the
// running mark stays) twice within restart_window of a fault in the code of
// lifecycle 1.0, although versioned 1.0 was loaded after it.
TEST_F(BundleHostTest, ABundleWhoseCodeFaultedTwiceWithinTheWindowIsHeldBackUntilLoadedAgain) {
  auto start = [&] {
    host_ = std::make_unique<BundleHost>(system_.get(), Options());
    return Host().Restore();
  };
  const std::string lifecycle_hash = [&] {
    EXPECT_TRUE(start().empty());
    return Load(Lifecycle("lifecycle", "1.0")).bundle.hash;
  }();
  Load(TROUPE_VERSIONED_1_0);
  auto die = [&] {
    FaultInCodeOf(lifecycle_hash);
    Host().CrashForTest();
    host_.reset();
    clock_.Advance(absl::Seconds(1));
  };
  die();
  EXPECT_TRUE(start().empty()) << "one fault is no loop";
  EXPECT_EQ(log_.Count("troupd died last time of SIGABRT in the code of bundle " +
                       lifecycle_hash.substr(0, 16)),
            1u)
      << log_.Dump();
  EXPECT_EQ(Listing().size(), 2u);
  die();

  const std::string reason =
      "the daemon died twice within 1m while it ran this bundle; not restored (unload it, or "
      "load it again to retry)";
  std::vector<std::string> problems = start();
  EXPECT_EQ(problems, std::vector<std::string>{"lifecycle 1.0 (" + lifecycle_hash.substr(0, 16) +
                                               "): " + reason});
  EXPECT_EQ(Listing(), std::vector<std::string>{"versioned 1.0 active"})
      << "the bundle loaded last is not blamed";
  std::vector<BundleInfo> held = Host().NotRestored();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].hash, lifecycle_hash);
  EXPECT_EQ(held[0].group, "lifecycle");
  EXPECT_EQ(held[0].version, "1.0");
  EXPECT_EQ(held[0].state, BundleState::kNone);
  EXPECT_EQ(held[0].failure, reason);
  EXPECT_CONTAINS(StateFile(), lifecycle_hash + " active # lifecycle 1.0\n") << "still recorded";
  EXPECT_EQ(StoredBundles().size(), 2u);

  Host().Shutdown();  // a clean exit does not lift the hold
  EXPECT_EQ(start().size(), 1u);
  EXPECT_EQ(Host().NotRestored().size(), 1u);

  Load(Lifecycle("lifecycle", "1.0"));  // loaded again: forgiven
  EXPECT_TRUE(Host().NotRestored().empty());
  Host().Shutdown();
  EXPECT_TRUE(start().empty());
  EXPECT_EQ(Listing(), (std::vector<std::string>{"lifecycle 1.0 active",
                                                 "versioned 1.0 active"}));
}

// kill -9, the OOM killer, a stop timeout, power loss: no fault line, so
// nobody is charged, however often it happens.
TEST_F(BundleHostTest, UncleanExitsWithoutAFaultInBundleCodeChargeNothing) {
  auto start = [&] {
    host_ = std::make_unique<BundleHost>(system_.get(), Options());
    return Host().Restore();
  };
  EXPECT_TRUE(start().empty());
  Load(Lifecycle("lifecycle", "1.0"));
  Load(TROUPE_VERSIONED_1_0);
  for (int i = 0; i < 3; ++i) {
    Host().CrashForTest();
    host_.reset();
    clock_.Advance(absl::Seconds(1));
    EXPECT_TRUE(start().empty());
  }
  EXPECT_EQ(
      log_.Count("troupd did not stop cleanly last time (no fault in bundle code recorded)"), 3u)
      << log_.Dump();
  EXPECT_EQ(Listing(), (std::vector<std::string>{"lifecycle 1.0 active",
                                                 "versioned 1.0 active"}));
  EXPECT_TRUE(ParseCrashHistory(ReadFile(dir_ + "/loaded/crashes")).crashes.empty());
}

TEST_F(BundleHostTest, UnloadingAHeldBundleForgetsIt) {
  auto start = [&] {
    host_ = std::make_unique<BundleHost>(system_.get(), Options());
    return Host().Restore();
  };
  EXPECT_TRUE(start().empty());
  const std::string hash = Load(TROUPE_VERSIONED_1_0).bundle.hash;
  for (int i = 0; i < 2; ++i) {
    FaultInCodeOf(hash);
    Host().CrashForTest();
    EXPECT_EQ(start().size(), static_cast<size_t>(i));
  }
  ASSERT_OK_AND_ASSIGN(UnloadOutcome outcome, Host().Unload("versioned"));
  EXPECT_EQ(outcome.changes,
            std::vector<std::string>{"removed versioned 1.0 (" + hash.substr(0, 16) +
                                     ") (it had failed to restore)"});
  EXPECT_TRUE(StoredBundles().empty());
  EXPECT_EQ(ReadFile(dir_ + "/loaded/crashes").find(hash), std::string::npos);
}

TEST_F(BundleHostTest, FaultsFartherApartThanTheWindowHoldNothing) {
  auto start = [&] {
    host_ = std::make_unique<BundleHost>(system_.get(), Options());
    return Host().Restore();
  };
  EXPECT_TRUE(start().empty());
  const std::string hash = Load(TROUPE_VERSIONED_1_0).bundle.hash;
  FaultInCodeOf(hash);
  Host().CrashForTest();
  EXPECT_TRUE(start().empty());
  clock_.Advance(absl::Seconds(61));
  FaultInCodeOf(hash);
  Host().CrashForTest();
  EXPECT_TRUE(start().empty());
  EXPECT_EQ(Listing(), std::vector<std::string>{"versioned 1.0 active"});
}

// The blocking calls step a deterministic system while they wait.
TEST(BundleHostDeterministicTest, LoadsAndUnloadsWithoutWorkerThreads) {
  troupe::testing::TempDir temp("bundle_host_det");
  ASSERT_OK(bundle::TrustStore(temp.path() + "/keys/trusted").Trust(TROUPE_BUILD_PUBLIC_KEY));
  ActorSystem system(runtime::SystemOptions{.deterministic = true});
  {
    HostOptions options;
    options.troupe_dir = temp.path();
    BundleHost host(&system, options);
    ASSERT_OK(host.LoadFile(TROUPE_VERSIONED_1_0));
    ASSERT_OK(host.LoadFile(TROUPE_VERSIONED_2_0));
    ASSERT_OK_AND_ASSIGN(ActorRef actor, system.Lookup("versioned"));
    ASSERT_OK_AND_ASSIGN(Message reply,
                         system.Ask(actor, Message::Make("version", ""), absl::Seconds(1)));
    EXPECT_EQ(reply.payload(), "2.0");
    ASSERT_OK_AND_ASSIGN(UnloadOutcome outcome, host.Unload("versioned-2.0"));
    EXPECT_EQ(outcome.changes.back(), "unloaded versioned 2.0");
    EXPECT_EQ(host.List().size(), 1u);
  }
  system.Shutdown();
}

}  // namespace
}  // namespace troupe::hosting
