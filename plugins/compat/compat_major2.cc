// compat_major2.cc - a library whose table claims ABI major 2, written with
// the raw C ABI (no SDK). A host of major 1 must refuse it before touching
// anything but the table header.
#include "troupe/abi.h"

namespace {

troupe_result_t Create(troupe_actor_ctx_t*, const troupe_host_v1_t*, void** out_instance) {
  static int instance;
  *out_instance = &instance;
  return TROUPE_OK;
}
void Destroy(void*) {}
troupe_result_t Receive(void*, troupe_actor_ctx_t*, const troupe_message_t*) { return TROUPE_OK; }

const troupe_actor_class_v1_t kClass = {sizeof(troupe_actor_class_v1_t),
                                        "compat.Future",
                                        &Create,
                                        &Destroy,
                                        &Receive,
                                        nullptr,
                                        TROUPE_FAILURE_RESUME,
                                        0,
                                        0,
                                        0};
const troupe_actor_class_v1_t* const kClasses[] = {&kClass};
const troupe_plugin_v1_t kPlugin = {
    sizeof(troupe_plugin_v1_t), 2, 0, "troupe_compat_major2", 1, kClasses, "2.0.0"};

}  // namespace

extern "C" __attribute__((visibility("default"))) const troupe_plugin_v1_t* troupe_plugin_v1(void) {
  return &kPlugin;
}
