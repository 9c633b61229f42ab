// client_test.cc - troupe::Client against FakeDaemon (fake_daemon.h) on a unix
// socket in a temp dir, and on 127.0.0.1:0 for the token tests.
#include "troupe/client.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/client/fake_daemon.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe {
namespace {

using ::troupe::testing::FakeDaemon;
using ::troupe::testing::TempDir;
using Message = Client::Message;

constexpr absl::Duration kPatience = absl::Seconds(10);  // generous: only failures wait this long
constexpr auto kWait = std::chrono::seconds(10);

// Collects what a client's Subscribe handlers receive.
class Inbox {
 public:
  void Subscribe(Client& client) {
    client.Subscribe(
        [this](Message m) {
          std::lock_guard<std::mutex> lock(mu_);
          messages_.push_back(std::move(m));
          cv_.notify_all();
        },
        [this](absl::Status s) {
          std::lock_guard<std::mutex> lock(mu_);
          errors_.push_back(std::move(s));
          cv_.notify_all();
        });
  }
  bool WaitForMessages(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return messages_.size() >= n; });
  }
  bool WaitForErrors(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return errors_.size() >= n; });
  }
  std::vector<Message> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  std::vector<absl::Status> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
  std::vector<absl::Status> errors_;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_.path() + "/troupd.sock";
    server_ = fake_.Start("unix:" + socket_);
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }
  std::unique_ptr<Client> Connect() {
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(socket_);
    EXPECT_OK(client);
    return client.ok() ? *std::move(client) : nullptr;
  }

  TempDir dir_{"troupe_client_test"};
  std::string socket_;
  FakeDaemon fake_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ClientTest, ConnectLearnsTheClientsAddressFromTheHello) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->address(), "troupe://fake/client");
}

TEST_F(ClientTest, ConnectAcceptsUnixPrefixedTargets) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect("unix:" + socket_));
  EXPECT_EQ(client->address(), "troupe://fake/client");
  Client::Options options;
  options.connect_timeout = absl::Seconds(3);
  ASSERT_OK(Client::Connect(socket_, options));
}

TEST_F(ClientTest, AskReturnsTheReplyWithTypePayloadAndSender) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(Message reply, client->Ask("hello", {"echo", "hi", ""}, kPatience));
  EXPECT_EQ(reply.type, "echo");
  EXPECT_EQ(reply.payload, "hi");
  EXPECT_EQ(reply.from, "troupe://fake/1");
}

TEST_F(ClientTest, AskSendsItsTimeoutSoTheDaemonGivesUpToo) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_OK(client->Ask("hello", {"echo", "", ""}, absl::Milliseconds(1500)));
  EXPECT_EQ(fake_.counts().last_timeout_ms, 1500u);
}

TEST_F(ClientTest, AskWithANonPositiveTimeoutIsInvalidArgument) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<Message> reply = client->Ask("hello", {"echo", "", ""}, absl::ZeroDuration());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument) << reply.status();
}

TEST_F(ClientTest, ThousandConcurrentAsksFromEightThreadsEachGetTheirOwnReply) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 8;
  constexpr int kAsksPerThread = 125;
  std::atomic<int> matched{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::pair<std::string, std::future<absl::StatusOr<Message>>>> futures;
      for (int i = 0; i < kAsksPerThread; ++i) {
        std::string payload = std::to_string(t) + "/" + std::to_string(i);
        // Half asynchronous (all in flight at once), half blocking.
        if (i % 2 == 0) {
          futures.emplace_back(payload, client->AskAsync("echo", {"echo", payload, ""}, kPatience));
        } else {
          absl::StatusOr<Message> reply = client->Ask("echo", {"echo", payload, ""}, kPatience);
          if (reply.ok() && reply->payload == payload) ++matched;
        }
      }
      for (auto& [payload, future] : futures) {
        absl::StatusOr<Message> reply = future.get();
        if (reply.ok() && reply->payload == payload) ++matched;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(matched.load(), kThreads * kAsksPerThread);
}

TEST_F(ClientTest, RepliesOutOfOrderAreMatchedById) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kAsks = 20;
  std::vector<std::future<absl::StatusOr<Message>>> futures;
  for (int i = 0; i < kAsks; ++i) {
    futures.push_back(client->AskAsync("slow", {"hold", std::to_string(i), ""}, kPatience));
  }
  ASSERT_TRUE(fake_.WaitForHeld(kAsks));
  fake_.ReleaseHeld();  // newest first
  for (int i = 0; i < kAsks; ++i) {
    absl::StatusOr<Message> reply = futures[i].get();
    ASSERT_OK(reply);
    EXPECT_EQ(reply->type, "held");
    EXPECT_EQ(reply->payload, std::to_string(i));
  }
}

TEST_F(ClientTest, AskTimesOutWithDeadlineExceededNamingTargetAndTimeout) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  Inbox inbox;
  inbox.Subscribe(*client);
  absl::StatusOr<Message> reply =
      client->Ask("slowpoke", {"hold", "late", ""}, absl::Milliseconds(50));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
  EXPECT_CONTAINS(reply.status().message(), "slowpoke");
  EXPECT_CONTAINS(reply.status().message(), "50ms");

  // The late reply is dropped: it neither completes anything nor arrives as
  // an incoming message, and the stream goes on.
  ASSERT_TRUE(fake_.WaitForHeld(1));
  fake_.ReleaseHeld();
  ASSERT_OK_AND_ASSIGN(Message after, client->Ask("hello", {"echo", "after", ""}, kPatience));
  EXPECT_EQ(after.payload, "after");
  EXPECT_TRUE(inbox.messages().empty());
  EXPECT_TRUE(inbox.errors().empty());
}

TEST_F(ClientTest, ManyAsksTimeOutIndependently) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  std::vector<std::future<absl::StatusOr<Message>>> futures;
  for (int i = 0; i < 50; ++i) {
    futures.push_back(client->AskAsync("x", {"never", "", ""}, absl::Milliseconds(20 + i)));
  }
  auto answered = client->AskAsync("hello", {"echo", "ok", ""}, kPatience);
  for (auto& future : futures) {
    EXPECT_EQ(future.get().status().code(), absl::StatusCode::kDeadlineExceeded);
  }
  ASSERT_OK_AND_ASSIGN(Message reply, answered.get());
  EXPECT_EQ(reply.payload, "ok");
}

TEST_F(ClientTest, AskAsyncFutureBecomesReady) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  std::future<absl::StatusOr<Message>> future =
      client->AskAsync("hello", {"echo", "future", ""}, kPatience);
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  ASSERT_OK_AND_ASSIGN(Message reply, future.get());
  EXPECT_EQ(reply.payload, "future");
}

TEST_F(ClientTest, AskAsyncCallbackRunsOnceWithTheReplyOrTheError) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  std::promise<absl::StatusOr<Message>> replied;
  client->AskAsync("hello", {"echo", "callback", ""}, kPatience,
                   [&](absl::StatusOr<Message> reply) { replied.set_value(std::move(reply)); });
  ASSERT_OK_AND_ASSIGN(Message reply, replied.get_future().get());
  EXPECT_EQ(reply.payload, "callback");

  std::promise<absl::StatusOr<Message>> failed;
  client->AskAsync("ghost", {"fail", "", ""}, kPatience,
                   [&](absl::StatusOr<Message> reply) { failed.set_value(std::move(reply)); });
  absl::StatusOr<Message> error = failed.get_future().get();
  EXPECT_EQ(error.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(error.status().message(), "ghost");
}

TEST_F(ClientTest, CallbackMayAskAgainButNotBlockOnAnAsk) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  std::promise<absl::Status> blocking;
  std::promise<absl::StatusOr<Message>> chained;
  client->AskAsync("hello", {"echo", "first", ""}, kPatience, [&](absl::StatusOr<Message>) {
    blocking.set_value(client->Ask("hello", {"echo", "", ""}, kPatience).status());
    client->AskAsync("hello", {"echo", "second", ""}, kPatience,
                     [&](absl::StatusOr<Message> reply) { chained.set_value(std::move(reply)); });
  });
  EXPECT_EQ(blocking.get_future().get().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(Message reply, chained.get_future().get());
  EXPECT_EQ(reply.payload, "second");
}

TEST_F(ClientTest, AskErrorsKeepTheDaemonsCode) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<Message> reply = client->Ask("ghost", {"fail", "", ""}, kPatience);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(reply.status().message(), "no actor is named 'ghost'");
}

TEST_F(ClientTest, TellErrorGoesToOnErrorAndIsCounted) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  Inbox inbox;
  inbox.Subscribe(*client);
  ASSERT_OK(client->Tell("somebody", {"text", "fine", ""}));
  ASSERT_OK(client->Tell("nobody", {"text", "lost", ""}));
  ASSERT_TRUE(inbox.WaitForErrors(1));
  std::vector<absl::Status> errors = inbox.errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(errors[0].message(), "nobody");
  EXPECT_EQ(client->tell_errors(), 1u);
}

TEST_F(ClientTest, IncomingMessagesReachSubscribe) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  Inbox inbox;
  inbox.Subscribe(*client);
  ASSERT_OK(client->Tell("echoer", {"push", "one", ""}));
  ASSERT_OK(client->Tell("echoer", {"push", "two", ""}));
  ASSERT_TRUE(inbox.WaitForMessages(2));
  std::vector<Message> messages = inbox.messages();
  EXPECT_EQ(messages[0].type, "pushed");
  EXPECT_EQ(messages[0].payload, "one");
  EXPECT_EQ(messages[0].from, "troupe://fake/7");
  EXPECT_EQ(messages[1].payload, "two");
}

TEST_F(ClientTest, SubscribeReplacesTheHandlers) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  Inbox first, second;
  first.Subscribe(*client);
  ASSERT_OK(client->Tell("echoer", {"push", "a", ""}));
  ASSERT_TRUE(first.WaitForMessages(1));
  second.Subscribe(*client);
  ASSERT_OK(client->Tell("echoer", {"push", "b", ""}));
  ASSERT_TRUE(second.WaitForMessages(1));
  EXPECT_EQ(first.messages().size(), 1u);
  EXPECT_EQ(second.messages()[0].payload, "b");
}

TEST_F(ClientTest, TellsFromOneThreadArriveInOrderInBatches) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kTells = 100000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kTells; ++i) ASSERT_OK(client->Tell("sink", {"seq", std::to_string(i), ""}));
  // An ask behind the tells on the same stream: once it is answered, the
  // daemon has seen every tell.
  ASSERT_OK(client->Ask("hello", {"echo", "", ""}, kPatience));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  FakeDaemon::Counts counts = fake_.counts();
  EXPECT_EQ(counts.seq, static_cast<uint64_t>(kTells));
  EXPECT_TRUE(counts.seq_in_order);
  EXPECT_LT(counts.batches, static_cast<uint64_t>(kTells) / 4) << "tells were not batched";
  std::printf("%d tells in %.3f s (%.0f/s) in %llu batches\n", kTells, seconds, kTells / seconds,
              static_cast<unsigned long long>(counts.batches));
}

TEST_F(ClientTest, TellsAndAsksFromManyThreadsAllArrive) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 4;
  constexpr int kTellsPerThread = 20000;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kTellsPerThread; ++i) {
        if (!client->Tell("sink", {"x", "payload", ""}).ok()) ++failures;
        if (i % 1000 == 0 && !client->Ask("hello", {"echo", "", ""}, kPatience).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_OK(client->Ask("hello", {"echo", "", ""}, kPatience));
  EXPECT_EQ(failures.load(), 0);
  // Every tell plus 20 asks per thread plus the last ask.
  EXPECT_EQ(fake_.counts().frames, uint64_t{kThreads} * (kTellsPerThread + 20) + 1);
}

TEST_F(ClientTest, DestroyingTheClientDeliversQueuedTells) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kTells = 10000;
  for (int i = 0; i < kTells; ++i) ASSERT_OK(client->Tell("sink", {"seq", std::to_string(i), ""}));
  client.reset();  // flushes, half-closes, waits for the daemon to finish
  EXPECT_EQ(fake_.counts().seq, static_cast<uint64_t>(kTells));
}

TEST_F(ClientTest, DestroyingTheClientCancelsPendingAsks) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  std::future<absl::StatusOr<Message>> pending =
      client->AskAsync("x", {"never", "", ""}, kPatience);
  std::promise<absl::StatusOr<Message>> called_back;
  client->AskAsync("x", {"never", "", ""}, kPatience,
                   [&](absl::StatusOr<Message> reply) { called_back.set_value(std::move(reply)); });
  ASSERT_TRUE(fake_.WaitForNever(2));
  client.reset();
  EXPECT_EQ(pending.get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(called_back.get_future().get().status().code(), absl::StatusCode::kCancelled);
}

TEST_F(ClientTest, CloseReturnsOnceTheDaemonHandledEveryTellAndReportedItsErrors) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  Inbox inbox;
  inbox.Subscribe(*client);
  ASSERT_OK(client->Tell("sink", {"seq", "0", ""}));
  ASSERT_OK(client->Tell("nobody", {"text", "lost", ""}));
  ASSERT_OK(client->Close(kPatience));
  // Without waiting: the daemon reported the error before it ended the stream.
  std::vector<absl::Status> errors = inbox.errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fake_.counts().seq, 1u);
}

TEST_F(ClientTest, CallsAfterCloseFailWithCancelledAndASecondCloseReturnsTheFirstResult) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_OK(client->Close(kPatience));
  EXPECT_EQ(client->Tell("sink", {"seq", "0", ""}).code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(client->Ask("x", {"echo", "", ""}, kPatience).status().code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(client->Lookup("known").status().code(), absl::StatusCode::kCancelled);
  EXPECT_OK(client->Close(kPatience));
}

TEST_F(ClientTest, CloseGivesUpWithDeadlineExceededWhenTheDaemonDoesNotEndTheStream) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_OK(client->Tell("x", {"linger", "", ""}));
  absl::Status closed = client->Close(absl::Milliseconds(100));
  EXPECT_EQ(closed.code(), absl::StatusCode::kDeadlineExceeded) << closed;
  EXPECT_CONTAINS(closed.message(), "did not finish the message stream within 100ms");
  EXPECT_EQ(client->Close(kPatience).code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(ClientTest, CloseAfterTheDaemonEndedTheStreamSaysSo) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  Inbox inbox;
  inbox.Subscribe(*client);
  ASSERT_OK(client->Tell("x", {"close", "", ""}));
  ASSERT_TRUE(inbox.WaitForErrors(1));
  absl::Status closed = client->Close(kPatience);
  EXPECT_EQ(closed.code(), absl::StatusCode::kUnavailable) << closed;
  EXPECT_CONTAINS(closed.message(), "fake daemon going away");
}

TEST_F(ClientTest, CallTimeoutBoundsTheUnaryCalls) {
  Client::Options options;
  options.call_timeout = absl::Milliseconds(100);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(socket_, options));
  EXPECT_EQ(client->CreateActor("stall", "stall.C").status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_OK(client->CreateActor("g", "g.C"));  // the client is still usable
}

TEST_F(ClientTest, StreamEndedByTheDaemonFailsPendingAndLaterCallsWithUnavailable) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  Inbox inbox;
  inbox.Subscribe(*client);
  std::future<absl::StatusOr<Message>> pending =
      client->AskAsync("x", {"never", "", ""}, kPatience);
  ASSERT_TRUE(fake_.WaitForNever(1));
  ASSERT_OK(client->Tell("x", {"close", "", ""}));

  absl::StatusOr<Message> reply = pending.get();
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_CONTAINS(reply.status().message(), "connection to unix:" + socket_ + " lost");
  EXPECT_CONTAINS(reply.status().message(), "fake daemon going away");
  ASSERT_TRUE(inbox.WaitForErrors(1));
  EXPECT_EQ(inbox.errors()[0].code(), absl::StatusCode::kUnavailable);

  absl::Status tell = client->Tell("x", {"text", "", ""});
  EXPECT_EQ(tell.code(), absl::StatusCode::kUnavailable) << tell;
  EXPECT_CONTAINS(tell.message(), "lost");
  EXPECT_EQ(client->Ask("x", {"echo", "", ""}, kPatience).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->Lookup("known").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ClientTest, ServerGoingAwayFailsPendingAsksWithUnavailable) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  Inbox inbox;
  inbox.Subscribe(*client);
  std::future<absl::StatusOr<Message>> pending =
      client->AskAsync("x", {"never", "", ""}, kPatience);
  ASSERT_TRUE(fake_.WaitForNever(1));
  server_->Shutdown(std::chrono::system_clock::now());
  server_.reset();

  absl::StatusOr<Message> reply = pending.get();
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_CONTAINS(reply.status().message(), socket_);
  ASSERT_TRUE(inbox.WaitForErrors(1));
  EXPECT_EQ(client->Tell("x", {"text", "", ""}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->Role("worker").status().code(), absl::StatusCode::kUnavailable);
}

TEST(ClientConnectTest, MissingSocketIsUnavailableNamingThePathAndTheFix) {
  TempDir dir("troupe_client_test");
  const std::string path = dir.path() + "/nobody-home.sock";
  Client::Options options;
  options.connect_timeout = absl::Milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(path, options);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_CONTAINS(client.status().message(), path);
  EXPECT_CONTAINS(client.status().message(), "director start");
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST(ClientConnectTest, EmptyTargetIsInvalidArgument) {
  EXPECT_EQ(Client::Connect("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, LookupCreateActorAndRoleAskTheDaemon) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(std::string known, client->Lookup("known"));
  EXPECT_EQ(known, "troupe://fake/5");
  absl::StatusOr<std::string> unknown = client->Lookup("unknown");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(unknown.status().message(), "unknown");

  ASSERT_OK_AND_ASSIGN(std::string created,
                       client->CreateActor("examples", "Counter", "[]", "counter"));
  EXPECT_EQ(created, "troupe://fake/examples/Counter/counter/0");

  ASSERT_OK_AND_ASSIGN(std::vector<std::string> workers, client->Role("worker", "g"));
  EXPECT_EQ(workers, (std::vector<std::string>{"troupe://fake/10g", "troupe://fake/11g"}));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> nobody, client->Role("nobody"));
  EXPECT_TRUE(nobody.empty());
}

TEST_F(ClientTest, CreateActorSendsRequirementsAsTheManifestsMessages) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(
      std::string created,
      client->CreateActor("g", "C",
                          R"([{"capability": "gpu", "equals": true},
                              {"capability": "zone", "one_of": ["eu", "us"]}])"));
  EXPECT_EQ(created, "troupe://fake/g/C//2:gpu:zone");
  ASSERT_OK_AND_ASSIGN(created, client->CreateActor("g", "C", " \n "));
  EXPECT_EQ(created, "troupe://fake/g/C//0") << "white space: none";
}

TEST_F(ClientTest, CreateActorRefusesRequirementsOfAnotherShapeBeforeAnyCall) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : {
           Case{"[{\"capability\": \"gpu\"", "requirements: not a JSON array of requirements"},
           Case{R"({"gpu": {"equals": true}})", "requirements: not a JSON array of requirements"},
           Case{R"([], "class_name": "x")", "requirements: not a JSON array of requirements"},
           Case{R"([{"capability": "gpu", "equal": true}])",
                "requirements: not requirements as in a manifest: "},
           Case{R"(["gpu"])", "requirements: not requirements as in a manifest: "},
       }) {
    absl::StatusOr<std::string> created = client->CreateActor("g", "C", c.json);
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_CONTAINS(created.status().message(), c.message) << c.json;
  }
}

TEST_F(ClientTest, NoTokenIsSentOnAUnixSocket) {
  Client::Options options;
  options.token = "s3cret-s3cret-s3cret";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(socket_, options));
  ASSERT_OK(client->Lookup("known"));
  for (const auto& [method, value] : fake_.authorization()) {
    EXPECT_EQ(value, "") << method;
  }
}

class ClientTcpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.RequireToken("s3cret-s3cret-s3cret");
    server_ = fake_.Start("127.0.0.1:0", &port_);
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
    target_ = "127.0.0.1:" + std::to_string(port_);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  FakeDaemon fake_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string target_;
};

TEST_F(ClientTcpTest, TokenGoesAsBearerMetadataOnTheStreamAndEveryCall) {
  Client::Options options;
  options.token = "s3cret-s3cret-s3cret";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(target_, options));
  ASSERT_OK(client->Ask("hello", {"echo", "", ""}, kPatience));
  ASSERT_OK(client->Lookup("known"));
  ASSERT_OK(client->CreateActor("g", "C"));
  ASSERT_OK(client->Role("worker"));
  std::multimap<std::string, std::string> seen = fake_.authorization();
  for (const char* method : {"Connect", "Lookup", "CreateActor", "Role"}) {
    auto it = seen.find(method);
    ASSERT_NE(it, seen.end()) << method;
    EXPECT_EQ(it->second, "Bearer s3cret-s3cret-s3cret") << method;
  }
}

TEST_F(ClientTcpTest, WrongTokenIsUnauthenticated) {
  Client::Options options;
  options.token = "not-the-token";
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(target_, options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated) << client.status();
  EXPECT_CONTAINS(client.status().message(), "token");
}

TEST_F(ClientTcpTest, MissingTokenIsUnauthenticated) {
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(target_);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated) << client.status();
}

}  // namespace
}  // namespace troupe
