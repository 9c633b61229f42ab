// actor_test.cc - drives the SDK (actor.h, wire.h) through its C trampolines
// with a fake host table that records what actors ask for.
#include "troupe/actor.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "troupe/wire.h"

// The fake host's address: a ref-counted printed name.
struct troupe_address_s {
  std::string text;
  int refs = 1;
};

namespace troupe {
namespace {

// Everything the fake host records. One per test (see HostTest).
struct FakeHost {
  struct Sent {
    std::string target;
    std::string type;
    std::string payload;
  };
  std::vector<Sent> sent;
  std::vector<std::string> errors;
  std::vector<std::string> logs;
  std::vector<std::pair<uint64_t, std::string>> wakeups;
  std::map<std::string, std::string> capabilities;
  int exit_self_calls = 0;
  int exit_not_recursive_calls = 0;
  int dead_letters = -1;
  std::vector<int> convention_subscriptions;  // each notify_on_convention_changes
  int live_addresses = 0;
  troupe_address_t self = nullptr;
  troupe_address_t parent = nullptr;
  std::string global_name;
  std::set<std::string> known_classes;
};

FakeHost* fake = nullptr;

troupe_address_t NewAddress(std::string text) {
  ++fake->live_addresses;
  return new troupe_address_s{std::move(text)};
}
std::string Str(troupe_bytes_t b) { return std::string(b.data, b.size); }

troupe_result_t FakeSend(troupe_actor_ctx_t*, troupe_address_t target, troupe_bytes_t type,
                         troupe_bytes_t payload) {
  if (target == nullptr) return TROUPE_ERROR_INVALID_ARGUMENT;
  fake->sent.push_back({target->text, Str(type), Str(payload)});
  return TROUPE_OK;
}
troupe_result_t FakeCreateActor(troupe_actor_ctx_t*, troupe_bytes_t class_name, troupe_bytes_t,
                                troupe_bytes_t global_name, troupe_address_t* out) {
  if (fake->known_classes.count(Str(class_name)) == 0) return TROUPE_ERROR_NOT_FOUND;
  *out = NewAddress("fake://" + Str(class_name) + "/" + Str(global_name));
  return TROUPE_OK;
}
void FakeExitSelf(troupe_actor_ctx_t*) { ++fake->exit_self_calls; }
troupe_result_t FakeWakeupAfter(troupe_actor_ctx_t*, uint64_t delay_ns, troupe_bytes_t payload) {
  fake->wakeups.emplace_back(delay_ns, Str(payload));
  return TROUPE_OK;
}
troupe_address_t FakeSelf(troupe_actor_ctx_t*) { return fake->self; }
troupe_address_t FakeParent(troupe_actor_ctx_t*) { return fake->parent; }
troupe_bytes_t FakeGlobalName(troupe_actor_ctx_t*) {
  return {fake->global_name.data(), fake->global_name.size()};
}
void FakeLog(troupe_actor_ctx_t*, troupe_log_level_t, troupe_bytes_t text) {
  fake->logs.push_back(Str(text));
}
troupe_result_t FakeUpdateCapability(troupe_actor_ctx_t*, troupe_bytes_t name,
                                     troupe_bytes_t value) {
  if (Str(value) == "{bad") return TROUPE_ERROR_INVALID_ARGUMENT;
  fake->capabilities[Str(name)] = Str(value);
  return TROUPE_OK;
}
void FakeHandleDeadLetters(troupe_actor_ctx_t*, int enable) { fake->dead_letters = enable; }
void FakeReportError(troupe_actor_ctx_t*, troupe_bytes_t text) {
  fake->errors.push_back(Str(text));
}
void FakeExitNotRecursive(troupe_actor_ctx_t*) { ++fake->exit_not_recursive_calls; }
void FakeNotifyOnConventionChanges(troupe_actor_ctx_t*, int enable) {
  fake->convention_subscriptions.push_back(enable);
}
troupe_address_t FakeRetain(troupe_address_t a) {
  ++a->refs;
  return a;
}
void FakeRelease(troupe_address_t a) {
  if (a == nullptr) return;
  if (--a->refs == 0) {
    --fake->live_addresses;
    delete a;
  }
}
int FakeCompare(troupe_address_t a, troupe_address_t b) {
  if (a == nullptr || b == nullptr) return (a != nullptr) - (b != nullptr);
  return a->text.compare(b->text);
}
uint64_t FakeHash(troupe_address_t a) { return std::hash<std::string>()(a->text); }
size_t FakeFormat(troupe_address_t a, char* buffer, size_t capacity) {
  a->text.copy(buffer, std::min(capacity, a->text.size()));
  return a->text.size();
}
troupe_result_t FakeParse(troupe_bytes_t text, troupe_address_t* out) {
  if (Str(text).rfind("fake://", 0) != 0) return TROUPE_ERROR_INVALID_ARGUMENT;
  *out = NewAddress(Str(text));
  return TROUPE_OK;
}

const troupe_host_v1_t kHost = {sizeof(troupe_host_v1_t),
                                TROUPE_ABI_MAJOR,
                                TROUPE_ABI_MINOR,
                                &FakeSend,
                                &FakeCreateActor,
                                &FakeExitSelf,
                                &FakeWakeupAfter,
                                &FakeSelf,
                                &FakeParent,
                                &FakeGlobalName,
                                &FakeLog,
                                &FakeUpdateCapability,
                                &FakeHandleDeadLetters,
                                &FakeReportError,
                                &FakeExitNotRecursive,
                                &FakeRetain,
                                &FakeRelease,
                                &FakeCompare,
                                &FakeHash,
                                &FakeFormat,
                                &FakeParse,
                                &FakeNotifyOnConventionChanges};

troupe_actor_ctx_t* const kCtx = reinterpret_cast<troupe_actor_ctx_t*>(0x1234);

// A fixture owning the fake host and one sender address.
class HostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake = &host_;
    host_.self = NewAddress("fake://self");
    host_.parent = NewAddress("fake://parent");
    sender_ = NewAddress("fake://sender");
  }
  void TearDown() override {
    FakeRelease(sender_);
    FakeRelease(host_.self);
    FakeRelease(host_.parent);
    EXPECT_EQ(host_.live_addresses, 0) << "an address leaked";
    fake = nullptr;
  }

  // Creates an instance of class `c`, failing the test on error.
  void* Create(const troupe_actor_class_v1_t& c) {
    void* instance = nullptr;
    EXPECT_EQ(c.create(kCtx, &kHost, &instance), TROUPE_OK);
    EXPECT_NE(instance, nullptr);
    return instance;
  }
  troupe_result_t Deliver(const troupe_actor_class_v1_t& c, void* instance, std::string_view type,
                          std::string_view payload, bool with_sender = true) {
    troupe_message_t m{{type.data(), type.size()},
                       {payload.data(), payload.size()},
                       with_sender ? sender_ : nullptr};
    return c.receive(instance, kCtx, &m);
  }

  FakeHost host_;
  troupe_address_t sender_ = nullptr;
};

// A protobuf look-alike: enough for SendProto / ParseProto / On<P>.
struct FakeDescriptor {
  std::string full_name() const { return "test.Point"; }
};
struct Point {
  static const FakeDescriptor* descriptor() {
    static const FakeDescriptor d;
    return &d;
  }
  std::string SerializeAsString() const { return std::to_string(x) + "," + std::to_string(y); }
  bool ParseFromArray(const void* data, int size) {
    std::string s(static_cast<const char*>(data), static_cast<size_t>(size));
    return std::sscanf(s.c_str(), "%d,%d", &x, &y) == 2;
  }
  int x = 0;
  int y = 0;
};

class Dispatching : public Actor {
 public:
  Dispatching() {
    On("greet", &Dispatching::Greet);
    On("lambda", [this](const Message& m) { Reply(m, "from_lambda", m.payload()); });
    On<Point>(&Dispatching::OnPoint);
    On<WakeupMessage>(&Dispatching::OnWakeup);
    On("throw_std", [](const Message&) { throw std::runtime_error("boom from handler"); });
    On("throw_arg", [](const Message&) { throw std::invalid_argument("bad argument"); });
    On("throw_code", [](const Message&) { throw Error(TROUPE_ERROR_UNAVAILABLE, "not now"); });
    On("throw_int", [](const Message&) { throw 42; });
    On("send_null", [this](const Message&) { Send(Address(), "x", "y"); });
    On("services", &Dispatching::Services);
    On("create", [this](const Message& m) {
      Address child = CreateActor(m.payload(), "", "named");
      Reply(m, "created", child.ToString());
    });
    self_in_constructor_ = Self().ToString();
    Log(TROUPE_LOG_INFO, "constructed");
  }

  void Unhandled(const Message& message) override { Reply(message, "unhandled", message.type()); }

 private:
  void Greet(const Message& m) { Reply(m, "greeting", "hello " + std::string(m.payload())); }
  void OnPoint(const Point& p, const Message& m) {
    Reply(m, "sum", std::to_string(p.x + p.y));
    SendProto(m.sender(), p);
  }
  void OnWakeup(const WakeupMessage& w) {
    Send(Self(), "woke", std::to_string(w.delay.count()) + ":" + w.payload);
  }
  void Services(const Message& m) {
    Reply(m, "self", self_in_constructor_);
    Reply(m, "parent", Parent().ToString());
    Reply(m, "name", GlobalName());
    WakeupAfter(std::chrono::milliseconds(5), "tick");
    UpdateCapability("gpu", "true");
    HandleDeadLetters(true);
    ExitNotRecursive();
    ExitSelf();
  }

  std::string self_in_constructor_;
};

class ThrowsInConstructor : public Actor {
 public:
  ThrowsInConstructor() { throw std::runtime_error("constructor says no"); }
};

class Flaky : public Actor {
 public:
  static bool CapabilityCheck(std::string_view caps, std::string_view) {
    if (caps == "throw") throw std::runtime_error("no");
    return caps == "{\"gpu\":true}";
  }
};

constexpr troupe_actor_class_v1_t kDispatching = ActorClass<Dispatching>("test.Dispatching");

TEST_F(HostTest, DispatchesByTypeName) {
  void* a = Create(kDispatching);
  EXPECT_EQ(Deliver(kDispatching, a, "greet", "bob"), TROUPE_OK);
  EXPECT_EQ(Deliver(kDispatching, a, "lambda", "x"), TROUPE_OK);
  ASSERT_EQ(host_.sent.size(), 2u);
  EXPECT_EQ(host_.sent[0].target, "fake://sender");
  EXPECT_EQ(host_.sent[0].type, "greeting");
  EXPECT_EQ(host_.sent[0].payload, "hello bob");
  EXPECT_EQ(host_.sent[1].type, "from_lambda");
  EXPECT_EQ(host_.logs, std::vector<std::string>{"constructed"});
  kDispatching.destroy(a);
}

TEST_F(HostTest, UnregisteredTypesGoToUnhandled) {
  void* a = Create(kDispatching);
  EXPECT_EQ(Deliver(kDispatching, a, "greet_", "bob"), TROUPE_OK);
  ASSERT_EQ(host_.sent.size(), 1u);
  EXPECT_EQ(host_.sent[0].type, "unhandled");
  EXPECT_EQ(host_.sent[0].payload, "greet_");
  kDispatching.destroy(a);
}

TEST_F(HostTest, ReplyWithoutSenderSendsNothing) {
  void* a = Create(kDispatching);
  EXPECT_EQ(Deliver(kDispatching, a, "greet", "bob", /*with_sender=*/false), TROUPE_OK);
  EXPECT_TRUE(host_.sent.empty());
  kDispatching.destroy(a);
}

TEST_F(HostTest, ExceptionsBecomeErrorsWithTheirText) {
  void* a = Create(kDispatching);
  EXPECT_EQ(Deliver(kDispatching, a, "throw_std", ""), TROUPE_ERROR_UNKNOWN);
  EXPECT_EQ(Deliver(kDispatching, a, "throw_arg", ""), TROUPE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(Deliver(kDispatching, a, "throw_code", ""), TROUPE_ERROR_UNAVAILABLE);
  EXPECT_EQ(Deliver(kDispatching, a, "throw_int", ""), TROUPE_ERROR_UNKNOWN);
  EXPECT_EQ(host_.errors, (std::vector<std::string>{"boom from handler", "bad argument", "not now",
                                                    "unknown exception"}));
  // The instance keeps working after a failure.
  EXPECT_EQ(Deliver(kDispatching, a, "greet", "again"), TROUPE_OK);
  kDispatching.destroy(a);
}

TEST_F(HostTest, HostRefusalsBecomeHandlerFailures) {
  void* a = Create(kDispatching);
  EXPECT_EQ(Deliver(kDispatching, a, "send_null", ""), TROUPE_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(host_.errors.size(), 1u);
  EXPECT_EQ(host_.errors[0], "send failed: INVALID_ARGUMENT");
  EXPECT_EQ(Deliver(kDispatching, a, "create", "no.Such"), TROUPE_ERROR_NOT_FOUND);
  EXPECT_NE(host_.errors[1].find("no.Such"), std::string::npos) << host_.errors[1];
  kDispatching.destroy(a);
}

TEST_F(HostTest, CreateActorReturnsARetainedAddress) {
  host_.known_classes.insert("test.Child");
  void* a = Create(kDispatching);
  EXPECT_EQ(Deliver(kDispatching, a, "create", "test.Child"), TROUPE_OK);
  ASSERT_EQ(host_.sent.size(), 1u);
  EXPECT_EQ(host_.sent[0].payload, "fake://test.Child/named");
  kDispatching.destroy(a);
}

TEST_F(HostTest, ConstructorFailureIsReportedAndLeavesNoInstance) {
  constexpr troupe_actor_class_v1_t c = ActorClass<ThrowsInConstructor>("test.Throws");
  void* instance = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(c.create(kCtx, &kHost, &instance), TROUPE_ERROR_UNKNOWN);
  EXPECT_EQ(instance, reinterpret_cast<void*>(0x1));
  EXPECT_EQ(host_.errors, std::vector<std::string>{"constructor says no"});
  // The binding is withdrawn: an Actor made outside a trampoline is unbound,
  // and the construction lock was released.
  EXPECT_EQ(detail::construction_thread.load(), std::thread::id());
  EXPECT_TRUE(detail::construction_mutex.try_lock());
  detail::construction_mutex.unlock();
}

TEST_F(HostTest, HostServicesReachTheHost) {
  host_.global_name = "the.name";
  void* a = Create(kDispatching);
  EXPECT_EQ(Deliver(kDispatching, a, "services", ""), TROUPE_OK);
  ASSERT_EQ(host_.sent.size(), 3u);
  EXPECT_EQ(host_.sent[0].payload, "fake://self");  // read in the constructor
  EXPECT_EQ(host_.sent[1].payload, "fake://parent");
  EXPECT_EQ(host_.sent[2].payload, "the.name");
  ASSERT_EQ(host_.wakeups.size(), 1u);
  EXPECT_EQ(host_.wakeups[0].first, 5000000u);
  EXPECT_EQ(host_.wakeups[0].second, "tick");
  EXPECT_EQ(host_.capabilities["gpu"], "true");
  EXPECT_EQ(host_.dead_letters, 1);
  EXPECT_EQ(host_.exit_not_recursive_calls, 1);
  EXPECT_EQ(host_.exit_self_calls, 1);
  kDispatching.destroy(a);
}

TEST_F(HostTest, TypedHandlersDecodeSystemAndProtoMessages) {
  void* a = Create(kDispatching);
  WakeupMessage wakeup{std::chrono::nanoseconds(77), "later"};
  EXPECT_EQ(Deliver(kDispatching, a, TROUPE_MSG_WAKEUP, wakeup.EncodePayload()), TROUPE_OK);
  EXPECT_EQ(Deliver(kDispatching, a, "test.Point", "3,4"), TROUPE_OK);
  ASSERT_EQ(host_.sent.size(), 3u);
  EXPECT_EQ(host_.sent[0].target, "fake://self");
  EXPECT_EQ(host_.sent[0].payload, "77:later");
  EXPECT_EQ(host_.sent[1].type, "sum");
  EXPECT_EQ(host_.sent[1].payload, "7");
  EXPECT_EQ(host_.sent[2].type, "test.Point");
  EXPECT_EQ(host_.sent[2].payload, "3,4");
  // Malformed typed messages fail the handler.
  EXPECT_EQ(Deliver(kDispatching, a, TROUPE_MSG_WAKEUP, "short"), TROUPE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(Deliver(kDispatching, a, "test.Point", "nope"), TROUPE_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(host_.errors.size(), 2u);
  EXPECT_NE(host_.errors[0].find(TROUPE_MSG_WAKEUP), std::string::npos) << host_.errors[0];
  EXPECT_NE(host_.errors[1].find("test.Point"), std::string::npos) << host_.errors[1];
  kDispatching.destroy(a);
}

TEST_F(HostTest, ParseProtoRejectsAnotherType) {
  troupe_message_t raw{{"other", 5}, {"1,2", 3}, nullptr};
  EXPECT_THROW(ParseProto<Point>(Message(raw, &kHost)), Error);
}

TEST_F(HostTest, ClassOptionsAndCapabilityCheckAreExported) {
  constexpr troupe_actor_class_v1_t c = ActorClass<Flaky>(
      "test.Flaky",
      {.failure_policy = TROUPE_FAILURE_RESTART, .pool_max_count = 8, .pool_idle_count = 2});
  EXPECT_EQ(c.struct_size, sizeof(troupe_actor_class_v1_t));
  EXPECT_STREQ(c.name, "test.Flaky");
  EXPECT_EQ(c.failure_policy, TROUPE_FAILURE_RESTART);
  EXPECT_EQ(c.pool_max_count, 8u);
  EXPECT_EQ(c.pool_idle_count, 2u);
  ASSERT_NE(c.capability_check, nullptr);
  const std::string yes = "{\"gpu\":true}";
  EXPECT_EQ(c.capability_check({yes.data(), yes.size()}, {"", 0}), 1);
  EXPECT_EQ(c.capability_check({"{}", 2}, {"", 0}), 0);
  EXPECT_EQ(c.capability_check({"throw", 5}, {"", 0}), 0);
  EXPECT_EQ(kDispatching.capability_check, nullptr);
  EXPECT_EQ(kDispatching.failure_policy, TROUPE_FAILURE_RESUME);
}

}  // namespace
}  // namespace troupe

TROUPE_EXPORT_ACTORS("test_library", troupe::ActorClass<troupe::Dispatching>("test.Dispatching"),
                     troupe::ActorClass<troupe::Flaky>("test.Flaky",
                                                       {.failure_policy = TROUPE_FAILURE_RESTART}))

namespace troupe {
namespace {

TEST(ExportTest, ExportMacroBuildsTheLibraryTable) {
  const troupe_plugin_v1_t* p = troupe_plugin_v1();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, troupe_plugin_v1());
  EXPECT_EQ(p->struct_size, sizeof(troupe_plugin_v1_t));
  EXPECT_EQ(p->abi_major, TROUPE_ABI_MAJOR);
  EXPECT_EQ(p->abi_minor, TROUPE_ABI_MINOR);
  EXPECT_STREQ(p->library_name, "test_library");
  EXPECT_STREQ(p->sdk_version, TROUPE_SDK_VERSION);
  ASSERT_EQ(p->class_count, 2u);
  EXPECT_STREQ(p->classes[0]->name, "test.Dispatching");
  EXPECT_STREQ(p->classes[1]->name, "test.Flaky");
  EXPECT_EQ(p->classes[1]->failure_policy, TROUPE_FAILURE_RESTART);
}

TEST_F(HostTest, AddressCopiesRetainAndDestructionReleases) {
  troupe_address_t raw = NewAddress("fake://a");
  {
    Address a = Address::Adopt(&kHost, raw);
    EXPECT_EQ(raw->refs, 1);
    Address b = a;
    EXPECT_EQ(raw->refs, 2);
    Address c = std::move(b);
    EXPECT_TRUE(b.is_null());
    EXPECT_EQ(raw->refs, 2);
    c = Address();
    EXPECT_EQ(raw->refs, 1);
    EXPECT_EQ(a.ToString(), "fake://a");
  }
  EXPECT_EQ(host_.live_addresses, 3);  // self, parent, sender
}

TEST_F(HostTest, AddressComparesHashesAndPrints) {
  Address a = Address::Parse(&kHost, "fake://a");
  Address a2 = Address::Parse(&kHost, "fake://a");
  Address b = Address::Parse(&kHost, "fake://b");
  Address null;
  ASSERT_TRUE(a);
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, b);
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(null < a);
  EXPECT_FALSE(a < null);
  EXPECT_EQ(null, Address());
  EXPECT_EQ(std::hash<Address>()(a), std::hash<Address>()(a2));
  std::unordered_set<Address> set = {a, a2, b};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(null.ToString(), "");
  EXPECT_TRUE(Address::Parse(&kHost, "not an address").is_null());
  const std::string long_text = "fake://" + std::string(200, 'x');
  EXPECT_EQ(Address::Parse(&kHost, long_text).ToString(), long_text);
}

TEST_F(HostTest, MessageViewsAndSender) {
  troupe_message_t raw{{"t", 1}, {"p\0q", 3}, sender_};
  Message m(raw, &kHost);
  EXPECT_TRUE(m.Is("t"));
  EXPECT_FALSE(m.Is("tt"));
  EXPECT_EQ(m.payload(), std::string_view("p\0q", 3));
  EXPECT_EQ(m.sender().ToString(), "fake://sender");
  EXPECT_EQ(sender_->refs, 1);  // the copy was released
  troupe_message_t anonymous{{"t", 1}, {nullptr, 0}, nullptr};
  EXPECT_TRUE(Message(anonymous, &kHost).sender().is_null());
  EXPECT_EQ(Message(anonymous, &kHost).payload(), "");
}

TEST(WireTest, FieldsAndNumbersRoundTrip) {
  std::string buffer;
  wire::AppendField(&buffer, "hello");
  wire::AppendField(&buffer, std::string_view("\0x", 2));
  wire::AppendField(&buffer, "");
  wire::AppendU32(&buffer, 0xdeadbeef);
  wire::AppendU64(&buffer, 0x0123456789abcdefull);
  EXPECT_EQ(buffer.substr(0, 4), std::string("\5\0\0\0", 4));  // little-endian length

  std::string_view in = buffer;
  std::string_view field;
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  ASSERT_TRUE(wire::ReadField(&in, &field));
  EXPECT_EQ(field, "hello");
  ASSERT_TRUE(wire::ReadField(&in, &field));
  EXPECT_EQ(field, std::string_view("\0x", 2));
  ASSERT_TRUE(wire::ReadField(&in, &field));
  EXPECT_EQ(field, "");
  ASSERT_TRUE(wire::ReadU32(&in, &u32));
  EXPECT_EQ(u32, 0xdeadbeefu);
  ASSERT_TRUE(wire::ReadU64(&in, &u64));
  EXPECT_EQ(u64, 0x0123456789abcdefull);
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(wire::ReadU32(&in, &u32));
}

TEST(WireTest, TruncatedInputIsRejectedAndNotConsumed) {
  std::string buffer;
  wire::AppendField(&buffer, "hello");
  std::string_view in = std::string_view(buffer).substr(0, buffer.size() - 1);
  const std::string_view before = in;
  std::string_view field = "untouched";
  EXPECT_FALSE(wire::ReadField(&in, &field));
  EXPECT_EQ(in, before);
  EXPECT_EQ(field, "untouched");
  std::string_view three = "abc";
  uint64_t u64 = 7;
  EXPECT_FALSE(wire::ReadU64(&three, &u64));
  EXPECT_EQ(u64, 7u);
  EXPECT_EQ(three, "abc");
}

TEST(SystemMessageTest, ExitRequestDefaultsToRecursive) {
  EXPECT_TRUE(ExitRequest::DecodePayload("")->recursive);
  EXPECT_TRUE(ExitRequest::DecodePayload(std::string(1, '\1'))->recursive);
  EXPECT_FALSE(ExitRequest::DecodePayload(std::string(1, '\0'))->recursive);
  EXPECT_FALSE(ExitRequest::DecodePayload("xx").has_value());
  EXPECT_FALSE(ExitRequest::DecodePayload(ExitRequest{false}.EncodePayload())->recursive);
}

TEST_F(HostTest, ChildActorExitedDecodesTheAddress) {
  std::string payload;
  wire::AppendField(&payload, "fake://child");
  wire::AppendField(&payload, "crashed");
  auto decoded = ChildActorExited::DecodePayload(payload, &kHost);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->child_text, "fake://child");
  EXPECT_EQ(decoded->child.ToString(), "fake://child");
  EXPECT_EQ(decoded->reason, "crashed");
  EXPECT_EQ(decoded->EncodePayload(), payload);
  EXPECT_FALSE(ChildActorExited::DecodePayload(payload + "x").has_value());
  EXPECT_FALSE(ChildActorExited::DecodePayload(payload.substr(0, 10)).has_value());
}

TEST_F(HostTest, OtherSystemMessagesRoundTrip) {
  PoisonMessage poison{"t", std::string("p\0", 2), "it failed"};
  auto p = PoisonMessage::DecodePayload(poison.EncodePayload());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "t");
  EXPECT_EQ(p->payload, std::string("p\0", 2));
  EXPECT_EQ(p->error, "it failed");
  EXPECT_FALSE(PoisonMessage::DecodePayload("").has_value());

  auto w = WakeupMessage::DecodePayload(WakeupMessage{std::chrono::seconds(2), ""}.EncodePayload());
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->delay, std::chrono::seconds(2));
  EXPECT_EQ(w->payload, "");

  DeadEnvelope dead{"fake://gone", Address(), "t", "p"};
  auto d = DeadEnvelope::DecodePayload(dead.EncodePayload(), &kHost);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->dead_address.ToString(), "fake://gone");
  EXPECT_EQ(d->type, "t");
  EXPECT_EQ(d->payload, "p");

  auto s = UpdateTroupeSettings::DecodePayload(UpdateTroupeSettings{10, 2}.EncodePayload());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->max_count, 10u);
  EXPECT_EQ(s->idle_count, 2u);
  EXPECT_FALSE(UpdateTroupeSettings::DecodePayload("12345678x").has_value());
}

TEST(SystemMessageTest, CapabilitiesChangedAndConventionUpdateRoundTrip) {
  CapabilitiesChanged changed{R"({"gpu":false})", "requirement 'gpu equals true' does not hold"};
  std::string wire_payload;
  wire::AppendField(&wire_payload, R"({"gpu":false})");
  wire::AppendField(&wire_payload, "requirement 'gpu equals true' does not hold");
  EXPECT_EQ(changed.EncodePayload(), wire_payload) << "the field encoding abi.h documents";
  auto c = CapabilitiesChanged::DecodePayload(wire_payload);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->capabilities_json, R"({"gpu":false})");
  EXPECT_EQ(c->reason, "requirement 'gpu equals true' does not hold");
  EXPECT_FALSE(CapabilitiesChanged::DecodePayload(wire_payload + "x").has_value());
  EXPECT_FALSE(CapabilitiesChanged::DecodePayload(wire_payload.substr(0, 6)).has_value());

  ConventionUpdate update{"b.example:1900", R"({"zone":"eu"})", "joined"};
  auto u = ConventionUpdate::DecodePayload(update.EncodePayload());
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->node, "b.example:1900");
  EXPECT_EQ(u->capabilities_json, R"({"zone":"eu"})");
  EXPECT_TRUE(u->joined());
  EXPECT_FALSE(u->left());
  EXPECT_FALSE(u->capabilities_changed());
  EXPECT_TRUE((ConventionUpdate{"n", "{}", "left"}).left());
  EXPECT_TRUE((ConventionUpdate{"n", "{}", "capabilities"}).capabilities_changed());
  EXPECT_FALSE(ConventionUpdate::DecodePayload("").has_value());
  EXPECT_EQ(TypeNameOf<ConventionUpdate>(), TROUPE_MSG_CONVENTION_UPDATE);
  EXPECT_EQ(TypeNameOf<CapabilitiesChanged>(), TROUPE_MSG_CAPABILITIES_CHANGED);
}

// Subscribes in its constructor's first message and records what it hears.
class Watcher : public Actor {
 public:
  static constexpr bool kExitWhenUnfit = true;
  Watcher() {
    On("watch", [this](const Message&) { NotifyOnConventionChanges(true); });
    On("unwatch", [this](const Message&) { NotifyOnConventionChanges(false); });
    On<ConventionUpdate>(&Watcher::OnUpdate);
    On<CapabilitiesChanged>(&Watcher::OnUnfit);
  }

 private:
  void OnUpdate(const ConventionUpdate& u, const Message& m) {
    Reply(m, "update", u.event + " " + u.node);
  }
  void OnUnfit(const CapabilitiesChanged& c, const Message& m) { Reply(m, "unfit", c.reason); }
};

class Plain : public Actor {};

TEST_F(HostTest, ExitWhenUnfitComesFromTheClassOrTheOptions) {
  constexpr troupe_actor_class_v1_t watcher = ActorClass<Watcher>("test.Watcher");
  constexpr troupe_actor_class_v1_t plain = ActorClass<Plain>("test.Plain");
  constexpr troupe_actor_class_v1_t opted =
      ActorClass<Plain>("test.Opted", {.exit_when_unfit = true});
  EXPECT_EQ(watcher.exit_when_unfit, 1u);
  EXPECT_EQ(plain.exit_when_unfit, 0u);
  EXPECT_EQ(opted.exit_when_unfit, 1u);
}

TEST_F(HostTest, ConventionSubscriptionAndTypedNoticesReachTheActor) {
  constexpr troupe_actor_class_v1_t c = ActorClass<Watcher>("test.Watcher");
  void* a = Create(c);
  EXPECT_EQ(Deliver(c, a, "watch", ""), TROUPE_OK);
  EXPECT_EQ(Deliver(c, a, "unwatch", ""), TROUPE_OK);
  EXPECT_EQ(host_.convention_subscriptions, (std::vector<int>{1, 0}));
  EXPECT_EQ(Deliver(c, a, TROUPE_MSG_CONVENTION_UPDATE,
                    ConventionUpdate{"b:1", "{}", "left"}.EncodePayload()),
            TROUPE_OK);
  EXPECT_EQ(Deliver(c, a, TROUPE_MSG_CAPABILITIES_CHANGED,
                    CapabilitiesChanged{"{}", "no gpu"}.EncodePayload()),
            TROUPE_OK);
  ASSERT_EQ(host_.sent.size(), 2u);
  EXPECT_EQ(host_.sent[0].type, "update");
  EXPECT_EQ(host_.sent[0].payload, "left b:1");
  EXPECT_EQ(host_.sent[1].type, "unfit");
  EXPECT_EQ(host_.sent[1].payload, "no gpu");
  c.destroy(a);
}

TEST(ActorTest, UnboundActorThrowsLogicError) {
  struct Plain : Actor {};
  Plain plain;
  EXPECT_THROW(plain.Self(), std::logic_error);
}

class JsonActor : public Actor {
 public:
  JsonActor() {
    OnJson("config", &JsonActor::Config);
    On("forward", [this](const Message& m) { SendJson(m.sender(), "config", m.payload()); });
  }

 private:
  void Config(std::string_view json, const Message& m) { Reply(m, "got", json); }
};

constexpr troupe_actor_class_v1_t kJsonActor = ActorClass<JsonActor>("test.Json");

TEST_F(HostTest, JsonHandlersGetOnlyValidJson) {
  void* a = Create(kJsonActor);
  EXPECT_EQ(Deliver(kJsonActor, a, "config", R"({"workers": [1, 2.5e3, true, null]})"), TROUPE_OK);
  ASSERT_EQ(host_.sent.size(), 1u);
  EXPECT_EQ(host_.sent[0].payload, R"({"workers": [1, 2.5e3, true, null]})");
  EXPECT_EQ(Deliver(kJsonActor, a, "config", "{workers: 1}"), TROUPE_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(host_.errors.size(), 1u);
  EXPECT_EQ(host_.errors[0], "payload of 'config' is not valid JSON");
  EXPECT_EQ(host_.sent.size(), 1u) << "the handler must not run on bad JSON";
  kJsonActor.destroy(a);
}

TEST_F(HostTest, SendJsonRefusesTextThatIsNotJson) {
  void* a = Create(kJsonActor);
  EXPECT_EQ(Deliver(kJsonActor, a, "forward", R"(["ok"])"), TROUPE_OK);
  EXPECT_EQ(Deliver(kJsonActor, a, "forward", "[\"unterminated"), TROUPE_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(host_.sent.size(), 1u);
  EXPECT_EQ(host_.sent[0].type, "config");
  ASSERT_EQ(host_.errors.size(), 1u);
  EXPECT_EQ(host_.errors[0], "SendJson: payload for 'config' is not valid JSON");
  kJsonActor.destroy(a);
}

}  // namespace
}  // namespace troupe
