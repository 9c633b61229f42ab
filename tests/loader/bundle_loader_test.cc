// Tests of LoadedBundle: verified bundles become loadable libraries; two
// versions of one group run side by side and each answers with its own
// version; unloading leaves nothing resident.
#include "daemon/loader/bundle_loader.h"

#include <stdlib.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "daemon/bundle/keys.h"
#include "daemon/runtime/actor_system.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::loader {
namespace {

namespace fs = std::filesystem;
using runtime::ActorRef;
using runtime::ActorSystem;
using runtime::Message;

class BundleLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    trust_ = std::make_unique<bundle::TrustStore>(temp_ + "/trusted");
    ASSERT_OK(trust_->Trust(TROUPE_BUILD_PUBLIC_KEY).status());
  }

  bundle::VerifiedBundle Verify(const std::string& path) {
    absl::StatusOr<bundle::VerifiedBundle> verified = bundle::VerifyBundleFile(path, *trust_);
    EXPECT_TRUE(verified.ok()) << verified.status();
    return verified.ok() ? *std::move(verified) : bundle::VerifiedBundle();
  }

  troupe::testing::TempDir temp_dir_{"bundle_loader"};
  const std::string temp_ = temp_dir_.path();
  std::unique_ptr<bundle::TrustStore> trust_;
};

TEST_F(BundleLoaderTest, TwoVersionsRunSideBySideAndUnloadCleanly) {
  const std::string root = temp_ + "/code";
  ASSERT_OK_AND_ASSIGN(auto v1, LoadedBundle::Load(Verify(TROUPE_VERSIONED_1_0), root));
  ASSERT_OK_AND_ASSIGN(auto v2, LoadedBundle::Load(Verify(TROUPE_VERSIONED_2_0), root));
  EXPECT_NE(v1->source_hash(), v2->source_hash());
  EXPECT_NE(v1->directory(), v2->directory());
  ASSERT_EQ(v1->libraries().size(), 1u);
  ASSERT_EQ(v2->libraries().size(), 1u);
  const std::string path1 = v1->libraries()[0]->path();
  const std::string path2 = v2->libraries()[0]->path();
  EXPECT_TRUE(IsResident(path1));
  EXPECT_TRUE(IsResident(path2));
  {
    runtime::SystemOptions options;
    options.deterministic = true;
    ActorSystem system(options);
    ASSERT_OK(system.RegisterLibrary(&v1->libraries()[0]->plugin()));
    ASSERT_OK(system.RegisterLibrary(&v2->libraries()[0]->plugin()));
    for (auto* loaded : {v1.get(), v2.get()}) {
      runtime::CreateOptions options;
      options.library = &loaded->libraries()[0]->plugin();
      ASSERT_OK_AND_ASSIGN(ActorRef actor, system.CreateActor("versioned.Version", options));
      ASSERT_OK_AND_ASSIGN(Message reply,
                           system.Ask(actor, Message::Make("version", ""), absl::Seconds(5)));
      EXPECT_EQ(reply.type(), "version");
      EXPECT_EQ(reply.payload(), loaded->version()) << "each version answers with its own code";
    }
    system.Shutdown();
  }  // no actor of either library is alive past here
  EXPECT_TRUE(v1->Unload().empty());
  EXPECT_FALSE(IsResident(path1));
  EXPECT_FALSE(fs::exists(v1->directory()));
  EXPECT_TRUE(IsResident(path2)) << "unloading one version leaves the other running";
  EXPECT_TRUE(v2->Unload().empty());
  EXPECT_FALSE(IsResident(path2));
}

TEST_F(BundleLoaderTest, LoadingTheSameBundleTwiceIsReported) {
  const std::string root = temp_ + "/code";
  bundle::VerifiedBundle verified = Verify(TROUPE_VERSIONED_1_0);
  ASSERT_OK_AND_ASSIGN(auto first, LoadedBundle::Load(verified, root));
  absl::StatusOr<std::unique_ptr<LoadedBundle>> second = LoadedBundle::Load(verified, root);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(std::string(second.status().message()).find("already loaded"), std::string::npos)
      << second.status();
}

TEST_F(BundleLoaderTest, ARootOthersCanWriteIsRefused) {
  const std::string root = temp_ + "/open";
  ASSERT_TRUE(fs::create_directory(root));
  fs::permissions(root, fs::perms::all);
  absl::StatusOr<std::unique_ptr<LoadedBundle>> loaded =
      LoadedBundle::Load(Verify(TROUPE_VERSIONED_1_0), root);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(loaded.status().message()).find("not a private directory"),
            std::string::npos)
      << loaded.status();
}

}  // namespace
}  // namespace troupe::loader
