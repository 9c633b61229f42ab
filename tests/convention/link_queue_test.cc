// Tests of LinkQueue: the outbound link's rules without a wire (batching,
// the outbox bound and parked senders, a broken stream, closing).
#include "daemon/convention/link_queue.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace troupe::convention {
namespace {

runtime::Message Msg(std::string_view payload) { return runtime::Message::Make("t", payload); }

std::vector<std::string> Payloads(const std::vector<Outgoing>& batch) {
  std::vector<std::string> out;
  for (const Outgoing& o : batch) out.emplace_back(o.message.payload());
  return out;
}

// Pushes `payload` for actor 1; returns the push's result.
LinkQueue::PushResult Push(LinkQueue& queue, std::string_view payload) {
  runtime::Message m = Msg(payload);
  return queue.Push(1, m);
}

TEST(LinkQueueTest, TheFirstPushAsksForAStreamAndWhatQueuesMeanwhileGoesOutAsOneBatch) {
  LinkQueue queue(LinkQueueOptions{});
  LinkQueue::PushResult first = Push(queue, "a");
  EXPECT_TRUE(first.accepted);
  EXPECT_TRUE(first.step.connect);
  EXPECT_FALSE(first.step.write);
  for (std::string_view p : {"b", "c"}) {
    LinkQueue::PushResult later = Push(queue, p);
    EXPECT_FALSE(later.step.connect) << "one stream is being opened already";
    EXPECT_FALSE(later.step.write);
  }
  EXPECT_EQ(queue.queued(), 3u);
  LinkStep connected = queue.Connected();
  ASSERT_TRUE(connected.write);
  EXPECT_EQ(Payloads(queue.in_flight()), (std::vector<std::string>{"a", "b", "c"}));
  LinkStep done = queue.WriteDone();
  EXPECT_FALSE(done.write);
  EXPECT_EQ(queue.queued(), 0u);
  EXPECT_EQ(queue.bytes(), 0u);
}

TEST(LinkQueueTest, OnAnIdleStreamThePusherWritesAndDuringAWritePushesWaitForTheNextBatch) {
  LinkQueue queue(LinkQueueOptions{});
  Push(queue, "a");
  ASSERT_TRUE(queue.Connected().write);
  ASSERT_FALSE(queue.WriteDone().write);
  LinkQueue::PushResult idle = Push(queue, "b");
  ASSERT_TRUE(idle.step.write) << "the pusher holds the writer's turn";
  EXPECT_EQ(Payloads(queue.in_flight()), (std::vector<std::string>{"b"}));
  for (std::string_view p : {"c", "d", "e"}) EXPECT_FALSE(Push(queue, p).step.write);
  LinkStep next = queue.WriteDone();
  ASSERT_TRUE(next.write);
  EXPECT_EQ(Payloads(queue.in_flight()), (std::vector<std::string>{"c", "d", "e"}));
}

TEST(LinkQueueTest, ABatchHoldsAtMostItsEnvelopesAndBytes) {
  LinkQueue by_count(LinkQueueOptions{.batch_envelopes = 2});
  for (std::string_view p : {"a", "b", "c", "d", "e"}) Push(by_count, p);
  ASSERT_TRUE(by_count.Connected().write);
  EXPECT_EQ(Payloads(by_count.in_flight()), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(by_count.WriteDone().write);
  EXPECT_EQ(Payloads(by_count.in_flight()), (std::vector<std::string>{"c", "d"}));
  ASSERT_TRUE(by_count.WriteDone().write);
  EXPECT_EQ(Payloads(by_count.in_flight()), (std::vector<std::string>{"e"}));

  // Each message counts 64 bytes plus its type and payload (66 here): a
  // batch stops once it holds 100 bytes or more.
  LinkQueue by_bytes(LinkQueueOptions{.batch_bytes = 100});
  for (std::string_view p : {"a", "b", "c"}) Push(by_bytes, p);
  ASSERT_TRUE(by_bytes.Connected().write);
  EXPECT_EQ(Payloads(by_bytes.in_flight()), (std::vector<std::string>{"a", "b"}));
}

TEST(LinkQueueTest, OverTheBoundAPushIsTakenAndTellsItsSenderToParkUntilBelowLowWater) {
  // 66 bytes per message: the third push reaches 198 >= 150.
  LinkQueue queue(LinkQueueOptions{
      .high_water_bytes = 150, .low_water_bytes = 100, .batch_envelopes = 1});
  EXPECT_FALSE(Push(queue, "a").over_bound);
  EXPECT_FALSE(Push(queue, "b").over_bound);
  LinkQueue::PushResult third = Push(queue, "c");
  EXPECT_TRUE(third.accepted);
  EXPECT_TRUE(third.over_bound);
  EXPECT_TRUE(Push(queue, "d").over_bound);
  int resumed = 0;
  ASSERT_TRUE(queue.ResumeWhenRoom([&] { ++resumed; }));
  ASSERT_TRUE(queue.ResumeWhenRoom([&] { ++resumed; }));
  EXPECT_EQ(queue.parked(), 2u);
  ASSERT_TRUE(queue.Connected().write);  // "a" in flight: still 264 bytes
  LinkStep one = queue.WriteDone();      // 198 left, "b" in flight
  EXPECT_TRUE(one.resume.empty()) << "below the bound is not yet below low water";
  LinkStep two = queue.WriteDone();  // 132 left
  EXPECT_TRUE(two.resume.empty());
  LinkStep three = queue.WriteDone();  // 66 left: below 100
  ASSERT_EQ(three.resume.size(), 2u);
  for (auto& resume : three.resume) resume();
  EXPECT_EQ(resumed, 2);
  EXPECT_EQ(queue.parked(), 0u);
  EXPECT_FALSE(queue.ResumeWhenRoom([&] { ++resumed; })) << "there is room: nothing to wait for";
  EXPECT_EQ(resumed, 2);
}

TEST(LinkQueueTest, AFailedWriteFailsItsBatchAndTheRestGoesOutOnANewStream) {
  LinkQueue queue(LinkQueueOptions{});
  Push(queue, "a");
  Push(queue, "b");
  ASSERT_TRUE(queue.Connected().write);
  Push(queue, "c");
  LinkStep failed = queue.WriteFailed("the link broke");
  EXPECT_EQ(Payloads(failed.failed), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(failed.reason, "the link broke");
  EXPECT_TRUE(failed.connect) << "\"c\" still waits";
  EXPECT_FALSE(failed.write);
  ASSERT_TRUE(queue.Connected().write);
  EXPECT_EQ(Payloads(queue.in_flight()), (std::vector<std::string>{"c"}));
}

TEST(LinkQueueTest, AStreamThatEndsDuringAWriteIsReopenedWhenTheWriteEnds) {
  LinkQueue queue(LinkQueueOptions{});
  Push(queue, "a");
  ASSERT_TRUE(queue.Connected().write);
  Push(queue, "b");
  LinkStep noted = queue.Broken();
  EXPECT_FALSE(noted.connect) << "the writer still holds the stream";
  LinkStep after = queue.WriteDone();
  EXPECT_TRUE(after.failed.empty()) << "\"a\" was written";
  EXPECT_TRUE(after.connect);
  EXPECT_FALSE(after.write) << "nothing goes on the ended stream";
  ASSERT_TRUE(queue.Connected().write);
  EXPECT_EQ(Payloads(queue.in_flight()), (std::vector<std::string>{"b"}));
}

TEST(LinkQueueTest, AnIdleStreamThatEndsIsReopenedByTheNextPush) {
  LinkQueue queue(LinkQueueOptions{});
  Push(queue, "a");
  ASSERT_TRUE(queue.Connected().write);
  queue.WriteDone();
  LinkStep ended = queue.Broken();
  EXPECT_FALSE(ended.connect) << "nothing is queued";
  EXPECT_TRUE(Push(queue, "b").step.connect);
}

TEST(LinkQueueTest, AStreamThatCannotBeOpenedFailsWhatIsQueuedAndWakesParkedSenders) {
  LinkQueue queue(LinkQueueOptions{.high_water_bytes = 100, .low_water_bytes = 50});
  Push(queue, "a");
  ASSERT_TRUE(Push(queue, "b").over_bound);
  bool resumed = false;
  ASSERT_TRUE(queue.ResumeWhenRoom([&] { resumed = true; }));
  LinkStep failed = queue.ConnectFailed("cannot reach 127.0.0.1:9: refused");
  EXPECT_EQ(Payloads(failed.failed), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(failed.reason, "cannot reach 127.0.0.1:9: refused");
  ASSERT_EQ(failed.resume.size(), 1u);
  failed.resume[0]();
  EXPECT_TRUE(resumed);
  EXPECT_EQ(queue.bytes(), 0u);
  EXPECT_TRUE(Push(queue, "c").step.connect) << "the next message tries again";
}

TEST(LinkQueueTest, CloseFailsWhatIsQueuedRefusesLaterPushesAndWakesParkedSenders) {
  LinkQueue queue(LinkQueueOptions{.high_water_bytes = 100, .low_water_bytes = 50});
  Push(queue, "a");
  ASSERT_TRUE(queue.Connected().write);  // "a" in flight
  ASSERT_TRUE(Push(queue, "b").over_bound);
  bool resumed = false;
  ASSERT_TRUE(queue.ResumeWhenRoom([&] { resumed = true; }));
  LinkStep closed = queue.Close("this daemon is stopping");
  EXPECT_EQ(Payloads(closed.failed), (std::vector<std::string>{"b"}));
  EXPECT_EQ(closed.reason, "this daemon is stopping");
  ASSERT_EQ(closed.resume.size(), 1u);
  closed.resume[0]();
  EXPECT_TRUE(resumed);
  runtime::Message refused = Msg("c");
  EXPECT_FALSE(queue.Push(1, refused).accepted);
  EXPECT_EQ(refused.payload(), "c") << "a refused message stays the caller's";
  EXPECT_FALSE(queue.ResumeWhenRoom([] {}));
  // The write under way ends later: it fails like any other, nothing reopens.
  LinkStep last = queue.WriteFailed("cancelled");
  EXPECT_EQ(Payloads(last.failed), (std::vector<std::string>{"a"}));
  EXPECT_FALSE(last.connect);
  EXPECT_EQ(queue.bytes(), 0u);
  EXPECT_EQ(queue.queued(), 0u);
  EXPECT_TRUE(queue.Close("again").failed.empty());
}

}  // namespace
}  // namespace troupe::convention
