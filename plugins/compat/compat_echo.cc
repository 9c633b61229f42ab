// compat_echo.cc - one echo class, "compat.Echo", built twice: for the oldest
// ABI minor (TROUPE_ABI_TARGET_MINOR=0, set by CMake) and for the newest.
#include "troupe/actor.h"

namespace troupe::compat {
namespace {

// compat.Echo: replies to the sender with the same type and payload.
class Echo : public Actor {
 public:
  void Receive(const Message& message) override {
    Reply(message, message.type(), message.payload());
  }
};

}  // namespace
}  // namespace troupe::compat

TROUPE_EXPORT_ACTORS(TROUPE_COMPAT_LIBRARY_NAME,
                     troupe::ActorClass<troupe::compat::Echo>("compat.Echo"))
