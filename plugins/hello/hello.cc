// hello.cc - the "hello" bundle's actor library: hello.Echo answers every
// message with the same type and payload. The smallest complete bundle; the
// top-level README walks through building, signing and loading it.
#include "troupe/actor.h"

namespace troupe::hello {
namespace {

class Echo : public Actor {
 public:
  void Receive(const Message& message) override {
    Reply(message, message.type(), message.payload());
  }
};

}  // namespace
}  // namespace troupe::hello

TROUPE_EXPORT_ACTORS("hello", troupe::ActorClass<troupe::hello::Echo>("hello.Echo"))
