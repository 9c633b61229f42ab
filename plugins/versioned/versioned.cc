// versioned.cc - the "versioned" bundle's library, built twice (CMake sets
// VERSIONED_VERSION to "1.0" or "2.0"): versioned.Version answers "version"
// with "version" <its build's version>, so tests can tell which version of a
// group handled a message.
#include "troupe/actor.h"

#ifndef VERSIONED_VERSION
#error "VERSIONED_VERSION must be set by CMake"
#endif

namespace troupe::versioned {
namespace {

class Version : public Actor {
 public:
  Version() { On("version", &Version::Answer); }

 private:
  void Answer(const Message& message) { Reply(message, "version", VERSIONED_VERSION); }
};

}  // namespace
}  // namespace troupe::versioned

TROUPE_EXPORT_ACTORS("versioned",
                     troupe::ActorClass<troupe::versioned::Version>("versioned.Version"))
