// Tests of runtime::Mailbox: the lock-free multi-producer mailbox.
#include "daemon/runtime/mailbox.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/runtime/envelope.h"
#include "troupe/wire.h"

namespace troupe::runtime {
namespace {

Envelope* Make(std::string_view payload) { return Message::Make("t", payload).Release(); }

std::string PayloadOf(Envelope* e) { return std::string(e->payload()); }

// Frees a list returned by Close and returns its payloads in order.
std::vector<std::string> Drain(Envelope* list) {
  std::vector<std::string> out;
  while (list != nullptr) {
    Envelope* next = list->next;
    out.push_back(PayloadOf(list));
    Message::Adopt(list).Reset();
    list = next;
  }
  return out;
}

// A chain pushed at once lands after what was there, in its own order; a
// closed mailbox refuses it whole and leaves it to the caller.
TEST(MailboxTest, AChainIsTakenInOrderAfterEarlierPushesAndRefusedWhenClosed) {
  Mailbox box;
  ASSERT_EQ(box.Push(Make("a")), Mailbox::PushResult::kQueued);
  Envelope* d = Make("d");
  Envelope* c = Make("c");
  Envelope* b = Make("b");
  d->next = c;  // newest first
  c->next = b;
  ASSERT_EQ(box.PushChain(d, b, 3), Mailbox::PushResult::kQueued);
  EXPECT_EQ(box.depth(), 4u);
  EXPECT_EQ(Drain(box.Close()), (std::vector<std::string>{"a", "b", "c", "d"}));
  Envelope* f = Make("f");
  Envelope* e = Make("e");
  f->next = e;
  ASSERT_EQ(box.PushChain(f, e, 2), Mailbox::PushResult::kClosed);
  e->next = nullptr;
  EXPECT_EQ(Drain(Mailbox::Reverse(f)), (std::vector<std::string>{"e", "f"}));
}

TEST(MailboxTest, PopReturnsMessagesInPushOrder) {
  Mailbox box;
  for (std::string p : {"a", "b", "c"}) ASSERT_EQ(box.Push(Make(p)), Mailbox::PushResult::kQueued);
  std::vector<std::string> got;
  while (Envelope* e = box.Pop()) {
    got.push_back(PayloadOf(e));
    Message::Adopt(e).Reset();
  }
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(box.Pop(), nullptr);
}

TEST(MailboxTest, PushToBlockedMailboxReportsUnblockOnlyOnce) {
  Mailbox box;
  ASSERT_TRUE(box.TryBlock());
  EXPECT_EQ(box.Push(Make("1")), Mailbox::PushResult::kQueuedAndUnblocked);
  EXPECT_EQ(box.Push(Make("2")), Mailbox::PushResult::kQueued);
  EXPECT_FALSE(box.TryBlock()) << "a message is queued";
  EXPECT_EQ(Drain(box.Close()), (std::vector<std::string>{"1", "2"}));
}

TEST(MailboxTest, TryBlockFailsWhilePoppedMessagesRemainCached) {
  Mailbox box;
  box.Push(Make("1"));
  box.Push(Make("2"));
  Message::Adopt(box.Pop()).Reset();  // "2" now sits in the consumer cache
  EXPECT_FALSE(box.TryBlock());
  EXPECT_EQ(Drain(box.Close()), (std::vector<std::string>{"2"}));
}

TEST(MailboxTest, CloseReturnsRemainingMessagesInOrder) {
  Mailbox box;
  for (std::string p : {"1", "2", "3", "4"}) box.Push(Make(p));
  Envelope* first = box.Pop();  // moves 2..4 into the consumer cache
  EXPECT_EQ(PayloadOf(first), "1");
  Message::Adopt(first).Reset();
  box.Push(Make("5"));
  box.Push(Make("6"));
  EXPECT_EQ(Drain(box.Close()), (std::vector<std::string>{"2", "3", "4", "5", "6"}));
  EXPECT_TRUE(box.closed());
}

TEST(MailboxTest, PushAfterCloseReturnsClosedAndLeavesOwnershipWithCaller) {
  Mailbox box;
  EXPECT_EQ(box.Close(), nullptr);
  Envelope* e = Make("late");
  EXPECT_EQ(box.Push(e), Mailbox::PushResult::kClosed);
  EXPECT_EQ(PayloadOf(e), "late");  // still ours
  Message::Adopt(e).Reset();
}

TEST(MailboxTest, ManyProducersLoseNothingAndKeepPerProducerOrder) {
  constexpr int kProducers = 4;
  constexpr uint32_t kPerProducer = 20000;
  Mailbox box;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&box, p] {
      for (uint32_t i = 0; i < kPerProducer; ++i) {
        std::string payload;
        wire::AppendU32(&payload, static_cast<uint32_t>(p));
        wire::AppendU32(&payload, i);
        Envelope* e = Make(payload);
        if (box.Push(e) == Mailbox::PushResult::kClosed) Message::Adopt(e).Reset();
      }
    });
  }
  // The consumer pops concurrently with the producers.
  std::vector<uint32_t> next(kProducers, 0);
  uint64_t total = 0;
  bool in_order = true;
  auto consume = [&](Envelope* e) {
    std::string_view in = e->payload();
    uint32_t p = 0, i = 0;
    ASSERT_TRUE(wire::ReadU32(&in, &p));
    ASSERT_TRUE(wire::ReadU32(&in, &i));
    ASSERT_LT(p, static_cast<uint32_t>(kProducers));
    if (i != next[p]) in_order = false;
    next[p] = i + 1;
    ++total;
    Message::Adopt(e).Reset();
  };
  while (total < uint64_t{kProducers} * kPerProducer / 2) {
    if (Envelope* e = box.Pop()) consume(e);
  }
  for (auto& t : producers) t.join();
  while (Envelope* e = box.Pop()) consume(e);
  for (Envelope* e = box.Close(); e != nullptr;) {
    Envelope* n = e->next;
    consume(e);
    e = n;
  }
  EXPECT_TRUE(in_order);
  EXPECT_EQ(total, uint64_t{kProducers} * kPerProducer);
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], kPerProducer) << "producer " << p;
}

TEST(MailboxTest, DepthCountsQueuedMessages) {
  Mailbox box;
  box.Push(Make("1"));
  box.Push(Make("2"));
  EXPECT_EQ(box.depth(), 2u);
  Message::Adopt(box.Pop()).Reset();
  EXPECT_EQ(box.depth(), 1u);
  EXPECT_EQ(box.pushed(), 2u);
  Drain(box.Close());
}

}  // namespace
}  // namespace troupe::runtime
