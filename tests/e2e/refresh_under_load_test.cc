// Refresh under load: while one client streams numbered tells and asks to the
// global name "refresh", version 2.0 of the bundle is loaded. Every message
// must be answered exactly once (none lost in the switch, none handled twice),
// every message sent after the load returned must be answered by 2.0, and 1.0
// (AutoUnload enabled) must be unloaded once it has drained.
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "tests/common/root_access.h"
#include "tests/e2e/daemon_harness.h"
#include "troupe/client.h"
#include "troupe/v1/admin.grpc.pb.h"

namespace troupe::testing {
namespace {

// What came back: for each number, the versions that answered it.
class Answers {
 public:
  void Add(const std::string& payload) {
    const size_t colon = payload.find(':');
    std::lock_guard<std::mutex> lock(mu_);
    if (colon == std::string::npos) {
      malformed_.push_back(payload);
    } else {
      by_number_[std::stoull(payload.substr(colon + 1))].push_back(payload.substr(0, colon));
      ++count_;
    }
    cv_.notify_all();
  }
  void AddError(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(status.ToString());
    cv_.notify_all();
  }
  // Waits until `n` answers arrived or `timeout` passed; false on timeout.
  bool WaitFor(uint64_t n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ + errors_.size() >= n; });
  }
  uint64_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  std::map<uint64_t, std::vector<std::string>> by_number() {
    std::lock_guard<std::mutex> lock(mu_);
    return by_number_;
  }
  std::vector<std::string> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  std::vector<std::string> malformed() {
    std::lock_guard<std::mutex> lock(mu_);
    return malformed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::vector<std::string>> by_number_;
  std::vector<std::string> errors_;
  std::vector<std::string> malformed_;
  uint64_t count_ = 0;
};

// Run inline and with both versions in isolated host processes
// (isolation_default process): the switch behaves the same.
class RefreshUnderLoadTest : public ::testing::TestWithParam<bool> {};

TEST_P(RefreshUnderLoadTest, NoMessageIsLostOrDuplicatedAndLaterOnesGoToTheNewVersion) {
  const bool isolated = GetParam();
  // troupd as root runs its hosts as nobody.
  if (isolated && ::geteuid() == 0 && !troupe::testing::OthersCanSearchRoot()) {
    GTEST_SKIP() << troupe::testing::kRootNotSearchable;
  }
  DaemonHarness harness;
  if (isolated) WriteFileForTest(harness.dir() + "/config/isolation_default", "process\n");
  ASSERT_TRUE(harness.StartDaemon());
  CommandResult first = harness.Director({"load", TROUPE_REFRESH_1_0});
  ASSERT_EQ(first.code, 0) << first;

  absl::StatusOr<std::unique_ptr<Client>> connected = Client::Connect(harness.socket());
  ASSERT_TRUE(connected.ok()) << connected.status();
  Client& client = **connected;
  Answers answers;
  // Tells come from the client's address, so their answers come back here.
  client.Subscribe([&](Client::Message m) { answers.Add(m.payload); },
                   [&](absl::Status s) { answers.AddError(s); });

  constexpr uint64_t kBeforeLoad = 3000;  // sent before the new version is loaded
  constexpr uint64_t kAfterLoad = 3000;   // sent after the load returned
  constexpr uint64_t kMaxInFlight = 2000;
  std::atomic<bool> loaded{false};
  std::atomic<uint64_t> first_after_load{0};
  std::atomic<uint64_t> sent{0};
  std::promise<void> warmed_up;
  std::thread sender([&] {
    uint64_t after = 0;
    for (uint64_t i = 0;; ++i) {
      if (loaded.load()) {
        if (after == 0) first_after_load = i;
        if (++after > kAfterLoad) break;
      }
      if (i == kBeforeLoad) warmed_up.set_value();
      // Bounded: at most kMaxInFlight unanswered messages.
      while (i - answers.count() > kMaxInFlight)
        answers.WaitFor(i - kMaxInFlight, std::chrono::seconds(1));
      Client::Message m{"n", std::to_string(i), ""};
      if (i % 8 == 7) {
        client.AskAsync("refresh", m, absl::Seconds(60),
                        [&](absl::StatusOr<Client::Message> reply) {
                          if (reply.ok()) {
                            answers.Add(reply->payload);
                          } else {
                            answers.AddError(reply.status());
                          }
                        });
      } else {
        absl::Status told = client.Tell("refresh", m);
        if (!told.ok()) answers.AddError(told);
      }
      sent = i + 1;
    }
  });
  warmed_up.get_future().wait();
  CommandResult second = harness.Director({"load", TROUPE_REFRESH_2_0});
  loaded = true;
  sender.join();
  ASSERT_EQ(second.code, 0) << second;

  const uint64_t total = sent.load();
  ASSERT_TRUE(answers.WaitFor(total, std::chrono::seconds(60)))
      << "only " << answers.count() << " of " << total << " answered";
  EXPECT_TRUE(answers.errors().empty()) << answers.errors().front();
  EXPECT_TRUE(answers.malformed().empty());
  std::map<uint64_t, std::vector<std::string>> by_number = answers.by_number();
  ASSERT_EQ(by_number.size(), total);  // none lost
  uint64_t by_old = 0;
  for (const auto& [number, versions] : by_number) {
    ASSERT_LT(number, total);
    ASSERT_EQ(versions.size(), 1u)
        << "message " << number << " answered " << versions.size() << " times";  // none duplicated
    if (number >= first_after_load.load()) {
      ASSERT_EQ(versions[0], "2.0") << "message " << number << " was sent after the load";
    }
    if (versions[0] == "1.0") ++by_old;
  }
  EXPECT_GE(by_old, kBeforeLoad);  // the old version served until the switch

  // 1.0 has drained and is gone; 2.0 is active.
  auto admin = v1::Admin::NewStub(
      grpc::CreateChannel("unix:" + harness.socket(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::ListRequest request;
  request.set_group("refresh");
  v1::ListResponse list;
  ASSERT_TRUE(admin->List(&context, request, &list).ok());
  ASSERT_EQ(list.bundles_size(), 1) << list.DebugString();
  EXPECT_EQ(list.bundles(0).version(), "2.0");
  EXPECT_EQ(list.bundles(0).state(), v1::BUNDLE_STATE_ACTIVE);
  EXPECT_EQ(list.bundles(0).isolation(), isolated ? "process" : "inline");

  // The daemon counted no dead letters: nothing fell between the versions.
  grpc::ClientContext status_context;
  v1::StatusResponse status;
  ASSERT_TRUE(admin->Status(&status_context, v1::StatusRequest(), &status).ok());
  EXPECT_EQ(status.system().dead_letters(), 0u) << status.text();
}

INSTANTIATE_TEST_SUITE_P(InlineAndIsolated, RefreshUnderLoadTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Isolated" : "Inline";
                         });

}  // namespace
}  // namespace troupe::testing
