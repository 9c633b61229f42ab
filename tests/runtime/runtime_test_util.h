// runtime_test_util.h - small helpers shared by the runtime tests: a native
// "inbox" actor that records what it receives, a configurable C++ actor
// class, payload decoding and a fixture that owns a deterministic or threaded
// system (declared after everything its actors may touch).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/common/clock.h"
#include "daemon/common/mutex.h"
#include "daemon/runtime/actor_system.h"
#include "tests/runtime/fake_cluster.h"
#include "tests/common/status_matchers.h"
#include "troupe/abi.h"
#include "troupe/wire.h"

namespace troupe::runtime::testing {

inline Message Msg(std::string_view type, std::string_view payload = "") {
  return Message::Make(type, payload);
}

// Splits a payload made of wire fields; fails the test on a malformed one.
inline std::vector<std::string> Fields(std::string_view payload) {
  std::vector<std::string> out;
  while (!payload.empty()) {
    std::string_view field;
    if (!wire::ReadField(&payload, &field)) {
      ADD_FAILURE() << "malformed field payload";
      return out;
    }
    out.emplace_back(field);
  }
  return out;
}

inline std::string U32Pair(uint32_t a, uint32_t b) {
  std::string out;
  wire::AppendU32(&out, a);
  wire::AppendU32(&out, b);
  return out;
}

// Sends from inside an actor turn, as the host table's send does.
inline void Send(Cell* self, Cell* target, std::string_view type, std::string_view payload = "") {
  self->NoteSent();
  self->system()->Deliver(target, Message::Make(type, payload, self));
}

// An actor that answers each user message's sender with "re:<type>" and the
// same payload.
inline NativeHandler Echo() {
  return [](Cell* self, Message& m) {
    if (m.sender() != nullptr && m.kind() == MessageKind::kUser)
      Send(self, m.sender(), "re:" + std::string(m.type()), m.payload());
  };
}

struct Received {
  std::string type;
  std::string payload;
  ActorRef sender;
  const char* payload_address = nullptr;  // where the handler saw the bytes
};

// Records every message a native actor receives. Thread-safe.
class Inbox {
 public:
  NativeHandler Handler() {
    return [this](Cell*, Message& m) { Add(m); };
  }
  void Add(const Message& m) {
    troupe::MutexLock lock(&mu_);
    items_.push_back(Received{std::string(m.type()), std::string(m.payload()),
                              ActorRef::Share(m.sender()), m.payload().data()});
    cv_.SignalAll();
  }
  std::vector<Received> items() const {
    troupe::MutexLock lock(&mu_);
    return items_;
  }
  std::vector<Received> OfType(std::string_view type) const {
    troupe::MutexLock lock(&mu_);
    std::vector<Received> out;
    for (const Received& r : items_)
      if (r.type == type) out.push_back(r);
    return out;
  }
  size_t size() const {
    troupe::MutexLock lock(&mu_);
    return items_.size();
  }
  // Waits until at least `n` messages arrived; false on timeout.
  bool WaitForSize(size_t n, absl::Duration timeout = absl::Seconds(10)) const {
    absl::Time deadline = absl::Now() + timeout;
    troupe::MutexLock lock(&mu_);
    while (items_.size() < n) {
      if (cv_.WaitWithDeadline(&mu_, deadline)) return items_.size() >= n;
    }
    return true;
  }

 private:
  mutable troupe::Mutex mu_;
  mutable troupe::CondVar cv_;
  std::vector<Received> items_ ABSL_GUARDED_BY(mu_);
};

// The instance of a TestClass actor: state that survives a retry on the same
// instance and is lost on a restart.
struct TestInstance {
  int serial = 0;   // 1 for the first instance the class made, 2 for the next...
  int handled = 0;  // messages this instance was handed (failed attempts included)
  bool failed_once = false;
  std::vector<std::string> seen;  // types, in handling order
};

// A C++ actor class configured with lambdas.
class TestClass final : public ActorClass {
 public:
  using ReceiveFn = std::function<absl::Status(TestInstance&, Cell*, Message&)>;
  using CreateFn = std::function<absl::Status(int serial)>;
  struct Spec {
    std::string name;
    ReceiveFn receive;  // null: accept everything
    CreateFn create;    // null: always succeeds
    troupe_failure_policy_t policy = TROUPE_FAILURE_RESUME;
    uint32_t pool_max = 0;
    uint32_t pool_idle = 0;
  };
  explicit TestClass(Spec spec) : spec_(std::move(spec)) {}

  std::string_view name() const override { return spec_.name; }
  absl::StatusOr<void*> Create(Cell*) const override {
    int serial = attempts_.fetch_add(1) + 1;
    if (spec_.create) {
      absl::Status s = spec_.create(serial);
      if (!s.ok()) return s;
    }
    created_.fetch_add(1);
    auto* instance = new TestInstance;
    instance->serial = serial;
    return instance;
  }
  absl::Status Receive(void* instance, Cell* cell, Message& message) const override {
    auto* inst = static_cast<TestInstance*>(instance);
    ++inst->handled;
    inst->seen.emplace_back(message.type());
    return spec_.receive ? spec_.receive(*inst, cell, message) : absl::OkStatus();
  }
  void Destroy(void* instance) const override {
    destroyed_.fetch_add(1);
    delete static_cast<TestInstance*>(instance);
  }
  troupe_failure_policy_t failure_policy() const override { return spec_.policy; }
  uint32_t pool_max_count() const override { return spec_.pool_max; }
  uint32_t pool_idle_count() const override { return spec_.pool_idle; }

  int created() const { return created_.load(); }
  int destroyed() const { return destroyed_.load(); }

 private:
  Spec spec_;
  mutable std::atomic<int> attempts_{0};
  mutable std::atomic<int> created_{0};
  mutable std::atomic<int> destroyed_{0};
};

// Owns the system under test. Inboxes and the clock are declared first so
// they outlive the system (its shutdown may still run native handlers).
class RuntimeTest : public ::testing::Test {
 protected:
  // Shuts down while the derived fixture's members, which handlers may use,
  // are still alive.
  void TearDown() override { system_.reset(); }
  ActorSystem& MakeDeterministic() {
    system_ = std::make_unique<ActorSystem>(SystemOptions{.deterministic = true, .clock = &clock_});
    return *system_;
  }
  ActorSystem& MakeThreaded(int workers, int quota = 64) {
    system_ = std::make_unique<ActorSystem>(
        SystemOptions{.worker_threads = workers, .throughput_quota = quota, .clock = &clock_});
    return *system_;
  }
  ActorSystem& sys() { return *system_; }

  Inbox* NewInbox() {
    inboxes_.push_back(std::make_unique<Inbox>());
    return inboxes_.back().get();
  }
  // A native actor recording into a fresh inbox.
  std::pair<ActorRef, Inbox*> SpawnInbox(std::string_view name = "inbox") {
    Inbox* inbox = NewInbox();
    return {system_->SpawnNative(inbox->Handler(), name), inbox};
  }
  TestClass* Register(TestClass::Spec spec) {
    auto owned = std::make_unique<TestClass>(std::move(spec));
    TestClass* raw = owned.get();
    absl::Status s = system_->RegisterClass(std::move(owned));
    EXPECT_TRUE(s.ok()) << s;
    return raw;
  }
  ActorRef Create(std::string_view class_name, CreateOptions options = {}) {
    absl::StatusOr<ActorRef> ref = system_->CreateActor(class_name, options);
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? *ref : ActorRef();
  }
  std::string StateOf(const ActorRef& ref) {
    absl::StatusOr<ActorStatus> s = system_->GetActorStatus(ref);
    return s.ok() ? s->state : std::string(s.status().message());
  }
  std::string Addr(const ActorRef& ref) { return system_->FormatAddress(ref.get()); }

  // Attaches cluster_ (set its hooks first).
  void AttachCluster() { system_->SetCluster(&cluster_); }

  std::deque<std::unique_ptr<Inbox>> inboxes_;
  ManualClock clock_;
  FakeCluster cluster_;
  std::unique_ptr<ActorSystem> system_;
};

// Shuts the system down when it goes out of scope. Declare it after the
// locals a handler captures, so the final exit requests do not touch them
// after they are gone.
class ShutdownOnExit {
 public:
  explicit ShutdownOnExit(ActorSystem& system) : system_(system) {}
  ~ShutdownOnExit() { system_.Shutdown(); }

 private:
  ActorSystem& system_;
};

// Reads the u64 delay and the rest of a wakeup payload.
inline std::pair<uint64_t, std::string> ParseWakeup(std::string_view payload) {
  uint64_t delay = 0;
  EXPECT_TRUE(wire::ReadU64(&payload, &delay));
  return {delay, std::string(payload)};
}

}  // namespace troupe::runtime::testing
