// isolation_policy_test.cc - where BundleHost runs each version (signer's
// mark, then manifest, then isolation_default) and, for a bundle host given
// no isolated hosts (no host program: troupd always gives one), that a
// version which must run isolated is refused with UNIMPLEMENTED and a clear
// error, leaves nothing behind, and disturbs no
// inline version. The bundles are the versioned test bundles, rebuilt here
// with another manifest and signed with keys made by the test.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/bundle/bundle.h"
#include "daemon/bundle/isolation.h"
#include "daemon/bundle/keys.h"
#include "daemon/bundle/manifest.h"
#include "daemon/common/strings.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/runtime/actor_system.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::hosting {
namespace {

namespace fs = std::filesystem;
using bundle::Isolation;
using bundle::IsolationMark;
using runtime::ActorRef;
using runtime::ActorSystem;
using runtime::Message;

constexpr absl::Duration kWait = absl::Seconds(20);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A signing key of the test: its pair and its public key file.
struct TestKey {
  bundle::KeyPair pair;
  std::string public_path;
  std::string id;
};

class IsolationPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(trust_.Trust(TROUPE_BUILD_PUBLIC_KEY));
    system_ = std::make_unique<ActorSystem>(runtime::SystemOptions{.worker_threads = 2});
  }
  void TearDown() override {
    host_.reset();
    system_->Shutdown();
  }

  BundleHost& Host() {
    if (host_ == nullptr) {
      HostOptions options;
      options.troupe_dir = dir_;
      options.drain_timeout = kWait;
      options.load_timeout = kWait;
      options.isolation_default = isolation_default_;
      host_ = std::make_unique<BundleHost>(system_.get(), options);
    }
    return *host_;
  }
  // Replaces the host, as a restarted daemon with `isolation_default`.
  void RestartHost(Isolation isolation_default) {
    Host().Shutdown();
    host_.reset();
    isolation_default_ = isolation_default;
  }

  // A new key pair in the temp dir (not trusted yet).
  TestKey NewKey(const std::string& name) {
    TestKey key;
    absl::StatusOr<bundle::KeyPair> pair = bundle::GenerateKeyPair();
    EXPECT_OK(pair);
    key.pair = *pair;
    EXPECT_OK(bundle::WriteKeyPair(key.pair, keys_dir_.path(), name));
    key.public_path = keys_dir_.path() + "/" + name + ".pub";
    key.id = bundle::KeyId(key.pair.public_key);
    return key;
  }

  // The built bundle `path` with its manifest's isolation set to `isolation`
  // ("" leaves it unset), signed with `key`.
  std::string Rebuilt(const std::string& path, const std::string& isolation, const TestKey& key) {
    absl::StatusOr<bundle::VerifiedBundle> original = bundle::VerifyBundleFile(path, trust_);
    EXPECT_OK(original);
    if (!original.ok()) return "";
    std::vector<bundle::EntryInput> entries;
    for (const bundle::VerifiedEntry& entry : original->entries) {
      if (entry.name == bundle::kManifestEntry) continue;
      absl::StatusOr<std::string> content = original->ReadEntry(entry.name);
      EXPECT_OK(content);
      const bool code = entry.name.rfind("lib/", 0) == 0 || entry.name.rfind("deps/", 0) == 0;
      entries.push_back({entry.name, content.value_or(""), code});
    }
    troupe::v1::Manifest manifest = original->manifest;
    manifest.set_isolation(isolation);
    entries.push_back({std::string(bundle::kManifestEntry), bundle::ManifestToJson(manifest)});
    absl::StatusOr<std::string> bytes = bundle::BuildBundle(std::move(entries), key.pair);
    EXPECT_OK(bytes);
    return bytes.value_or("");
  }
  // The source hash of `bytes` (verified against this directory's keys).
  std::string HashOf(const std::string& bytes) {
    absl::StatusOr<bundle::VerifiedBundle> verified = bundle::VerifyBundle(bytes, "test", trust_);
    EXPECT_OK(verified);
    return verified.ok() ? verified->source_hash : "";
  }

  // Asks the actor named "versioned" for its version.
  std::string VersionOfVersioned() {
    absl::StatusOr<ActorRef> actor = system_->Lookup("versioned");
    if (!actor.ok()) return std::string(actor.status().message());
    absl::StatusOr<Message> reply =
        system_->Ask(*actor, Message::Make("version", ""), absl::Seconds(10));
    if (!reply.ok()) return std::string(reply.status().message());
    return std::string(reply->payload());
  }

  // Expects `outcome` to be the refusal of `group` `version` for `reason`,
  // and nothing of the bundle with `hash` to be stored, recorded or listed.
  void ExpectRefused(const absl::StatusOr<LoadOutcome>& outcome, const std::string& version,
                     const std::string& reason, const std::string& hash) {
    ASSERT_FALSE(outcome.ok()) << "version " << version << " was loaded";
    EXPECT_EQ(outcome.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_EQ(outcome.status().message(),
              "bundle 'versioned' version '" + version + "' must run isolated (" + reason +
                  ") but this bundle host runs no isolated hosts (it has no host program)");
    EXPECT_FALSE(fs::exists(dir_ + "/loaded/" + hash + ".troupe")) << "no stored copy";
    EXPECT_FALSE(fs::exists(dir_ + "/loaded/code/" + hash)) << "no code extracted";
    EXPECT_EQ(ReadFile(dir_ + "/loaded/state").find(hash), std::string::npos) << "not recorded";
    for (const BundleInfo& info : Host().List()) EXPECT_NE(info.hash, hash) << "not listed";
  }

  // The one listed version of the versioned group, which must be inline.
  void ExpectOnlyInline(const std::string& version, const std::string& reason) {
    const std::vector<BundleInfo> listed = Host().List("versioned");
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].version, version);
    EXPECT_EQ(listed[0].state, BundleState::kActive);
    EXPECT_EQ(listed[0].isolation, Isolation::kInline);
    EXPECT_EQ(listed[0].isolation_reason, reason);
    EXPECT_EQ(VersionOfVersioned(), version) << "the inline version keeps serving";
  }

  troupe::testing::TempDir temp_{"isolation_policy"};
  troupe::testing::TempDir keys_dir_{"isolation_policy_keys"};
  const std::string dir_ = temp_.path();
  const bundle::TrustStore trust_{dir_ + "/keys/trusted"};
  Isolation isolation_default_ = Isolation::kInline;
  std::unique_ptr<ActorSystem> system_;
  std::unique_ptr<BundleHost> host_;
};

TEST_F(IsolationPolicyTest, AnInlineVersionSaysWhereItRunsAndWhy) {
  ASSERT_OK_AND_ASSIGN(LoadOutcome loaded, Host().LoadFile(TROUPE_VERSIONED_1_0));
  EXPECT_EQ(loaded.bundle.isolation, Isolation::kInline);
  EXPECT_EQ(loaded.bundle.isolation_reason, "isolation_default is inline");
  ExpectOnlyInline("1.0", "isolation_default is inline");

  const TestKey key = NewKey("plain");
  ASSERT_OK(trust_.Trust(key.public_path));
  ASSERT_OK_AND_ASSIGN(LoadOutcome said_inline,
                       Host().LoadBytes(Rebuilt(TROUPE_VERSIONED_2_0, "inline", key)));
  EXPECT_EQ(said_inline.bundle.isolation, Isolation::kInline);
  EXPECT_EQ(said_inline.bundle.isolation_reason, "the manifest says inline");
}

TEST_F(IsolationPolicyTest, AManifestSayingProcessIsRefusedAndTheInlineVersionKeepsServing) {
  ASSERT_OK(Host().LoadFile(TROUPE_VERSIONED_1_0));
  const TestKey key = NewKey("plain");
  ASSERT_OK(trust_.Trust(key.public_path));
  const std::string process = Rebuilt(TROUPE_VERSIONED_2_0, "process", key);
  ExpectRefused(Host().LoadBytes(process), "2.0", "the manifest says process", HashOf(process));
  ExpectOnlyInline("1.0", "isolation_default is inline");

  // From a file too, and again: still refused, still nothing left behind.
  const std::string file = keys_dir_.path() + "/versioned-2.0.troupe";
  std::ofstream(file, std::ios::binary) << process;
  ExpectRefused(Host().LoadFile(file), "2.0", "the manifest says process", HashOf(process));
  ExpectOnlyInline("1.0", "isolation_default is inline");
}

TEST_F(IsolationPolicyTest, IsolationDefaultProcessRefusesWhatSaysNothingButNotWhatSaysInline) {
  isolation_default_ = Isolation::kProcess;
  const TestKey key = NewKey("plain");
  ASSERT_OK(trust_.Trust(key.public_path));
  const std::string said_inline = Rebuilt(TROUPE_VERSIONED_1_0, "inline", key);
  ASSERT_OK_AND_ASSIGN(LoadOutcome loaded, Host().LoadBytes(said_inline));
  EXPECT_EQ(loaded.bundle.isolation_reason, "the manifest says inline");
  ExpectOnlyInline("1.0", "the manifest says inline");

  const std::string says_nothing = ReadFile(TROUPE_VERSIONED_2_0);
  ExpectRefused(Host().LoadFile(TROUPE_VERSIONED_2_0), "2.0", "isolation_default is process",
                HashOf(says_nothing));
  ExpectOnlyInline("1.0", "the manifest says inline");
}

TEST_F(IsolationPolicyTest, ASignerTrustedIsolatedIsRefusedWhateverItsManifestSays) {
  ASSERT_OK(Host().LoadFile(TROUPE_VERSIONED_1_0));  // the build key: not marked
  const TestKey key = NewKey("boxed");
  ASSERT_OK(trust_.Trust(key.public_path, IsolationMark::kIsolated));
  const std::string marked = "signer " + key.id + " is trusted --isolated";

  const std::string says_nothing = Rebuilt(TROUPE_VERSIONED_2_0, "", key);
  ExpectRefused(Host().LoadBytes(says_nothing), "2.0", marked, HashOf(says_nothing));
  const std::string said_inline = Rebuilt(TROUPE_VERSIONED_2_0, "inline", key);
  ExpectRefused(Host().LoadBytes(said_inline), "2.0",
                marked + " (the manifest's inline does not apply)", HashOf(said_inline));
  ExpectOnlyInline("1.0", "isolation_default is inline");

  // The trust store is read on every load: once the mark is lifted, the
  // manifest decides again.
  ASSERT_OK(trust_.Trust(key.public_path, IsolationMark::kInline));
  ASSERT_OK_AND_ASSIGN(LoadOutcome loaded, Host().LoadBytes(said_inline));
  EXPECT_EQ(loaded.bundle.isolation, Isolation::kInline);
  EXPECT_EQ(loaded.bundle.isolation_reason, "the manifest says inline");
  EXPECT_EQ(VersionOfVersioned(), "2.0");
}

TEST_F(IsolationPolicyTest, ARecordedVersionThatMustNowRunIsolatedIsKeptButNotRestored) {
  const TestKey key = NewKey("later_boxed");
  ASSERT_OK(trust_.Trust(key.public_path));
  const std::string resigned = Rebuilt(TROUPE_VERSIONED_1_0, "", key);
  ASSERT_OK_AND_ASSIGN(LoadOutcome first, Host().LoadBytes(resigned));
  ASSERT_OK(Host().LoadFile(TROUPE_VERSIONED_2_0));  // the build key: stays inline
  const std::string hash = first.bundle.hash;

  // The signer is marked while the daemon is down: at the next start its
  // version is not run inline, and not lost either.
  ASSERT_OK(trust_.Trust(key.public_path, IsolationMark::kIsolated));
  RestartHost(Isolation::kInline);
  const std::vector<std::string> problems = Host().Restore();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_CONTAINS(problems[0], "versioned 1.0 (" + hash.substr(0, 16) + ") was not restored: " +
                                   "bundle 'versioned' version '1.0' must run isolated (signer " +
                                   key.id +
                                   " is trusted --isolated) but this bundle host runs no "
                                   "isolated hosts (it has no host program)");
  ExpectOnlyInline("2.0", "isolation_default is inline");
  const std::vector<BundleInfo> held = Host().NotRestored();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].hash, hash);
  EXPECT_FALSE(held[0].isolation.has_value()) << "it runs nowhere";
  EXPECT_CONTAINS(held[0].failure, "must run isolated");
  EXPECT_TRUE(fs::exists(dir_ + "/loaded/" + hash + ".troupe")) << "its copy is kept";
  EXPECT_CONTAINS(ReadFile(dir_ + "/loaded/state"), hash + " inactive # versioned 1.0\n");

  // Lifted again: the next start restores it.
  ASSERT_OK(trust_.Trust(key.public_path, IsolationMark::kInline));
  RestartHost(Isolation::kInline);
  EXPECT_TRUE(Host().Restore().empty());
  EXPECT_EQ(Host().List("versioned").size(), 2u);
}

}  // namespace
}  // namespace troupe::hosting
