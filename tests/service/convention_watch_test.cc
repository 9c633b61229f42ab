// convention_watch_test.cc - ConventionWatch (Admin.WatchConvention) over a
// real gRPC server on a unix socket: the status now and after each change,
// no change lost while a write is in flight, several watchers, a client's
// cancel, and the daemon's stop.
#include "daemon/service/convention_watch.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/common/mutex.h"
#include "grpcpp/grpcpp.h"
#include "tests/common/temp_dir.h"
#include "troupe/v1/admin.grpc.pb.h"

namespace troupe::service {
namespace {

using Reader = grpc::ClientReader<v1::ConventionStatusResponse>;

// Admin with only WatchConvention served (the rest answers UNIMPLEMENTED).
class WatchOnlyAdmin final
    : public v1::Admin::WithCallbackMethod_WatchConvention<v1::Admin::Service> {
 public:
  explicit WatchOnlyAdmin(ConventionWatch* watch) : watch_(watch) {}
  grpc::ServerWriteReactor<v1::ConventionStatusResponse>* WatchConvention(
      grpc::CallbackServerContext* context, const v1::WatchConventionRequest*) override {
    return watch_->Watch(context);
  }

 private:
  ConventionWatch* const watch_;
};

class ConventionWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    blocking_ = std::make_unique<BlockingCalls>();
    watch_ = std::make_unique<ConventionWatch>(blocking_.get(), [this] { return Current(); });
    admin_ = std::make_unique<WatchOnlyAdmin>(watch_.get());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir_.path() + "/admin.sock",
                             grpc::InsecureServerCredentials());
    builder.RegisterService(admin_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Admin::NewStub(grpc::CreateChannel("unix:" + dir_.path() + "/admin.sock",
                                                   grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    watch_->Stop();
    blocking_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    EXPECT_TRUE(watch_->WaitForCallsToEnd(absl::Now() + absl::Seconds(10)));
  }

  // The status the watch sends: version `version_` (as missed_checkins) and
  // the members `members_`.
  v1::ConventionStatusResponse Current() {
    troupe::MutexLock lock(&mu_);
    v1::ConventionStatusResponse status;
    status.set_role("leader");
    status.set_missed_checkins(version_);
    for (const std::string& address : members_) status.add_members()->set_address(address);
    return status;
  }

  void SetState(int version, std::vector<std::string> members) {
    {
      troupe::MutexLock lock(&mu_);
      version_ = version;
      members_ = std::move(members);
    }
    watch_->Changed();
  }

  std::unique_ptr<Reader> Watch(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->WatchConvention(context, v1::WatchConventionRequest());
  }

  // Waits (bounded by the deadline above) until open_streams() is `n`.
  bool WaitForOpenStreams(uint32_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (watch_->open_streams() != n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  troupe::testing::TempDir dir_{"convention_watch"};
  troupe::Mutex mu_;
  int version_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> members_ ABSL_GUARDED_BY(mu_) = {"127.0.0.1:7001"};
  std::unique_ptr<BlockingCalls> blocking_;
  std::unique_ptr<ConventionWatch> watch_;
  std::unique_ptr<WatchOnlyAdmin> admin_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Admin::Stub> stub_;
};

TEST_F(ConventionWatchTest, SendsTheStatusNowAndAfterEachChange) {
  grpc::ClientContext context;
  std::unique_ptr<Reader> reader = Watch(&context);
  v1::ConventionStatusResponse status;
  ASSERT_TRUE(reader->Read(&status));
  EXPECT_EQ(status.role(), "leader");
  ASSERT_EQ(status.members_size(), 1);

  SetState(1, {"127.0.0.1:7001", "127.0.0.1:7002"});
  ASSERT_TRUE(reader->Read(&status));
  EXPECT_EQ(status.missed_checkins(), 1);
  EXPECT_EQ(status.members_size(), 2);

  SetState(2, {"127.0.0.1:7001"});
  ASSERT_TRUE(reader->Read(&status));
  EXPECT_EQ(status.missed_checkins(), 2);
  EXPECT_EQ(status.members_size(), 1);
}

TEST_F(ConventionWatchTest, ChangesDuringWritesAreNotLost) {
  grpc::ClientContext context;
  std::unique_ptr<Reader> reader = Watch(&context);
  v1::ConventionStatusResponse status;
  ASSERT_TRUE(reader->Read(&status));
  constexpr int kChanges = 200;
  for (int v = 1; v <= kChanges; ++v) SetState(v, {"127.0.0.1:7001"});
  // Changes close together may come as one update; the last one arrives.
  int last = 0;
  while (status.missed_checkins() != kChanges) {
    ASSERT_TRUE(reader->Read(&status)) << "the stream ended before the last change arrived";
    EXPECT_GE(status.missed_checkins(), last);  // never an older state after a newer one
    last = status.missed_checkins();
  }
  // Nothing older is pending: the next read is the next change.
  SetState(kChanges + 1, {});
  ASSERT_TRUE(reader->Read(&status));
  EXPECT_EQ(status.missed_checkins(), kChanges + 1);
}

TEST_F(ConventionWatchTest, EveryWatcherGetsEachChange) {
  constexpr int kWatchers = 3;
  grpc::ClientContext contexts[kWatchers];
  std::vector<std::unique_ptr<Reader>> readers;
  v1::ConventionStatusResponse status;
  for (auto& context : contexts) {
    readers.push_back(Watch(&context));
    ASSERT_TRUE(readers.back()->Read(&status));
  }
  SetState(7, {"127.0.0.1:7001", "127.0.0.1:7003"});
  for (auto& reader : readers) {
    ASSERT_TRUE(reader->Read(&status));
    EXPECT_EQ(status.missed_checkins(), 7);
  }
}

TEST_F(ConventionWatchTest, AClientThatCancelsEndsItsStream) {
  grpc::ClientContext context;
  std::unique_ptr<Reader> reader = Watch(&context);
  v1::ConventionStatusResponse status;
  ASSERT_TRUE(reader->Read(&status));
  ASSERT_EQ(watch_->open_streams(), 1u);
  context.TryCancel();
  EXPECT_FALSE(reader->Read(&status));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitForOpenStreams(0));
  SetState(1, {});  // no stream left to write to
}

TEST_F(ConventionWatchTest, StopEndsEveryStreamAndRefusesNewOnes) {
  grpc::ClientContext context;
  std::unique_ptr<Reader> reader = Watch(&context);
  v1::ConventionStatusResponse status;
  ASSERT_TRUE(reader->Read(&status));
  watch_->Stop();
  EXPECT_FALSE(reader->Read(&status));
  grpc::Status ended = reader->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ended.error_message(), "the daemon is stopping");

  grpc::ClientContext later;
  std::unique_ptr<Reader> refused = Watch(&later);
  EXPECT_FALSE(refused->Read(&status));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(WaitForOpenStreams(0));
}

}  // namespace
}  // namespace troupe::service
