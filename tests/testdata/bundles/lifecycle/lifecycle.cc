// lifecycle.cc - the library of the "lifecycle" and "drained" test bundles
// (tests/hosting): actors that report every lifecycle action the host sends
// them, and that fail or exit when asked.
//
// lifecycle.Worker and lifecycle.Helper handle:
//   life.load <version>        (on_load) remember the version; report "load"
//   life.deactivate <version>  (on_deactivate) report "deactivate"
//   life.reactivate <version>  (on_reactivate) report "reactivate"
//   life.fail <text>           fail with "refusing to start: <text>"
//   version                    reply "version" <the version life.load gave>
//   exit                       reply "exiting", then exit on their own
//   troupe.ActorExitRequest    report "exit"
// A report is "life.event" "<class> <event> <version>" sent to the actor named
// "hosting_test.observer" (the test binds that name to a recorder of its own;
// create_actor with a taken global name returns the actor holding it).
// lifecycle.Echo replies with the same type and payload (system messages aside).
#include <stdexcept>
#include <string>
#include <string_view>

#include "troupe/actor.h"

namespace troupe::lifecycle {
namespace {

constexpr std::string_view kObserver = "hosting_test.observer";

class Recorder : public Actor {
 public:
  explicit Recorder(std::string name) : name_(std::move(name)) {
    On("life.load", &Recorder::Load);
    On("life.deactivate", &Recorder::Deactivate);
    On("life.reactivate", &Recorder::Reactivate);
    On("life.fail", &Recorder::Fail);
    On("version", &Recorder::Version);
    On("exit", &Recorder::Exit);
    On(TROUPE_MSG_EXIT_REQUEST, &Recorder::ExitRequested);
  }

 private:
  void Load(const Message& message) {
    version_ = std::string(message.payload());
    Report("load");
  }
  void Deactivate(const Message&) { Report("deactivate"); }
  void Reactivate(const Message&) { Report("reactivate"); }
  void Fail(const Message& message) {
    throw std::runtime_error("refusing to start: " + std::string(message.payload()));
  }
  void Version(const Message& message) { Reply(message, "version", version_); }
  void Exit(const Message& message) {
    Reply(message, "exiting", version_);
    ExitSelf();
  }
  void ExitRequested(const Message&) { Report("exit"); }

  void Report(std::string_view event) {
    try {
      Address observer = CreateActor("lifecycle.Echo", "", kObserver);
      Send(observer, "life.event", name_ + " " + std::string(event) + " " + version_);
    } catch (const std::exception& e) {
      Log(TROUPE_LOG_WARNING, std::string("cannot report to the observer: ") + e.what());
    }
  }

  std::string name_;
  std::string version_;
};

class Worker : public Recorder {
 public:
  Worker() : Recorder("lifecycle.Worker") {}
};

class Helper : public Recorder {
 public:
  Helper() : Recorder("lifecycle.Helper") {}
};

class Echo : public Actor {
 public:
  void Receive(const Message& message) override {
    if (message.type().substr(0, 7) == "troupe.") return;  // system messages are not echoed
    Reply(message, message.type(), message.payload());
  }
};

}  // namespace
}  // namespace troupe::lifecycle

TROUPE_EXPORT_ACTORS("lifecycle", troupe::ActorClass<troupe::lifecycle::Worker>("lifecycle.Worker"),
                     troupe::ActorClass<troupe::lifecycle::Helper>("lifecycle.Helper"),
                     troupe::ActorClass<troupe::lifecycle::Echo>("lifecycle.Echo"))
