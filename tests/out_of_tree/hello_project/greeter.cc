// greeter.cc - an actor library built outside the Troupe tree against the
// installed SDK: greeter.Greeter answers "greet" <name> with "greeting"
// "hello, <name>".
#include <string>

#include "troupe/actor.h"

namespace greeter {
namespace {

class Greeter : public troupe::Actor {
 public:
  Greeter() { On("greet", &Greeter::Greet); }

 private:
  void Greet(const troupe::Message& message) {
    Reply(message, "greeting", "hello, " + std::string(message.payload()));
  }
};

}  // namespace
}  // namespace greeter

TROUPE_EXPORT_ACTORS("greeter", troupe::ActorClass<greeter::Greeter>("greeter.Greeter"))
