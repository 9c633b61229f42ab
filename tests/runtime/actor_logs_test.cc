// actor_logs_test.cc - the per-actor log rings (daemon/runtime/actor_logs.h):
// bounds, tails, and the rings of exited actors.
#include "daemon/runtime/actor_logs.h"

#include <string>

#include <gtest/gtest.h>

namespace troupe::runtime {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

TEST(ActorLogsTest, KeepsTheNewestLinesUpToTheLimitAndCountsTheRest) {
  ActorLogs logs(3);
  for (int i = 1; i <= 5; ++i) logs.Append("troupe://n/1", 6, "line " + std::to_string(i), kNow);
  ActorLogTail tail;
  ASSERT_TRUE(logs.Tail("troupe://n/1", 0, &tail));
  ASSERT_EQ(tail.lines.size(), 3u);
  EXPECT_EQ(tail.lines[0].text, "line 3");
  EXPECT_EQ(tail.lines[2].text, "line 5");
  EXPECT_EQ(tail.dropped, 2u);
  EXPECT_FALSE(tail.exited);
  ActorLogTail last;
  ASSERT_TRUE(logs.Tail("troupe://n/1", 1, &last));
  ASSERT_EQ(last.lines.size(), 1u);
  EXPECT_EQ(last.lines[0].text, "line 5");
  EXPECT_FALSE(logs.Tail("troupe://n/2", 0, &tail));
}

TEST(ActorLogsTest, LongLinesAreCutAndTheRingIsBoundedInBytes) {
  ActorLogs logs(1000);
  const std::string long_line(ActorLogs::kMaxLineBytes * 2, 'x');
  for (int i = 0; i < 100; ++i) logs.Append("a", 6, long_line, kNow);
  ActorLogTail tail;
  ASSERT_TRUE(logs.Tail("a", 0, &tail));
  EXPECT_EQ(tail.lines.back().text.size(), ActorLogs::kMaxLineBytes);
  EXPECT_LE(tail.lines.size() * ActorLogs::kMaxLineBytes, ActorLogs::kMaxActorBytes);
  EXPECT_EQ(tail.lines.size() + tail.dropped, 100u);
}

TEST(ActorLogsTest, TheRingsOfTheLastExitedActorsStayReadable) {
  ActorLogs logs(10);
  const size_t actors = ActorLogs::kExitedKept + 1;
  for (size_t i = 0; i < actors; ++i) {
    const std::string address = "troupe://n/" + std::to_string(i);
    logs.Append(address, 4, "bye", kNow);
    logs.Exited(address);
  }
  ActorLogTail tail;
  EXPECT_FALSE(logs.Tail("troupe://n/0", 0, &tail));  // the oldest exited one is forgotten
  ASSERT_TRUE(logs.Tail("troupe://n/1", 0, &tail));
  EXPECT_TRUE(tail.exited);
  EXPECT_EQ(tail.lines[0].level, 4);
}

TEST(ActorLogsTest, LinesAreKeptAsValidUtf8) {
  ActorLogs logs(10);
  logs.Append("a", 6, "bad \xff byte", kNow);
  // A cut through a two-byte character (\xc3\xa9, e-acute) at the limit.
  logs.Append("a", 6, std::string(ActorLogs::kMaxLineBytes - 1, 'x') + "\xc3\xa9", kNow);
  ActorLogTail tail;
  ASSERT_TRUE(logs.Tail("a", 0, &tail));
  EXPECT_EQ(tail.lines[0].text, "bad \xef\xbf\xbd byte");
  EXPECT_EQ(tail.lines[1].text.substr(ActorLogs::kMaxLineBytes - 1), "\xef\xbf\xbd");
}

TEST(ActorLogsTest, ALimitOfZeroKeepsNothing) {
  ActorLogs logs(0);
  logs.Append("a", 6, "ignored", kNow);
  ActorLogTail tail;
  EXPECT_FALSE(logs.Tail("a", 0, &tail));
}

}  // namespace
}  // namespace troupe::runtime
