// refresh.cc - the actor of the "refresh" test bundles: refresh.Echo answers
// every "n" message with "n" "<its version>:<payload>" to the sender, so a
// test can tell which version handled each numbered message. Built once per
// version with REFRESH_VERSION set.
#include <string>

#include "troupe/actor.h"

namespace {

class Echo : public troupe::Actor {
 public:
  Echo() { On("n", &Echo::Number); }

 private:
  void Number(const troupe::Message& message) {
    Reply(message, "n", std::string(REFRESH_VERSION) + ":" + std::string(message.payload()));
  }
};

}  // namespace

TROUPE_EXPORT_ACTORS("refresh", troupe::ActorClass<Echo>("refresh.Echo"))
