// Tests of frame_io.h and host_link.h over a socketpair in one process: the
// framing and its errors, delivery and reports, back-pressure, closing.
#include "daemon/isolation/host_link.h"

#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>

#include "daemon/isolation/frame_io.h"
#include "daemon/common/strings.h"
#include "tests/runtime/fake_cluster.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::isolation {
namespace {

using runtime::ActorSystem;
using runtime::Message;
using runtime::testing::Inbox;
using runtime::testing::Msg;

constexpr absl::Duration kWait = absl::Seconds(60);

struct SocketPair {
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0); }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  int Take(int i) { return std::exchange(fds[i], -1); }
  int fds[2] = {-1, -1};
};

TEST(FrameIoTest, AFrameRoundTripsAndACleanEndIsOutOfRange) {
  SocketPair pair;
  troupe::v1::HostFrame sent;
  sent.mutable_created()->set_request(7);
  sent.mutable_created()->set_address("troupe://n/1");
  ASSERT_OK(WriteFrame(pair.fds[0], sent));
  ::close(pair.Take(0));
  troupe::v1::HostFrame got;
  std::string buffer;
  ASSERT_OK(ReadFrame(pair.fds[1], &got, &buffer));
  EXPECT_EQ(got.created().request(), 7u);
  EXPECT_EQ(got.created().address(), "troupe://n/1");
  EXPECT_EQ(ReadFrame(pair.fds[1], &got, &buffer).code(), absl::StatusCode::kOutOfRange);
}

TEST(FrameIoTest, BadLengthsTruncatedFramesAndNonFramesAreDataLoss) {
  const std::pair<std::string, std::string> cases[] = {
      {std::string("\0\0\0\0", 4), "bad frame length 0"},
      {std::string("\xff\xff\xff\x7f", 4), "bad frame length 2147483647"},
      {std::string("\x05\0\0\0ab", 6), "the stream ended inside a frame (2 of 5 bytes read)"},
      {std::string("\x02\0", 2), "the stream ended inside a frame (2 of 4 bytes read)"},
      {std::string("\x03\0\0\0\xff\xff\xff", 7), "is not a valid host frame"},
      {std::string("\x02\0\0\0\x08\x01", 6), "is not a valid host frame"},  // no frame set
  };
  for (const auto& [bytes, expected] : cases) {
    SocketPair pair;
    ASSERT_EQ(::write(pair.fds[0], bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
    ::close(pair.Take(0));
    troupe::v1::HostFrame got;
    std::string buffer;
    absl::Status s = ReadFrame(pair.fds[1], &got, &buffer);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_NE(s.message().find(expected), std::string::npos) << s << " for " << expected;
  }
}

// Two systems of one node joined by a HostLink pair: "daemon" delivers what
// comes in to its own actors, "host" too.
class HostLinkTest : public ::testing::Test {
 protected:
  void Open(HostLinkOptions options = {}) {
    SocketPair pair;
    // Each sees the other's ids as local members' (senders parse; the links
    // under test carry the messages, so the fakes are never asked to).
    a_ = std::make_unique<ActorSystem>(runtime::SystemOptions{.worker_threads = 1,
                                                              .node_name = "n",
                                                              .actor_id_limit = 1000,
                                                              .local_members = &a_members_});
    b_ = std::make_unique<ActorSystem>(runtime::SystemOptions{.worker_threads = 1,
                                                              .node_name = "n",
                                                              .first_actor_id = 1000,
                                                              .local_members = &b_members_});
    auto deliver = [](ActorSystem* system) {
      return [system](const troupe::v1::Envelope& e) {
        return system->DeliverFromRemote(e.to(), e.from(), e.type(), e.payload());
      };
    };
    a_link_ = std::make_unique<HostLink>(
        pair.Take(0), a_.get(), "b", deliver(a_.get()),
        [this](troupe::v1::HostFrame& f) {
          frames_.push_back(f);
          return f.has_shutdown() ? absl::InvalidArgumentError("no shutdown here")
                                  : absl::OkStatus();
        },
        [this](const absl::Status& why) { a_closed_.set_value(why); }, options);
    b_link_ = std::make_unique<HostLink>(
        pair.Take(1), b_.get(), "a", deliver(b_.get()),
        [](troupe::v1::HostFrame&) { return absl::OkStatus(); },
        [this](const absl::Status& why) { b_closed_.set_value(why); }, options);
  }
  void TearDown() override {
    if (a_link_) a_link_->Close();
    if (b_link_) b_link_->Close();
    a_->Shutdown();
    b_->Shutdown();
  }
  std::pair<runtime::ActorRef, Inbox*> SpawnInbox(ActorSystem& system) {
    inboxes_.push_back(std::make_unique<Inbox>());
    return {system.SpawnNative(inboxes_.back()->Handler()), inboxes_.back().get()};
  }

  std::deque<std::unique_ptr<Inbox>> inboxes_;
  runtime::testing::FakeCluster a_members_;
  runtime::testing::FakeCluster b_members_;
  std::unique_ptr<ActorSystem> a_;
  std::unique_ptr<ActorSystem> b_;
  std::vector<troupe::v1::HostFrame> frames_;
  std::promise<absl::Status> a_closed_;
  std::promise<absl::Status> b_closed_;
  std::unique_ptr<HostLink> a_link_;
  std::unique_ptr<HostLink> b_link_;
};

TEST_F(HostLinkTest, TenThousandMessagesArriveInOrderWithTheirSenders) {
  Open();
  auto [receiver, inbox] = SpawnInbox(*b_);
  auto [sender, unused] = SpawnInbox(*a_);
  a_link_->Start();
  b_link_->Start();
  for (int i = 0; i < 10000; ++i) {
    Message m = Msg("n", std::to_string(i));
    m.SetSender(sender.get());
    a_link_->Send({}, receiver->id(), std::move(m));
  }
  ASSERT_TRUE(inbox->WaitForSize(10000, kWait));
  std::vector<runtime::testing::Received> got = inbox->items();
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(got[i].payload, std::to_string(i));
  EXPECT_EQ(b_->FormatAddress(got[0].sender.get()), a_->FormatAddress(sender.get()));
  EXPECT_TRUE(a_link_->Flush(kWait));
  EXPECT_EQ(a_link_->queued_bytes(), 0u);
}

TEST_F(HostLinkTest, AMessageForNoActorComesBackAsUndeliverableToItsSender) {
  Open();
  a_link_->Start();
  b_link_->Start();
  std::promise<std::string> reported;
  a_->SetUndeliverableObserver([&](runtime::Cell*, std::string_view target, std::string_view why) {
    reported.set_value(troupe::StrCat(target, " ", why));
  });
  auto [sender, unused] = SpawnInbox(*a_);
  Message m = Msg("lost");
  m.SetSender(sender.get());
  a_link_->Send({}, 4242, std::move(m));
  EXPECT_EQ(reported.get_future().get(), "troupe://n/4242 no live actor at troupe://n/4242");
}

TEST_F(HostLinkTest, AnUnexpectedFrameClosesTheLinkAndQueuedMessagesBecomeUndeliverable) {
  Open();
  a_link_->Start();
  b_link_->Start();
  troupe::v1::HostFrame shutdown;
  shutdown.mutable_shutdown()->set_drain_ms(1);
  b_link_->SendFrame(shutdown);
  absl::Status why = a_closed_.get_future().get();
  EXPECT_NE(why.message().find("no shutdown here"), std::string::npos) << why;
  EXPECT_TRUE(a_link_->closed());
  // The other end sees the stream end.
  EXPECT_NE(b_closed_.get_future().get().message().find("the other end closed it"),
            std::string::npos);
  std::promise<std::string> reported;
  a_->SetUndeliverableObserver([&](runtime::Cell*, std::string_view, std::string_view why) {
    reported.set_value(std::string(why));
  });
  auto [sender, unused] = SpawnInbox(*a_);
  Message m = Msg("late");
  m.SetSender(sender.get());
  EXPECT_TRUE(a_link_->Send({}, 1000, std::move(m)));
  EXPECT_NE(reported.get_future().get().find("the link to b closed"), std::string::npos);
}

TEST_F(HostLinkTest, OverTheBoundASendSaysSoAndTheSenderResumesOnceItDrained) {
  Open(HostLinkOptions{.high_water_bytes = 4096, .low_water_bytes = 2048});
  auto [receiver, inbox] = SpawnInbox(*b_);
  // Not started: nothing drains yet.
  bool over = false;
  int sent = 0;
  while (!over) {
    over = !a_link_->Send({}, receiver->id(), Msg("fill", std::string(500, 'x')));
    ++sent;
  }
  EXPECT_GE(a_link_->queued_bytes(), 4096u);
  std::promise<void> resumed;
  ASSERT_TRUE(a_link_->ResumeWhenRoom([&resumed] { resumed.set_value(); }));
  a_link_->Start();
  b_link_->Start();
  EXPECT_EQ(resumed.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  ASSERT_TRUE(inbox->WaitForSize(static_cast<size_t>(sent), kWait));
  EXPECT_FALSE(a_link_->ResumeWhenRoom([] {})) << "room already";
}

}  // namespace
}  // namespace troupe::isolation
