// convention_watch.cc - the actors of the "convention_watch" test bundle
// (tests/convention_e2e):
//  - convention_watch.Watcher: "watch" subscribes it to convention updates
//    (NotifyOnConventionChanges, ABI minor 2) and answers "watching";
//    "updates" answers with every ConventionUpdate seen so far, one line
//    each: "<event> <node>".
//  - convention_watch.Where: "where" answers "here" (a placement target with
//    no requirements of its own: the creator passes them); "whoami" answers
//    its own address as it sees it; "exit" makes it exit (how a test ends a
//    named actor).
//  - convention_watch.Spawner: "spawn" with requirements in the runtime's
//    object form ({"gpu":{"equals":true}}) as payload creates a Where child
//    with them (placed on another member when they do not hold here) and
//    answers "spawned" with the child's address (a child being placed has
//    an address of this daemon until it is placed), or "error" with the
//    reason;
//    "exits" answers with every ChildActorExited seen so far, one line each:
//    "<child address>|<reason>" (the reason is empty for a normal exit).
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
  Where() {
    On("where", &Where::Answer);
    On("whoami", &Where::WhoAmI);
    On("exit", &Where::Exit);
  }

 private:
  void Answer(const troupe::Message& message) { Reply(message, "where", "here"); }
  void WhoAmI(const troupe::Message& message) { Reply(message, "whoami", Self().ToString()); }
  void Exit(const troupe::Message&) { ExitSelf(); }
};

class Spawner : public troupe::Actor {
 public:
  Spawner() {
    On("spawn", &Spawner::Spawn);
    On("exits", &Spawner::Exits);
    On<troupe::ChildActorExited>(&Spawner::ChildExited);
  }

 private:
  void Spawn(const troupe::Message& message) {
    try {
      troupe::Address child = CreateActor("convention_watch.Where", message.payload());
      Reply(message, "spawned", child.ToString());
    } catch (const troupe::Error& e) {
      Reply(message, "error", e.what());
    }
  }
  void Exits(const troupe::Message& message) { Reply(message, "exits", exits_); }
  void ChildExited(const troupe::ChildActorExited& exited) {
    exits_ += exited.child_text + "|" + exited.reason + "\n";
  }

  std::string exits_;
};

}  // namespace

TROUPE_EXPORT_ACTORS("convention_watch", troupe::ActorClass<Watcher>("convention_watch.Watcher"),
                     troupe::ActorClass<Where>("convention_watch.Where"),
                     troupe::ActorClass<Spawner>("convention_watch.Spawner"))
