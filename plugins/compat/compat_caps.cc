// compat_caps.cc - classes using what ABI minor 2 added (capability-change
// notices, exit_when_unfit, convention subscriptions), for the runtime's
// plugin tests (tests/runtime/capabilities_plugin_test.cc). Each actor
// reports to the sender of its last "report_to" message.
//
//  caps.Leaver  exit_when_unfit (kExitWhenUnfit); on CapabilitiesChanged
//               sends "unfit" <reason>; "drop <name>" removes capability
//               <name> itself; "set <name> <json>" sets one (a refusal is
//               reported as "refused" <error>).
//  caps.Stayer  the same without exit_when_unfit (ClassOptions left default).
//  caps.Watcher "watch" / "unwatch" call NotifyOnConventionChanges; every
//               ConventionUpdate is sent on as "update" "<event> <node>".
#include <string>

#include "troupe/actor.h"

namespace troupe::compat {
namespace {

class Reporter : public Actor {
 public:
  Reporter() {
    On("report_to", [this](const Message& m) {
      report_to_ = m.sender();
      Reply(m, "ready", "");
    });
    On<CapabilitiesChanged>(&Reporter::OnUnfit);
    On("drop", [this](const Message& m) { UpdateCapability(m.payload(), ""); });
    On("set", [this](const Message& m) {
      const std::string_view text = m.payload();
      const size_t space = text.find(' ');
      try {
        UpdateCapability(text.substr(0, space), text.substr(space + 1));
      } catch (const Error& e) {
        Send(report_to_, "refused", e.what());
      }
    });
  }

 protected:
  Address report_to_;

 private:
  void OnUnfit(const CapabilitiesChanged& changed) { Send(report_to_, "unfit", changed.reason); }
};

class Leaver : public Reporter {
 public:
  static constexpr bool kExitWhenUnfit = true;
};

class Stayer : public Reporter {};

class Watcher : public Reporter {
 public:
  Watcher() {
    On("watch", [this](const Message&) { NotifyOnConventionChanges(true); });
    On("unwatch", [this](const Message&) { NotifyOnConventionChanges(false); });
    On<ConventionUpdate>(&Watcher::OnUpdate);
  }

 private:
  void OnUpdate(const ConventionUpdate& update) {
    Send(report_to_, "update", update.event + " " + update.node);
  }
};

}  // namespace
}  // namespace troupe::compat

TROUPE_EXPORT_ACTORS("troupe_compat_caps",
                     troupe::ActorClass<troupe::compat::Leaver>("caps.Leaver"),
                     troupe::ActorClass<troupe::compat::Stayer>("caps.Stayer"),
                     troupe::ActorClass<troupe::compat::Watcher>("caps.Watcher"))
