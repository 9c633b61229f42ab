// deps_actor.cc - the actor library of deps_bundle: deps.Answer replies
// "answer" with tdep_a_value() (42), from the bundled libtdep_a.so.1, which it
// needs by DT_NEEDED and has no RUNPATH to find: only the loader's preloading
// of deps/ makes it loadable.
#include <string>

#include "troupe/actor.h"

extern "C" int tdep_a_value(void);

namespace troupe::deps_bundle {
namespace {

class Answer : public Actor {
 public:
  Answer() { On("question", &Answer::Reply42); }

 private:
  void Reply42(const Message& message) { Reply(message, "answer", std::to_string(tdep_a_value())); }
};

}  // namespace
}  // namespace troupe::deps_bundle

TROUPE_EXPORT_ACTORS("deps_actor", troupe::ActorClass<troupe::deps_bundle::Answer>("deps.Answer"))
