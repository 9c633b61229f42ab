// Tests of LoadedBundle with deps/ (tests/testdata/bundles/deps_bundle): the
// bundled dependencies are preloaded so the actor library, which needs them
// by DT_NEEDED and has no RUNPATH, loads and runs; a bundled dep whose soname
// this process already loaded from another file refuses the whole bundle.
#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/bundle/keys.h"
#include "daemon/loader/bundle_loader.h"
#include "daemon/loader/elf_dynamic.h"
#include "daemon/runtime/actor_system.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::loader {
namespace {

namespace fs = std::filesystem;
using runtime::ActorRef;
using runtime::ActorSystem;
using runtime::Message;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class BundleDepsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(bundle::InitSodium());
    trust_ = std::make_unique<bundle::TrustStore>(temp_ + "/trusted");
    ASSERT_OK(trust_->Trust(TROUPE_BUILD_PUBLIC_KEY).status());
    absl::StatusOr<bundle::VerifiedBundle> verified =
        bundle::VerifyBundleFile(TROUPE_DEPS_BUNDLE, *trust_);
    ASSERT_TRUE(verified.ok()) << verified.status();
    bundle_ = *std::move(verified);
  }

  troupe::testing::TempDir temp_dir_{"bundle_deps"};
  const std::string temp_ = temp_dir_.path();
  const std::string root_ = temp_ + "/code";
  std::unique_ptr<bundle::TrustStore> trust_;
  bundle::VerifiedBundle bundle_;
};

TEST_F(BundleDepsTest, TheActorLibraryCannotFindItsDepOnItsOwn) {
  // What makes the next test meaningful: no RUNPATH, a DT_NEEDED on a bundled dep.
  ASSERT_OK_AND_ASSIGN(ElfDynamicInfo actor,
                       ReadElfDynamic(ReadAll(TROUPE_DEPS_ACTOR_PATH), TROUPE_DEPS_ACTOR_PATH));
  EXPECT_EQ(actor.runpath, "");
  EXPECT_NE(std::find(actor.needed.begin(), actor.needed.end(), "libtdep_a.so.1"),
            actor.needed.end());
  std::vector<std::string> deps;
  for (const bundle::VerifiedEntry& entry : bundle_.entries) {
    if (entry.name.rfind("deps/", 0) == 0) deps.push_back(entry.name);
  }
  EXPECT_EQ(deps, (std::vector<std::string>{"deps/libtdep_a.so.1", "deps/libtdep_b.so.1"}))
      << "libtdep_a (which needs libtdep_b) comes first, so preloading must retry";
}

TEST_F(BundleDepsTest, PreloadedDepsLetTheActorLibraryLoadAndRun) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LoadedBundle> loaded, LoadedBundle::Load(bundle_, root_));
  const std::vector<std::string> deps = loaded->dependency_paths();
  ASSERT_EQ(deps.size(), 2u);
  EXPECT_TRUE(EndsWith(deps[0], "/deps/libtdep_b.so.1")) << deps[0];
  EXPECT_TRUE(EndsWith(deps[1], "/deps/libtdep_a.so.1")) << "retried after libtdep_b";
  ASSERT_EQ(loaded->libraries().size(), 1u);
  const std::string actor_path = loaded->libraries()[0]->path();
  {
    runtime::SystemOptions options;
    options.deterministic = true;
    ActorSystem system(options);
    ASSERT_OK(system.RegisterLibrary(&loaded->libraries()[0]->plugin()));
    runtime::CreateOptions create;
    create.library = &loaded->libraries()[0]->plugin();
    ASSERT_OK_AND_ASSIGN(ActorRef actor, system.CreateActor("deps.Answer", create));
    ASSERT_OK_AND_ASSIGN(Message reply,
                         system.Ask(actor, Message::Make("question", ""), absl::Seconds(5)));
    EXPECT_EQ(reply.type(), "answer");
    EXPECT_EQ(reply.payload(), "42") << "41 from libtdep_b, +1 in libtdep_a";
    system.Shutdown();
  }
  EXPECT_TRUE(loaded->Unload().empty());
  EXPECT_FALSE(IsResident(actor_path));
  for (const std::string& dep : deps) EXPECT_FALSE(IsResident(dep)) << dep;
  EXPECT_FALSE(fs::exists(loaded->directory()));
}

TEST_F(BundleDepsTest, ADepWhoseSonameIsLoadedFromAnotherFileRefusesTheBundle) {
  void* impostor = ::dlopen(TROUPE_TDEP_B_IMPOSTOR_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(impostor, nullptr) << ::dlerror();
  absl::StatusOr<std::unique_ptr<LoadedBundle>> refused = LoadedBundle::Load(bundle_, root_);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_CONTAINS(refused.status().message(), "bundle depsdemo-1.0");
  EXPECT_CONTAINS(refused.status().message(), "deps/libtdep_b.so.1");
  EXPECT_CONTAINS(refused.status().message(), "'libtdep_b.so.1'");
  EXPECT_CONTAINS(refused.status().message(), fs::path(TROUPE_TDEP_B_IMPOSTOR_PATH).filename());
  // Refused before any of its code was mapped, and nothing left behind.
  EXPECT_FALSE(fs::exists(root_ + "/" + bundle_.source_hash));
  ASSERT_EQ(::dlclose(impostor), 0);

  // Once the other copy is gone, the bundle loads.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LoadedBundle> loaded, LoadedBundle::Load(bundle_, root_));
  EXPECT_TRUE(loaded->Unload().empty());
}

TEST_F(BundleDepsTest, TwoCopiesOfOneBundledDepCannotRunSideBySide) {
  // A second root gives the same bundle a second directory: its deps would
  // clash by soname with the first copy's, so it is refused.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LoadedBundle> first, LoadedBundle::Load(bundle_, root_));
  absl::StatusOr<std::unique_ptr<LoadedBundle>> second =
      LoadedBundle::Load(bundle_, temp_ + "/other");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_CONTAINS(second.status().message(), first->directory());
  EXPECT_TRUE(first->Unload().empty());
}

}  // namespace
}  // namespace troupe::loader
