// convention_watch.cc - the actors of the "convention_watch" test bundle
// (tests/convention_e2e):
//  - convention_watch.Watcher: "watch" subscribes it to convention updates
//    (NotifyOnConventionChanges, ABI minor 2) and answers "watching";
//    "updates" answers with every ConventionUpdate seen so far, one line
//    each: "<event> <node>".
//  - convention_watch.Where: "where" answers "here" (a placement target with
//    no requirements of its own: the creator passes them).
#include <string>

#include "troupe/actor.h"

namespace {

class Watcher : public troupe::Actor {
 public:
  Watcher() {
    On("watch", &Watcher::Watch);
    On("updates", &Watcher::Updates);
    On<troupe::ConventionUpdate>(&Watcher::Update);
  }

 private:
  void Watch(const troupe::Message& message) {
    NotifyOnConventionChanges(true);
    Reply(message, "watching", "");
  }
  void Updates(const troupe::Message& message) { Reply(message, "updates", seen_); }
  void Update(const troupe::ConventionUpdate& update) {
    seen_ += update.event + " " + update.node + "\n";
  }

  std::string seen_;
};

class Where : public troupe::Actor {
 public:
  Where() { On("where", &Where::Answer); }

 private:
  void Answer(const troupe::Message& message) { Reply(message, "where", "here"); }
};

}  // namespace

TROUPE_EXPORT_ACTORS("convention_watch", troupe::ActorClass<Watcher>("convention_watch.Watcher"),
                     troupe::ActorClass<Where>("convention_watch.Where"))
