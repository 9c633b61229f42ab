// handler_watch_test.cc - SystemOptions::watch_handlers: LongestRunningHandler
// names the handler (or constructor) running now and nothing once it is done.
#include <future>
#include <memory>

#include <gtest/gtest.h>

#include "daemon/runtime/actor_system.h"
#include "tests/common/status_matchers.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime {
namespace {

using runtime::testing::TestClass;

TEST(HandlerWatchTest, TheLongestRunningHandlerIsNamedWhileItRunsAndGoneAfter) {
  ActorSystem system(SystemOptions{.worker_threads = 2, .watch_handlers = true});
  std::promise<void> entered, release, probed;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_OK(system.RegisterClass(std::make_unique<TestClass>(TestClass::Spec{
      .name = "blocker",
      .receive = [&entered, &probed, released](testing::TestInstance&, Cell*, Message& m) {
        if (m.type() == "block") {
          entered.set_value();
          released.wait();
        } else if (m.type() == "probe") {
          probed.set_value();
        }
        return absl::OkStatus();
      }})));
  EXPECT_FALSE(system.LongestRunningHandler().has_value()) << "nothing runs yet";
  ASSERT_OK_AND_ASSIGN(ActorRef actor, system.CreateActor("blocker"));
  ASSERT_OK(system.Tell(actor, Message::Make("block", "")));
  entered.get_future().wait();
  std::optional<HandlerWatch::Running> running = system.LongestRunningHandler();
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->type, "block");
  EXPECT_GE(running->running, absl::ZeroDuration());
  release.set_value();
  ASSERT_OK(system.Tell(actor, Message::Make("probe", "")));
  probed.get_future().wait();
  // The probe runs after the blocking handler ended (one actor: in order).
  std::optional<HandlerWatch::Running> after = system.LongestRunningHandler();
  EXPECT_TRUE(!after.has_value() || after->type != "block") << after->type;
  system.Shutdown();
}

TEST(HandlerWatchTest, ASystemThatDoesNotWatchReportsNothing) {
  ActorSystem system(SystemOptions{.worker_threads = 1});
  EXPECT_FALSE(system.LongestRunningHandler().has_value());
  system.Shutdown();
}

}  // namespace
}  // namespace troupe::runtime
