// Tests of AskRouter: replies, timeouts and stopping.
#include <future>

#include "daemon/service/ask_router.h"
#include "tests/common/status_matchers.h"

namespace troupe::service {
namespace {

class AskRouterTest : public ::testing::Test {
 protected:
  AskRouterTest() : system_(runtime::SystemOptions{.worker_threads = 2}), router_(&system_) {
    echo_ = system_.SpawnNative(
        [](runtime::Cell* self, runtime::Message& m) {
          if (m.sender() != nullptr) {
            self->system()->Deliver(m.sender(), runtime::Message::Make("re", m.payload(), self));
          }
        },
        "echo");
    silent_ = system_.SpawnNative([](runtime::Cell*, runtime::Message&) {}, "silent");
  }
  ~AskRouterTest() override {
    router_.Stop();
    system_.Shutdown();
  }
  std::future<absl::StatusOr<std::string>> Ask(const runtime::ActorRef& target,
                                               absl::Duration timeout) {
    auto promise = std::make_shared<std::promise<absl::StatusOr<std::string>>>();
    router_.Ask(system_.FormatAddress(target.get()), runtime::Message::Make("q", "payload"),
                timeout, [promise](absl::StatusOr<AskReply> reply) {
                  if (!reply.ok()) {
                    promise->set_value(reply.status());
                  } else {
                    promise->set_value(std::string(reply->message.type()) + ":" +
                                       std::string(reply->message.payload()));
                  }
                });
    return promise->get_future();
  }

  runtime::ActorSystem system_;
  AskRouter router_;
  runtime::ActorRef echo_;
  runtime::ActorRef silent_;
};

TEST_F(AskRouterTest, ReplyCompletesTheAskOnce) {
  absl::StatusOr<std::string> reply = Ask(echo_, absl::Seconds(10)).get();
  ASSERT_OK(reply.status());
  EXPECT_EQ(*reply, "re:payload");
  EXPECT_EQ(router_.pending(), 0u);
}

TEST_F(AskRouterTest, NoReplyEndsWithDeadlineExceededNamingTheTarget) {
  absl::StatusOr<std::string> reply = Ask(silent_, absl::Milliseconds(10)).get();
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_CONTAINS(reply.status().message(), system_.FormatAddress(silent_.get()));
  EXPECT_EQ(router_.pending(), 0u);
}

TEST_F(AskRouterTest, StopCancelsPendingAsksAndRefusesNewOnes) {
  auto pending = Ask(silent_, absl::Hours(1));
  router_.Stop();
  EXPECT_EQ(pending.get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Ask(echo_, absl::Seconds(1)).get().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(AskRouterTest, AnUnknownNameEndsTheAskAtOnceWithNotFound) {
  auto promise = std::make_shared<std::promise<absl::Status>>();
  router_.Ask("nobody", runtime::Message::Make("q", ""), absl::Hours(1),
              [promise](absl::StatusOr<AskReply> reply) { promise->set_value(reply.status()); });
  absl::Status status = promise->get_future().get();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(status.message(), "no actor is named 'nobody'");
  EXPECT_EQ(router_.pending(), 0u);
}

TEST_F(AskRouterTest, ManyAsksWithMixedOutcomesAllComplete) {
  std::vector<std::future<absl::StatusOr<std::string>>> answered;
  std::vector<std::future<absl::StatusOr<std::string>>> timed_out;
  for (int i = 0; i < 2000; ++i) {
    answered.push_back(Ask(echo_, absl::Seconds(30)));
    if (i % 100 == 0) timed_out.push_back(Ask(silent_, absl::Milliseconds(1)));
  }
  for (auto& f : answered) EXPECT_OK(f.get().status());
  for (auto& f : timed_out) {
    EXPECT_EQ(f.get().status().code(), absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(router_.pending(), 0u);
}

}  // namespace
}  // namespace troupe::service
