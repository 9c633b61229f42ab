// Tests of the Messaging service's unary calls and of client authentication,
// over a real gRPC server.
#include <algorithm>
#include <future>
#include <thread>
#include <vector>

#include "daemon/common/mutex.h"
#include "daemon/common/strings.h"
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

TEST_F(MessagingServiceTest, ACreateWithTheOldRequirementsTextIsRefusedNotCreatedWithoutThem) {
  v1::CreateActorRequest request;
  request.set_group("any");
  request.set_class_name("any.Class");
  request.set_requirements_json(R"([{"capability": "gpu", "equals": true}])");
  v1::CreateActorResponse response;
  grpc::Status status = stub_->CreateActor(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_CONTAINS(status.error_message(), "requirements_json is no longer read");
  EXPECT_TRUE(response.address().empty());
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

using ConventionNamesTest = ConventionTest;

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
  EXPECT_EQ(cluster_.forwarded(),
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

// A unary call under way on the stub's callback API: the test goes on while
// the daemon works on it, and reads `status` when it needs the answer.
template <typename Request, typename Response>
struct CallUnderWay {
  grpc::ClientContext context;
  Request request;
  Response response;
  std::promise<grpc::Status> done;
  std::future<grpc::Status> status = done.get_future();
};

// Calls that need the convention wait for its answers on BlockingCalls'
// threads, never on gRPC's: while they wait, the service answers the rest.
class BlockedConventionTest : public ConventionTest {
 protected:
  BlockedConventionTest() {
    with_host_ = true;  // a create of a group not loaded here is placed elsewhere
    blocking_options_ = {.threads = 4, .max_queued = 64};
  }

  template <typename Response, typename Request, typename Starter>
  static std::shared_ptr<CallUnderWay<Request, Response>> StartCall(Request request,
                                                                    Starter start) {
    auto call = std::make_shared<CallUnderWay<Request, Response>>();
    call->request = std::move(request);
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    // The callback keeps the call (and its context) until the answer is in.
    start(&call->context, &call->request, &call->response,
          [call](grpc::Status status) { call->done.set_value(std::move(status)); });
    return call;
  }
  auto StartCreate(std::string group, std::string global_name = "") {
    v1::CreateActorRequest request;
    request.set_group(std::move(group));
    request.set_class_name("remote.Class");
    request.set_global_name(std::move(global_name));
    return StartCall<v1::CreateActorResponse>(
        std::move(request), [this](auto* context, auto* request, auto* response, auto done) {
          stub_->async()->CreateActor(context, request, response, std::move(done));
        });
  }
  auto StartLookup(std::string name) {
    v1::LookupRequest request;
    request.set_global_name(std::move(name));
    return StartCall<v1::LookupResponse>(
        std::move(request), [this](auto* context, auto* request, auto* response, auto done) {
          stub_->async()->Lookup(context, request, response, std::move(done));
        });
  }
  auto StartTell(std::string to, std::string type) {
    v1::TellRequest request;
    request.set_to(std::move(to));
    request.set_type(std::move(type));
    return StartCall<v1::TellResponse>(
        std::move(request), [this](auto* context, auto* request, auto* response, auto done) {
          stub_->async()->Tell(context, request, response, std::move(done));
        });
  }
  auto StartAsk(std::string to, std::string type, uint32_t timeout_ms) {
    v1::AskRequest request;
    request.set_to(std::move(to));
    request.set_type(std::move(type));
    request.set_timeout_ms(timeout_ms);
    return StartCall<v1::AskResponse>(
        std::move(request), [this](auto* context, auto* request, auto* response, auto done) {
          stub_->async()->Ask(context, request, response, std::move(done));
        });
  }

  // Tell, ask and lookup of the local "echo", each answered (the gRPC
  // threads are free). Empty when all went right, else what went wrong.
  std::string LocalCallsProblems() {
    std::string problems;
    v1::AskRequest ask;
    ask.set_to("echo");
    ask.set_type("text");
    ask.set_payload("still served");
    v1::AskResponse answer;
    grpc::Status status = stub_->Ask(Context().get(), ask, &answer);
    if (!status.ok() || answer.payload() != "still served") {
      troupe::StrAppend(&problems, "ask: ", status.error_message(), answer.payload(), "; ");
    }
    v1::TellRequest tell;
    tell.set_to("echo");
    tell.set_type("text");
    v1::TellResponse told;
    status = stub_->Tell(Context().get(), tell, &told);
    if (!status.ok()) troupe::StrAppend(&problems, "tell: ", status.error_message(), "; ");
    v1::LookupRequest lookup;
    lookup.set_global_name("echo");
    v1::LookupResponse found;
    status = stub_->Lookup(Context().get(), lookup, &found);
    if (!status.ok() || found.address() != echo_address_) {
      troupe::StrAppend(&problems, "lookup: ", status.error_message(), found.address(), "; ");
    }
    return problems;
  }
};

TEST_F(BlockedConventionTest, CreatesWaitingForTheirPlacementDoNotStopLocalCalls) {
  // More creates than the pool has threads, and than gRPC has callback
  // threads on this machine: before, each held a gRPC thread while placed.
  constexpr int kCreates = 16;
  std::vector<std::shared_ptr<CallUnderWay<v1::CreateActorRequest, v1::CreateActorResponse>>>
      creates;
  for (int i = 0; i < kCreates; ++i) creates.push_back(StartCreate("remote-only"));
  ASSERT_TRUE(Eventually(
      [&] { return slow_.entered() == 4 && blocking_->QueuedForTest() == kCreates - 4; }));
  EXPECT_EQ(LocalCallsProblems(), "");
  EXPECT_EQ(slow_.entered(), 4);  // still waiting for their peers
  slow_.Release();
  for (auto& create : creates) {
    grpc::Status status = create->status.get();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(create->response.address(), "troupe://other:7/9");
  }
}

TEST_F(BlockedConventionTest, TellsAsksAndLookupsOfANameHeldElsewhereWaitOffTheGrpcThreads) {
  auto tell = StartTell("slow", "hello");
  auto lookup = StartLookup("slow");
  auto ask = StartAsk("slow", "question", /*timeout_ms=*/50);
  ASSERT_TRUE(Eventually([&] { return slow_.entered() == 3; }));
  EXPECT_EQ(LocalCallsProblems(), "");
  EXPECT_TRUE(cluster_.forwarded().empty());
  slow_.Release();
  grpc::Status status = tell->status.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  status = lookup->status.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(lookup->response.address(), "troupe://other:7/5");
  // Nobody answers on the fake cluster: the ask times out.
  EXPECT_EQ(ask->status.get().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  std::vector<std::string> forwarded = cluster_.forwarded();
  std::sort(forwarded.begin(), forwarded.end());
  EXPECT_EQ(forwarded, (std::vector<std::string>{"other:7/5 hello", "other:7/5 question"}));
}

TEST_F(BlockedConventionTest, ACreateWithAGlobalNameWaitsForTheLeaderOffTheGrpcThread) {
  auto create = StartCreate("any", "slow-name");
  ASSERT_TRUE(Eventually([&] { return slow_.entered() == 1; }));
  EXPECT_EQ(LocalCallsProblems(), "");
  slow_.Release();
  grpc::Status status = create->status.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(create->response.address(), "troupe://other:7/8");
}

TEST_F(BlockedConventionTest, NamesHeldHereNeverWaitForTheConvention) {
  auto slow = StartLookup("slow");  // the pool is not needed by what follows
  ASSERT_TRUE(Eventually([&] { return slow_.entered() == 1; }));
  const int finds = finds_.load();
  EXPECT_EQ(LocalCallsProblems(), "");
  EXPECT_EQ(finds_.load(), finds);
  slow_.Release();
  EXPECT_TRUE(slow->status.get().ok());
}

// One thread and room for one queued call.
class SmallPoolTest : public BlockedConventionTest {
 protected:
  SmallPoolTest() { blocking_options_ = {.threads = 1, .max_queued = 1}; }
};

TEST_F(SmallPoolTest, ACallThatFindsTheQueueFullIsRefusedAtOnceAndLocalCallsGoOn) {
  auto first = StartLookup("slow");
  ASSERT_TRUE(Eventually([&] { return slow_.entered() == 1; }));
  auto second = StartLookup("slow");
  ASSERT_TRUE(Eventually([&] { return blocking_->QueuedForTest() == 1; }));
  v1::LookupRequest lookup;
  lookup.set_global_name("elsewhere");
  v1::LookupResponse found;
  grpc::Status status = stub_->Lookup(Context().get(), lookup, &found);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_CONTAINS(status.error_message(),
                  "the daemon is busy: 1 calls already wait for another daemon or the "
                  "convention's leader; try again later");
  v1::CreateActorRequest create;
  create.set_group("remote-only");
  create.set_class_name("remote.Class");
  v1::CreateActorResponse created;
  EXPECT_EQ(stub_->CreateActor(Context().get(), create, &created).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(LocalCallsProblems(), "");
  slow_.Release();
  for (auto* call : {first.get(), second.get()}) {
    status = call->status.get();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(call->response.address(), "troupe://other:7/5");
  }
}

TEST_F(SmallPoolTest, StoppingAnswersQueuedCallsAndWaitsForTheOneUnderWay) {
  auto under_way = StartLookup("slow");
  ASSERT_TRUE(Eventually([&] { return slow_.entered() == 1; }));
  auto queued = StartTell("elsewhere", "hello");
  ASSERT_TRUE(Eventually([&] { return blocking_->QueuedForTest() == 1; }));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    blocking_->Stop();
    stopped = true;
  });
  grpc::Status status = queued->status.get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "the daemon is stopping");
  EXPECT_FALSE(stopped.load()) << "Stop returned while a call was under way";
  // Later calls that need the convention are refused at once; local ones go on.
  v1::LookupRequest lookup;
  lookup.set_global_name("elsewhere");
  v1::LookupResponse found;
  EXPECT_EQ(stub_->Lookup(Context().get(), lookup, &found).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(LocalCallsProblems(), "");
  slow_.Release();
  status = under_way->status.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(under_way->response.address(), "troupe://other:7/5");
  stopper.join();
  EXPECT_TRUE(stopped.load());
  EXPECT_TRUE(cluster_.forwarded().empty()) << "a refused tell was sent";
}

}  // namespace
}  // namespace troupe::service::testing
