// Tests of hosting_protos.h: hosting's structs become the Admin protos field
// by field, with the same states and times as `director list` / `status` show.
#include "daemon/service/hosting_protos.h"

#include <gtest/gtest.h>

namespace troupe::service {
namespace {

TEST(HostingProtosTest, BundleStatesMapToTheProtoStates) {
  EXPECT_EQ(ToProto(hosting::BundleState::kActive), v1::BUNDLE_STATE_ACTIVE);
  EXPECT_EQ(ToProto(hosting::BundleState::kInactive), v1::BUNDLE_STATE_INACTIVE);
  EXPECT_EQ(ToProto(hosting::BundleState::kDraining), v1::BUNDLE_STATE_DRAINING);
  EXPECT_EQ(ToProto(hosting::BundleState::kNone), v1::BUNDLE_STATE_UNSPECIFIED);
}

TEST(HostingProtosTest, ManagedActorStatesMapToTheProtoStates) {
  EXPECT_EQ(ToProto(hosting::ManagedActorState::kRunning), v1::MANAGED_ACTOR_STATE_RUNNING);
  EXPECT_EQ(ToProto(hosting::ManagedActorState::kExited), v1::MANAGED_ACTOR_STATE_EXITED);
  EXPECT_EQ(ToProto(hosting::ManagedActorState::kDown), v1::MANAGED_ACTOR_STATE_DOWN);
}

TEST(HostingProtosTest, ALoadedBundleKeepsEveryField) {
  hosting::BundleInfo bundle;
  bundle.hash = "0123456789abcdef0123";
  bundle.group = "hello";
  bundle.version = "1.2";
  bundle.state = hosting::BundleState::kActive;
  bundle.loaded_at = absl::FromUnixMillis(1700000000123);
  bundle.signing_key = "4b4241bbea3b6a7e";
  bundle.isolation = troupe::bundle::Isolation::kInline;
  bundle.isolation_reason = "isolation_default is inline";
  hosting::ManagedActor worker;
  worker.class_name = "hello.Worker";
  worker.address = "troupe://n/7";
  worker.role = "worker";
  worker.global_name = "hello";
  worker.started_at = absl::FromUnixMillis(1700000000456);
  worker.restarts = 2;
  worker.state = hosting::ManagedActorState::kDown;
  worker.last_exit = "crashed";
  bundle.actors.push_back(worker);
  hosting::ManagedActor waiting;  // never started
  waiting.class_name = "hello.Helper";
  bundle.actors.push_back(waiting);

  const v1::BundleInfo out = ToProto(bundle);
  EXPECT_EQ(out.hash(), "0123456789abcdef0123");
  EXPECT_EQ(out.group(), "hello");
  EXPECT_EQ(out.version(), "1.2");
  EXPECT_EQ(out.state(), v1::BUNDLE_STATE_ACTIVE);
  EXPECT_EQ(out.loaded_at_unix_ms(), 1700000000123);
  EXPECT_EQ(out.signing_key(), "4b4241bbea3b6a7e");
  EXPECT_EQ(out.isolation(), "inline");
  EXPECT_EQ(out.isolation_reason(), "isolation_default is inline");
  EXPECT_EQ(out.failure(), "");
  ASSERT_EQ(out.actors_size(), 2);
  const v1::ManagedActor& a = out.actors(0);
  EXPECT_EQ(a.class_name(), "hello.Worker");
  EXPECT_EQ(a.address(), "troupe://n/7");
  EXPECT_EQ(a.role(), "worker");
  EXPECT_EQ(a.global_name(), "hello");
  EXPECT_EQ(a.started_at_unix_ms(), 1700000000456);
  EXPECT_EQ(a.restarts(), 2u);
  EXPECT_EQ(a.state(), v1::MANAGED_ACTOR_STATE_DOWN);
  EXPECT_EQ(a.last_exit(), "crashed");
  EXPECT_EQ(out.actors(1).class_name(), "hello.Helper");
  EXPECT_EQ(out.actors(1).started_at_unix_ms(), 0) << "never started: the field stays unset";
  EXPECT_EQ(out.actors(1).state(), v1::MANAGED_ACTOR_STATE_RUNNING);
}

TEST(HostingProtosTest, ABundleThatRunsNothingHasNoStateAndSaysWhy) {
  hosting::BundleInfo held;
  held.hash = "abc";
  held.group = "hello";
  held.version = "1.0";
  held.failure = "held back: it crashed the daemon twice";
  const v1::BundleInfo out = ToProto(held);
  EXPECT_EQ(out.state(), v1::BUNDLE_STATE_UNSPECIFIED);
  EXPECT_EQ(out.loaded_at_unix_ms(), 0);
  EXPECT_EQ(out.failure(), "held back: it crashed the daemon twice");
  EXPECT_EQ(out.isolation(), "") << "it runs nowhere";
  EXPECT_EQ(out.isolation_reason(), "");
  EXPECT_EQ(out.actors_size(), 0);
}

TEST(HostingProtosTest, AnIsolatedVersionSaysProcessAndWhy) {
  hosting::BundleInfo bundle;
  bundle.group = "hello";
  bundle.version = "2.0";
  bundle.state = hosting::BundleState::kActive;
  bundle.isolation = troupe::bundle::Isolation::kProcess;
  bundle.isolation_reason = "signer 4b4241bbea3b6a7e is trusted --isolated";
  const v1::BundleInfo out = ToProto(bundle);
  EXPECT_EQ(out.isolation(), "process");
  EXPECT_EQ(out.isolation_reason(), "signer 4b4241bbea3b6a7e is trusted --isolated");
}

}  // namespace
}  // namespace troupe::service
