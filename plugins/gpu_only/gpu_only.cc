// gpu_only.cc - the "gpu_only" bundle's library: gpu_only.Worker answers
// "where" with "here". Its manifest requires the node capability gpu == true,
// so it shows where requirements keep an actor off a node.
#include "troupe/actor.h"

namespace troupe::gpu_only {
namespace {

class Worker : public Actor {
 public:
  Worker() { On("where", &Worker::Where); }

 private:
  void Where(const Message& message) { Reply(message, "where", "here"); }
};

}  // namespace
}  // namespace troupe::gpu_only

TROUPE_EXPORT_ACTORS("gpu_only", troupe::ActorClass<troupe::gpu_only::Worker>("gpu_only.Worker"))
