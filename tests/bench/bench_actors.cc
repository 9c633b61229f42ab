// bench_actors.cc - the actor classes the Troupe benchmark driver runs,
// written with the public SDK and loaded through the C ABI like any bundle.
//
//  bench.Ponger   "ping" -> replies "ping" with the same payload.
//  bench.Pinger   "start" payload "<ponger address> <rounds>": plays <rounds>
//                 round trips of a 64-byte payload, then sends "done" to the
//                 starter.
//  bench.Sender   "start" payload "<counter address> <n>": sends n "m"
//                 messages (4-byte payload) in a loop.
//  bench.Sender64 the same with 64-byte payloads (cross-daemon tells).
//  bench.Counter  "expect" payload "<n>": counts "m" messages; after n of
//                 them sends "done" to whoever sent "expect".
//  bench.Idle     waits; answers "ping" with "pong" (used as a barrier).
//  bench.Spawner  "go" payload "<n> <requirements JSON object>": creates a
//                 bench.Counter child with those requirements (placed on
//                 another daemon when they do not hold here), sends it n
//                 "m" messages at once and replies "went" with the child's
//                 address (or "error" with the reason).
#include <cstdint>
#include <string>

#include "troupe/actor.h"

namespace {

// "<address> <count>" -> both parts.
void SplitAddressAndCount(std::string_view text, std::string_view* address, uint64_t* count) {
  size_t space = text.rfind(' ');
  if (space == std::string_view::npos) throw std::invalid_argument("want '<address> <count>'");
  *address = text.substr(0, space);
  *count = std::stoull(std::string(text.substr(space + 1)));
}

class Ponger : public troupe::Actor {
 public:
  Ponger() { On("ping", &Ponger::Ping); }

 private:
  void Ping(const troupe::Message& m) { Reply(m, "ping", m.payload()); }
};

class Pinger : public troupe::Actor {
 public:
  Pinger() {
    On("start", &Pinger::Start);
    On("ping", &Pinger::Pong);
  }

 private:
  void Start(const troupe::Message& m) {
    std::string_view address;
    SplitAddressAndCount(m.payload(), &address, &rounds_);
    ponger_ = ParseAddress(address);
    starter_ = m.sender();
    Send(ponger_, "ping", std::string(64, 'x'));
  }
  void Pong(const troupe::Message& m) {
    if (++done_ < rounds_) {
      Send(ponger_, "ping", m.payload());
    } else {
      Send(starter_, "done", std::to_string(done_));
    }
  }

  troupe::Address ponger_;
  troupe::Address starter_;
  uint64_t rounds_ = 0;
  uint64_t done_ = 0;
};

template <size_t kPayloadBytes>
class Sender : public troupe::Actor {
 public:
  Sender() { On("start", &Sender::Start); }

 private:
  void Start(const troupe::Message& m) {
    std::string_view address;
    uint64_t n = 0;
    SplitAddressAndCount(m.payload(), &address, &n);
    troupe::Address counter = ParseAddress(address);
    const std::string payload(kPayloadBytes, '\x01');
    for (uint64_t i = 0; i < n; ++i) Send(counter, "m", payload);
  }
};

class Counter : public troupe::Actor {
 public:
  Counter() {
    On("expect", &Counter::Expect);
    On("m", &Counter::Count);
  }

 private:
  void Expect(const troupe::Message& m) {
    expected_ = std::stoull(std::string(m.payload()));
    reply_to_ = m.sender();
    MaybeDone();
  }
  void Count(const troupe::Message&) {
    ++count_;
    MaybeDone();
  }
  void MaybeDone() {
    if (expected_ != 0 && count_ == expected_) Send(reply_to_, "done", std::to_string(count_));
  }

  uint64_t expected_ = 0;
  uint64_t count_ = 0;
  troupe::Address reply_to_;
};

class Idle : public troupe::Actor {
 public:
  Idle() { On("ping", &Idle::Ping); }

 private:
  void Ping(const troupe::Message& m) { Reply(m, "pong", ""); }
};

class Spawner : public troupe::Actor {
 public:
  Spawner() {
    On("go", &Spawner::Go);
    On<troupe::ChildActorExited>(&Spawner::Exited);
  }

 private:
  void Go(const troupe::Message& m) {
    const std::string_view text = m.payload();
    const size_t space = text.find(' ');
    const uint64_t n = std::stoull(std::string(text.substr(0, space)));
    const std::string requirements(space == std::string_view::npos ? "" : text.substr(space + 1));
    try {
      troupe::Address child = CreateActor("bench.Counter", requirements);
      const std::string payload(64, '\x01');
      for (uint64_t i = 0; i < n; ++i) Send(child, "m", payload);
      Reply(m, "went", child.ToString());
    } catch (const troupe::Error& e) {
      Reply(m, "error", e.what());
    }
  }
  void Exited(const troupe::ChildActorExited&) {}
};

}  // namespace

TROUPE_EXPORT_ACTORS("bench", troupe::ActorClass<Ponger>("bench.Ponger"),
                     troupe::ActorClass<Pinger>("bench.Pinger"),
                     troupe::ActorClass<Sender<4>>("bench.Sender"),
                     troupe::ActorClass<Sender<64>>("bench.Sender64"),
                     troupe::ActorClass<Counter>("bench.Counter"),
                     troupe::ActorClass<Idle>("bench.Idle"),
                     troupe::ActorClass<Spawner>("bench.Spawner"));
