// Tests of the Messaging service's unary calls and of client authentication,
// over a real gRPC server.
#include <future>
#include <thread>
#include <vector>

#include "daemon/common/mutex.h"
#include "daemon/common/strings.h"
#include "tests/runtime/fake_cluster.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/service/service_test_util.h"

namespace troupe::service::testing {
namespace {

using MessagingServiceTest = ServiceTest;

TEST_F(MessagingServiceTest, AskByGlobalNameIsAnsweredWithTheReplyAndItsSender) {
  v1::AskRequest request;
  request.set_to("echo");
  request.set_type("text");
  request.set_payload("hi");
  v1::AskResponse response;
  grpc::Status status = stub_->Ask(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.type(), "text");
  EXPECT_EQ(response.payload(), "hi");
  EXPECT_EQ(response.from(), echo_address_);
}

TEST_F(MessagingServiceTest, AskByAddressWorksToo) {
  v1::AskRequest request;
  request.set_to(echo_address_);
  request.set_type("text");
  request.set_payload("by address");
  v1::AskResponse response;
  ASSERT_TRUE(stub_->Ask(Context().get(), request, &response).ok());
  EXPECT_EQ(response.payload(), "by address");
}

TEST_F(MessagingServiceTest, AskThatGetsNoReplyTimesOutWithDeadlineExceeded) {
  v1::AskRequest request;
  request.set_to("silent");
  request.set_type("text");
  request.set_timeout_ms(50);
  v1::AskResponse response;
  grpc::Status status = stub_->Ask(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_CONTAINS(status.error_message(), "no reply from");
  EXPECT_EQ(asks_->pending(), 0u);
}

TEST_F(MessagingServiceTest, AskToAnActorThatHasExitedIsNotFoundAtOnce) {
  // The runtime destroys a native handler after marking its actor exited, so
  // the destructor of something the handler owns says "exited".
  struct OnDestroy {
    std::shared_ptr<std::promise<void>> done = std::make_shared<std::promise<void>>();
    ~OnDestroy() {
      if (done) done->set_value();
    }
    OnDestroy() = default;
    OnDestroy(OnDestroy&& o) noexcept : done(std::move(o.done)) {}
  };
  OnDestroy marker;
  std::future<void> exited = marker.done->get_future();
  auto owned = std::make_shared<OnDestroy>(std::move(marker));
  runtime::ActorRef gone =
      system_->SpawnNative([owned](runtime::Cell*, runtime::Message&) {}, "gone");
  owned.reset();
  const std::string address = system_->FormatAddress(gone.get());
  ASSERT_OK(system_->RequestExit(gone));
  exited.wait();

  v1::AskRequest request;
  request.set_to(address);
  request.set_type("text");
  request.set_timeout_ms(60000);
  v1::AskResponse response;
  grpc::Status status = stub_->Ask(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_CONTAINS(status.error_message(), "no live actor at " + address);
}

TEST_F(MessagingServiceTest, AUnaryAskWhoseClientCancelsEndsOnTheServerToo) {
  grpc::ClientContext context;
  v1::AskRequest request;
  request.set_to("silent");
  request.set_type("text");
  request.set_timeout_ms(60000);
  v1::AskResponse response;
  std::promise<grpc::Status> done;
  stub_->async()->Ask(&context, &request, &response,
                      [&done](grpc::Status status) { done.set_value(status); });
  ASSERT_TRUE(Eventually([&] { return asks_->pending() == 1; }));
  context.TryCancel();
  EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually([&] { return asks_->pending() == 0; }));
  // And the service goes on.
  request.set_to("echo");
  v1::AskResponse echoed;
  ASSERT_TRUE(stub_->Ask(Context().get(), request, &echoed).ok());
}

TEST_F(MessagingServiceTest, AnAddressThisNodeNeverCreatedIsNotFound) {
  v1::TellRequest request;
  request.set_to(echo_address_.substr(0, echo_address_.rfind('/') + 1) + "4611686018427387000");
  request.set_type("text");
  v1::TellResponse response;
  grpc::Status status = stub_->Tell(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_CONTAINS(status.error_message(), "has not created it");
}

TEST_F(MessagingServiceTest, UnknownGlobalNameIsNotFound) {
  v1::TellRequest request;
  request.set_to("nobody");
  request.set_type("text");
  v1::TellResponse response;
  grpc::Status status = stub_->Tell(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_CONTAINS(status.error_message(), "no actor is named 'nobody'");
}

TEST_F(MessagingServiceTest, MalformedAddressIsInvalidArgument) {
  v1::AskRequest request;
  request.set_to("troupe://");
  request.set_type("text");
  v1::AskResponse response;
  grpc::Status status = stub_->Ask(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(MessagingServiceTest, MissingOrReservedTypeIsInvalidArgument) {
  v1::TellRequest request;
  request.set_to("echo");
  v1::TellResponse response;
  grpc::Status status = stub_->Tell(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CONTAINS(status.error_message(), "needs a type");
  request.set_type("troupe.ChildActorExited");
  status = stub_->Tell(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CONTAINS(status.error_message(), "reserved");
}

TEST_F(MessagingServiceTest, PayloadOverTheLimitIsResourceExhaustedAndTheNextCallWorks) {
  v1::AskRequest request;
  request.set_to("echo");
  request.set_type("text");
  request.set_payload(std::string(kMaxPayload + 1, 'x'));
  v1::AskResponse response;
  grpc::Status status = stub_->Ask(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_CONTAINS(status.error_message(), "max_message_bytes");
  request.set_payload(std::string(kMaxPayload, 'x'));
  ASSERT_TRUE(stub_->Ask(Context().get(), request, &response).ok());
  EXPECT_EQ(response.payload().size(), kMaxPayload);
}

TEST_F(MessagingServiceTest, LookupReturnsTheAddressOrNotFound) {
  v1::LookupRequest request;
  request.set_global_name("echo");
  v1::LookupResponse response;
  ASSERT_TRUE(stub_->Lookup(Context().get(), request, &response).ok());
  EXPECT_EQ(response.address(), echo_address_);
  request.set_global_name("nobody");
  EXPECT_EQ(stub_->Lookup(Context().get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(MessagingServiceTest, TcpCallWithoutTokenIsUnauthenticated) {
  auto tcp = TcpStub();
  v1::LookupRequest request;
  request.set_global_name("echo");
  v1::LookupResponse response;
  grpc::Status status = tcp->Lookup(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_CONTAINS(status.error_message(), "client token");
  EXPECT_TRUE(response.address().empty());
}

TEST_F(MessagingServiceTest, TcpCallWithAWrongTokenIsUnauthenticated) {
  auto tcp = TcpStub();
  auto context = Context();
  context->AddMetadata("authorization", "Bearer " + std::string(kToken.size(), 'z'));
  v1::LookupRequest request;
  request.set_global_name("echo");
  v1::LookupResponse response;
  EXPECT_EQ(tcp->Lookup(context.get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(MessagingServiceTest, TcpCallWithTheTokenIsServed) {
  auto tcp = TcpStub();
  auto context = Context();
  context->AddMetadata("authorization", "Bearer " + std::string(kToken));
  v1::AskRequest request;
  request.set_to("echo");
  request.set_type("text");
  request.set_payload("over tcp");
  v1::AskResponse response;
  grpc::Status status = tcp->Ask(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.payload(), "over tcp");
}

TEST_F(MessagingServiceTest, ManyConcurrentAsksEachGetTheirOwnReply) {
  constexpr int kThreads = 4;
  constexpr int kAsks = 50;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAsks; ++i) {
        v1::AskRequest request;
        request.set_to("echo");
        request.set_type("n");
        request.set_payload(std::to_string(t * 1000 + i));
        v1::AskResponse response;
        grpc::Status status = stub_->Ask(Context().get(), request, &response);
        if (!status.ok() || response.payload() != request.payload()) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// Lines libprotobuf logs while set as its log handler (LogCounter).
std::atomic<int> protobuf_log_lines{0};
void CountProtobufLogLine(google::protobuf::LogLevel, const char*, int, const std::string&) {
  protobuf_log_lines.fetch_add(1);
}

// Counts libprotobuf's log lines while it lives.
class LogCounter {
 public:
  LogCounter() : previous_(google::protobuf::SetLogHandler(&CountProtobufLogLine)) {
    protobuf_log_lines.store(0);
  }
  ~LogCounter() { google::protobuf::SetLogHandler(previous_); }
  int lines() const { return protobuf_log_lines.load(); }

 private:
  google::protobuf::LogHandler* const previous_;
};

// A length-delimited field on the wire: tag, length, bytes (what a client
// that does not check its strings sends).
std::string Field(int number, std::string_view bytes) {
  std::string out(1, static_cast<char>((number << 3) | 2));
  for (size_t length = bytes.size();; length >>= 7) {
    out += static_cast<char>((length & 0x7F) | (length > 0x7F ? 0x80 : 0));
    if (length <= 0x7F) break;
  }
  return troupe::StrCat(out, bytes);
}

// A unary call of troupe.v1.Messaging `method` with `bytes` as its request.
grpc::Status RawCall(const std::string& socket, const std::string& method,
                     std::string_view bytes) {
  grpc::GenericStub stub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  grpc::Slice slice(bytes.data(), bytes.size());
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/troupe.v1.Messaging/" + method, grpc::StubOptions(), &request,
                 &response, [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get();
}

TEST_F(MessagingServiceTest, ATellWhoseTargetIsNotUtf8IsInvalidArgumentNamingTheField) {
  LogCounter log;
  grpc::Status status = RawCall(socket_, "Tell", Field(1, "\xff\xfe") + Field(2, "text"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CONTAINS(status.error_message(), "request field 'to' is not valid UTF-8");
  EXPECT_EQ(log.lines(), 0);
  // The same call with text is served.
  status = RawCall(socket_, "Tell", Field(1, "echo") + Field(2, "text") + Field(3, "\xff"));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(MessagingServiceTest, EveryUnaryCallNamesItsStringFieldThatIsNotUtf8) {
  LogCounter log;
  grpc::Status status = RawCall(socket_, "Ask", Field(1, "echo") + Field(2, "\xc0\xaf"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CONTAINS(status.error_message(), "'type'");
  status = RawCall(socket_, "CreateActor", Field(1, "group") + Field(2, "\xed\xa0\x80"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CONTAINS(status.error_message(), "'class_name'");
  status = RawCall(socket_, "Lookup", Field(1, "ech\x80"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CONTAINS(status.error_message(), "'global_name'");
  EXPECT_EQ(log.lines(), 0);
}

TEST_F(MessagingServiceTest, BytesThatAreNotARequestAreInvalidArgument) {
  // A `to` of 5 bytes with 2 given.
  grpc::Status status = RawCall(socket_, "Tell", "\x0a\x05" "ab");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CONTAINS(status.error_message(), "malformed TellRequest");
}

TEST_F(MessagingServiceTest, ATellToAHugeAddressGetsAShortErrorThatNamesTheProblem) {
  v1::TellRequest request;
  request.set_to("troupe://" + std::string(60 << 10, 'a') + "/x");
  request.set_type("text");
  v1::TellResponse response;
  grpc::Status status = stub_->Tell(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(status.error_message().size(), 1024u);
  EXPECT_CONTAINS(status.error_message(), "has a bad actor id");
  EXPECT_CONTAINS(status.error_message(), troupe::StrCat("(", request.to().size(), " bytes)"));
}

// Per-method limits: a tell is at most its payload limit plus room for its
// target and type, refused before the request is copied or parsed.
TEST_F(MessagingServiceTest, ATellOverItsRequestLimitIsRefusedBeforeItIsParsed) {
  v1::TellRequest request;
  request.set_to("troupe://" + std::string(1 << 20, 'a') + "/x");
  request.set_type("text");
  v1::TellResponse response;
  grpc::Status status = stub_->Tell(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_LT(status.error_message().size(), 1024u);
  EXPECT_CONTAINS(status.error_message(), "a TellRequest of 1048597 bytes is over the limit of 66560 bytes for this call");
}

TEST_F(MessagingServiceTest, CallsByAHugeNameGetShortErrors) {
  const std::string name(60 << 10, 'n');
  v1::TellRequest tell;
  tell.set_to(name);
  tell.set_type("text");
  v1::TellResponse told;
  grpc::Status status = stub_->Tell(Context().get(), tell, &told);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LT(status.error_message().size(), 1024u);
  EXPECT_CONTAINS(status.error_message(), "no actor is named 'nnnn");

  v1::AskRequest ask;
  ask.set_to("troupe://" + name + "/1");
  ask.set_type("text");
  v1::AskResponse answer;
  status = stub_->Ask(Context().get(), ask, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_LT(status.error_message().size(), 1024u);
  EXPECT_CONTAINS(status.error_message(), "belongs to node 'nnnn");

  v1::LookupRequest lookup;
  lookup.set_global_name(name);
  v1::LookupResponse found;
  status = stub_->Lookup(Context().get(), lookup, &found);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_LT(status.error_message().size(), 1024u);
}

// Keeps what is forwarded to other daemons, as "node/id type".
class RecordingTransport final : public runtime::testing::FakeCluster {
 public:
  bool Forward(std::string_view node, uint64_t remote_id, runtime::Message message) override {
    troupe::MutexLock lock(&mu_);
    forwarded_.push_back(troupe::StrCat(node, "/", remote_id, " ", message.type()));
    return true;
  }
  bool ResumeWhenRoom(std::string_view, std::function<void()>) override { return false; }
  std::vector<std::string> forwarded() const {
    troupe::MutexLock lock(&mu_);
    return forwarded_;
  }

 private:
  mutable troupe::Mutex mu_;
  std::vector<std::string> forwarded_ ABSL_GUARDED_BY(mu_);
};

// The convention's names (fakes of what the daemon sets): "elsewhere" is
// held on another daemon, "unreachable" cannot be looked up, "taken" is held
// elsewhere when a create asks.
class ConventionNamesTest : public ServiceTest {
 protected:
  void ConfigureBeforeStart() override {
    system_->SetCluster(&transport_);
    ConventionNames names;
    names.find = [this](const std::string& name) -> absl::StatusOr<std::string> {
      finds_.fetch_add(1);
      if (name == "elsewhere") return std::string("troupe://other:7/5");
      if (name == "unreachable") return absl::UnavailableError("the leader is gone");
      return absl::NotFoundError("no actor is named '" + name + "' in the convention");
    };
    names.create = [](const std::string& name,
                      const std::function<absl::StatusOr<std::string>()>& create)
        -> absl::StatusOr<std::string> {
      if (name == "taken") return std::string("troupe://other:7/6");
      return create();
    };
    messaging_->SetConventionNames(std::move(names));
  }
  void TearDown() override {
    ServiceTest::TearDown();
    system_->SetCluster(nullptr);
  }

  RecordingTransport transport_;
  std::atomic<int> finds_{0};
};

TEST_F(ConventionNamesTest, ALookupOfANameNotHeldHereAsksTheConvention) {
  v1::LookupRequest request;
  v1::LookupResponse response;
  request.set_global_name("echo");
  ASSERT_TRUE(stub_->Lookup(Context().get(), request, &response).ok());
  EXPECT_EQ(response.address(), echo_address_);
  EXPECT_EQ(finds_.load(), 0) << "a name held here is not asked of the convention";
  request.set_global_name("elsewhere");
  grpc::Status status = stub_->Lookup(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.address(), "troupe://other:7/5");
  request.set_global_name("nobody");
  EXPECT_EQ(stub_->Lookup(Context().get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.set_global_name("unreachable");
  status = stub_->Lookup(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_CONTAINS(status.error_message(), "the leader is gone");
}

TEST_F(ConventionNamesTest, TellsAndAsksByANameHeldElsewhereGoToItsHolder) {
  v1::TellRequest tell;
  tell.set_to("elsewhere");
  tell.set_type("hello");
  v1::TellResponse told;
  grpc::Status status = stub_->Tell(Context().get(), tell, &told);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::AskRequest ask;
  ask.set_to("elsewhere");
  ask.set_type("question");
  ask.set_timeout_ms(50);
  v1::AskResponse answer;
  // Nobody answers on the fake transport: the ask times out.
  EXPECT_EQ(stub_->Ask(Context().get(), ask, &answer).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(transport_.forwarded(),
            (std::vector<std::string>{"other:7/5 hello", "other:7/5 question"}));
  tell.set_to("nobody");
  EXPECT_EQ(stub_->Tell(Context().get(), tell, &told).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ConventionNamesTest, ACreateWithANameTakenInTheConventionReturnsItsHolder) {
  v1::CreateActorRequest request;
  request.set_group("any");
  request.set_class_name("any.Class");
  request.set_global_name("taken");
  v1::CreateActorResponse response;
  grpc::Status status = stub_->CreateActor(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.address(), "troupe://other:7/6");
}

}  // namespace
}  // namespace troupe::service::testing
