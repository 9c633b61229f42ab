// Tests of SdNotify (daemon/common/sd_notify.h) against NotifyListener
// (tests/common/notify_listener.h): datagrams reach a socket file and an
// abstract name; unset is a no-op; a socket nobody binds is an error naming it.
#include "daemon/common/sd_notify.h"

#include <stdlib.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/notify_listener.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe {
namespace {

using ::troupe::testing::NotifyListener;

// Sets NOTIFY_SOCKET for the test's scope, restoring the previous value.
class ScopedNotifySocket {
 public:
  explicit ScopedNotifySocket(const std::string* value) {
    if (const char* old = ::getenv("NOTIFY_SOCKET")) old_ = old;
    if (value == nullptr) {
      ::unsetenv("NOTIFY_SOCKET");
    } else {
      ::setenv("NOTIFY_SOCKET", value->c_str(), 1);
    }
  }
  ~ScopedNotifySocket() {
    if (old_.has_value()) {
      ::setenv("NOTIFY_SOCKET", old_->c_str(), 1);
    } else {
      ::unsetenv("NOTIFY_SOCKET");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(SdNotifyTest, SendsToASocketFile) {
  NotifyListener listener;
  ASSERT_TRUE(listener.ok());
  ASSERT_EQ(listener.socket().front(), '/');
  ScopedNotifySocket env(&listener.socket());
  ASSERT_OK(SdNotify("READY=1\nSTATUS=serving"));
  std::optional<std::string> datagram = listener.Next(absl::Seconds(10));
  ASSERT_TRUE(datagram.has_value());
  EXPECT_EQ(*datagram, "READY=1\nSTATUS=serving");
}

TEST(SdNotifyTest, SendsToAnAbstractName) {
  NotifyListener listener(NotifyListener::Namespace::kAbstract);
  ASSERT_TRUE(listener.ok());
  ASSERT_EQ(listener.socket().front(), '@');
  ScopedNotifySocket env(&listener.socket());
  ASSERT_OK(SdNotifyReady());
  std::optional<std::string> datagram = listener.Next(absl::Seconds(10));
  ASSERT_TRUE(datagram.has_value());
  EXPECT_EQ(*datagram, "READY=1");
}

TEST(SdNotifyTest, HelpersSendTheirAssignmentsInOrder) {
  NotifyListener listener;
  ASSERT_TRUE(listener.ok());
  ScopedNotifySocket env(&listener.socket());
  ASSERT_OK(SdNotifyStatus("restoring 2 bundles\nfrom disk"));
  ASSERT_OK(SdNotifyExtendTimeout(absl::Seconds(30)));
  ASSERT_OK(SdNotifyReady());
  ASSERT_OK(SdNotifyStopping());
  ASSERT_TRUE(listener.WaitForLine("STOPPING=1", absl::Seconds(10)));
  EXPECT_EQ(listener.Lines(),
            (std::vector<std::string>{"STATUS=restoring 2 bundles from disk",
                                      "EXTEND_TIMEOUT_USEC=30000000", "READY=1", "STOPPING=1"}));
}

TEST(SdNotifyTest, ExtendTimeoutNeverGoesNegative) {
  EXPECT_EQ(SdExtendTimeoutLine(absl::Milliseconds(1500)), "EXTEND_TIMEOUT_USEC=1500000");
  EXPECT_EQ(SdExtendTimeoutLine(-absl::Seconds(1)), "EXTEND_TIMEOUT_USEC=0");
}

TEST(SdNotifyTest, UnsetOrEmptySocketIsANoOp) {
  {
    ScopedNotifySocket env(nullptr);
    EXPECT_OK(SdNotifyReady());
    EXPECT_OK(SdNotify("STATUS=x"));
  }
  const std::string empty;
  ScopedNotifySocket env(&empty);
  EXPECT_OK(SdNotifyReady());
}

TEST(SdNotifyTest, SocketNobodyListensOnIsAnErrorNamingIt) {
  troupe::testing::TempDir dir("sd_notify");
  const std::string missing = dir.path() + "/nobody.sock";
  ScopedNotifySocket env(&missing);
  absl::Status status = SdNotifyReady();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_CONTAINS(status.message(), missing);

  // An abstract name nobody bound.
  const std::string abstract = "@troupe-test-nobody-listens-here";
  ScopedNotifySocket env2(&abstract);
  status = SdNotifyReady();
  EXPECT_FALSE(status.ok());
  EXPECT_CONTAINS(status.message(), abstract);
}

TEST(SdNotifyTest, RejectsARelativeSocketAndAnEmptyState) {
  absl::Status relative = SdNotifyTo("run/notify", "READY=1");
  EXPECT_EQ(relative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(relative.message(), "run/notify");
  EXPECT_EQ(SdNotifyTo("/run/notify", "").code(), absl::StatusCode::kInvalidArgument);
  const std::string too_long = "/" + std::string(200, 'x');
  absl::Status long_status = SdNotifyTo(too_long, "READY=1");
  EXPECT_EQ(long_status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(long_status.message(), "longer than");
}

TEST(NotifyListenerTest, WaitForLineSeesDatagramsFromAnotherThread) {
  NotifyListener listener;
  ASSERT_TRUE(listener.ok());
  std::thread sender([socket = listener.socket()] {
    EXPECT_OK(SdNotifyTo(socket, "STATUS=restoring"));
    EXPECT_OK(SdNotifyTo(socket, "STATUS=binding\nREADY=1"));
  });
  EXPECT_TRUE(listener.WaitForLine("READY=1", absl::Seconds(10)));
  sender.join();
  EXPECT_EQ(listener.Lines(),
            (std::vector<std::string>{"STATUS=restoring", "STATUS=binding", "READY=1"}));
  // Lines already received count; nothing new arrives.
  EXPECT_TRUE(listener.WaitForLine("STATUS=restoring", absl::ZeroDuration()));
  EXPECT_FALSE(listener.WaitForLine("STOPPING=1", absl::ZeroDuration()));
  EXPECT_FALSE(listener.WaitForLine("READY", absl::ZeroDuration())) << "whole lines only";
}

}  // namespace
}  // namespace troupe
