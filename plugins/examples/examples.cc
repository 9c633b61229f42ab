// examples.cc - the example actor library "troupe_examples": small actors
// that show the SDK (actor.h) and that the runtime and loader tests drive.
// The message protocols are listed in README.md next to this file.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "troupe/actor.h"

namespace troupe::examples {
namespace {

// Parses a non-negative decimal integer; throws std::invalid_argument.
uint64_t ParseCount(std::string_view text, std::string_view what) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw std::invalid_argument(std::string(what) + " is not a non-negative integer: '" +
                                std::string(text) + "'");
  }
  return value;
}

// examples.Echo: replies to the sender with the same type and payload.
class Echo : public Actor {
 public:
  void Receive(const Message& message) override {
    Reply(message, message.type(), message.payload());
  }
};

// examples.Counter: "increment" [N] adds N (default 1) and logs the new
// total; "get" replies "count" with the total as decimal text.
class Counter : public Actor {
 public:
  Counter() {
    On("increment", &Counter::Increment);
    On("get", &Counter::Get);
  }

 private:
  void Increment(const Message& message) {
    count_ += message.payload().empty() ? 1 : ParseCount(message.payload(), "increment");
    Log(TROUPE_LOG_INFO, "count is now " + std::to_string(count_));
  }
  void Get(const Message& message) { Reply(message, "count", std::to_string(count_)); }

  uint64_t count_ = 0;
};

// examples.Ponger: "ping" <payload> -> "pong" <same payload> to the sender.
class Ponger : public Actor {
 public:
  Ponger() { On("ping", &Ponger::Ping); }

 private:
  void Ping(const Message& message) { Reply(message, "pong", message.payload()); }
};

// examples.Pinger: "start" "<ponger address> <rounds>" plays `rounds` ping /
// pong round trips with that Ponger, then sends "done" "<rounds>" to whoever
// sent "start".
class Pinger : public Actor {
 public:
  Pinger() {
    On("start", &Pinger::Start);
    On("pong", &Pinger::Pong);
  }

 private:
  void Start(const Message& message) {
    if (playing_) throw std::logic_error("examples.Pinger: a game is already running");
    const std::string_view text = message.payload();
    const size_t space = text.rfind(' ');
    if (space == std::string_view::npos) {
      throw std::invalid_argument("examples.Pinger: start wants '<ponger address> <rounds>'");
    }
    Address ponger = ParseAddress(text.substr(0, space));
    const uint64_t rounds = ParseCount(text.substr(space + 1), "rounds");
    starter_ = message.sender();
    if (rounds == 0) {
      Finish(0);
      return;
    }
    ponger_ = std::move(ponger);
    rounds_ = rounds;
    done_ = 0;
    playing_ = true;
    Send(ponger_, "ping", "1");
  }

  void Pong(const Message& message) {
    if (!playing_) return;  // a stray pong
    ++done_;
    if (done_ >= rounds_) {
      playing_ = false;
      ponger_.Reset();
      Finish(done_);
      return;
    }
    (void)message;
    Send(ponger_, "ping", std::to_string(done_ + 1));
  }

  void Finish(uint64_t rounds) {
    if (starter_) Send(starter_, "done", std::to_string(rounds));
    starter_.Reset();
  }

  Address starter_;
  Address ponger_;
  uint64_t rounds_ = 0;
  uint64_t done_ = 0;
  bool playing_ = false;
};

// examples.Failing / examples.RestartingFailing: "fail" always throws;
// "fail_once" throws the first time this instance sees it; anything else
// replies "ok" with the number of messages this instance has received
// (failed attempts included). A restart therefore shows as a smaller count.
class Failing : public Actor {
 public:
  Failing() {
    On("fail", &Failing::Fail);
    On("fail_once", &Failing::FailOnce);
  }

  void Receive(const Message& message) override {
    ++received_;
    Actor::Receive(message);
  }
  void Unhandled(const Message& message) override {
    Reply(message, "ok", std::to_string(received_));
  }

 private:
  void Fail(const Message&) { throw std::runtime_error("examples.Failing: asked to fail"); }
  void FailOnce(const Message& message) {
    if (!failed_once_) {
      failed_once_ = true;
      throw std::runtime_error("examples.Failing: asked to fail once");
    }
    Reply(message, "ok", std::to_string(received_));
  }

  uint64_t received_ = 0;
  bool failed_once_ = false;
};

// examples.Timer: "start" "<milliseconds>" asks for a wakeup after that delay
// and, when it arrives, sends "tick" "<delay in nanoseconds>" to whoever sent
// "start". Several starts may be pending at once.
class Timer : public Actor {
 public:
  Timer() {
    On("start", &Timer::Start);
    On<WakeupMessage>(&Timer::Wakeup);
  }

 private:
  void Start(const Message& message) {
    const uint64_t ms = ParseCount(message.payload(), "milliseconds");
    // The starter travels in the wakeup payload as printed address text.
    WakeupAfter(std::chrono::milliseconds(ms), message.sender().ToString());
  }
  void Wakeup(const WakeupMessage& wakeup) {
    if (wakeup.payload.empty()) return;  // started by an external tell
    Send(ParseAddress(wakeup.payload), "tick", std::to_string(wakeup.delay.count()));
  }
};

// examples.Parent: "spawn" "<class name>" creates a child of that class and
// replies "spawned" "<child address>"; when a child exits it sends
// "child_exited" "<child address> <reason>" (reason empty on a normal exit)
// to the sender of the latest "spawn".
class Parent : public Actor {
 public:
  Parent() {
    On("spawn", &Parent::Spawn);
    On<ChildActorExited>(&Parent::ChildExited);
  }

 private:
  void Spawn(const Message& message) {
    Address child = CreateActor(message.payload());
    watcher_ = message.sender();
    Reply(message, "spawned", child.ToString());
  }
  void ChildExited(const ChildActorExited& exited) {
    if (watcher_) Send(watcher_, "child_exited", exited.child_text + " " + exited.reason);
  }

  Address watcher_;
};

// examples.BrokenConstructor: every create fails.
class BrokenConstructor : public Actor {
 public:
  BrokenConstructor() {
    throw std::runtime_error("examples.BrokenConstructor always fails in its constructor");
  }
};

}  // namespace
}  // namespace troupe::examples

TROUPE_EXPORT_ACTORS(
    "troupe_examples", troupe::ActorClass<troupe::examples::Echo>("examples.Echo"),
    troupe::ActorClass<troupe::examples::Counter>("examples.Counter"),
    troupe::ActorClass<troupe::examples::Pinger>("examples.Pinger"),
    troupe::ActorClass<troupe::examples::Ponger>("examples.Ponger"),
    troupe::ActorClass<troupe::examples::Failing>("examples.Failing"),
    troupe::ActorClass<troupe::examples::Failing>("examples.RestartingFailing",
                                                  {.failure_policy = TROUPE_FAILURE_RESTART}),
    troupe::ActorClass<troupe::examples::Echo>("examples.PooledEcho",
                                               {.pool_max_count = 4, .pool_idle_count = 1}),
    troupe::ActorClass<troupe::examples::Timer>("examples.Timer"),
    troupe::ActorClass<troupe::examples::Parent>("examples.Parent"),
    troupe::ActorClass<troupe::examples::BrokenConstructor>("examples.BrokenConstructor"))
