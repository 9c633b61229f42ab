// export.h - how an actor library exports its classes: ClassOptions,
// troupe::ActorClass<T>() (one entry of the class table), the C trampolines
// that call into Actor without ever letting an exception cross the ABI, and
// TROUPE_EXPORT_ACTORS, which defines the library's one exported symbol,
// troupe_plugin_v1. Header-only; part of the C++ actor SDK (troupe/actor.h
// includes it).
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <type_traits>

#include "troupe/abi.h"
#include "troupe/actor_base.h"
#include "troupe/error.h"
#include "troupe/message.h"

// The SDK version recorded in a library's table (abi minor >= 1).
#define TROUPE_SDK_VERSION "0.1.0"

namespace troupe {

// Per-class settings exported in the class table.
struct ClassOptions {
  troupe_failure_policy_t failure_policy = TROUPE_FAILURE_RESUME;
  // Pool ("troupe"): max_count > 1 fronts up to max_count instances with one
  // address, idle_count of them kept warm. 0 = a plain actor.
  uint32_t pool_max_count = 0;
  uint32_t pool_idle_count = 0;
  // Optional placement check (see abi.h); must not throw. When null and the
  // class has `static bool CapabilityCheck(std::string_view capabilities_json,
  // std::string_view requirements_json)`, that is used (an exception = no).
  int (*capability_check)(troupe_bytes_t capabilities_json,
                          troupe_bytes_t requirements_json) = nullptr;
#if TROUPE_ABI_TARGET_MINOR >= 2
  // Exit (after the CapabilitiesChanged message) when a capability change
  // makes an actor of the class unfit. Also set by a class member
  // `static constexpr bool kExitWhenUnfit = true;`. Needs ABI minor 2.
  bool exit_when_unfit = false;
#endif
};

namespace detail {

// The C entry points for actor class T. None of them lets an exception out.
struct Trampolines {
  // Reports the exception being handled to the host and returns its code.
  static troupe_result_t ReportCurrentException(troupe_actor_ctx_t* ctx,
                                                const troupe_host_v1_t* host) noexcept {
    troupe_result_t code = TROUPE_ERROR_UNKNOWN;
    const char* text = "unknown exception";
    try {
      throw;
    } catch (const Error& e) {
      code = e.code() == TROUPE_OK ? TROUPE_ERROR_UNKNOWN : e.code();
      text = e.what();
    } catch (const std::bad_alloc& e) {
      code = TROUPE_ERROR_RESOURCE_EXHAUSTED;
      text = e.what();
    } catch (const std::invalid_argument& e) {
      code = TROUPE_ERROR_INVALID_ARGUMENT;
      text = e.what();
    } catch (const std::exception& e) {
      text = e.what();
    } catch (...) {
    }
    if (host != nullptr && host->report_error != nullptr) {
      host->report_error(ctx, Bytes(text == nullptr ? "" : text));
    }
    return code;
  }

  template <typename T>
  static troupe_result_t Create(troupe_actor_ctx_t* ctx, const troupe_host_v1_t* host,
                                void** out_instance) noexcept {
    std::unique_lock<std::mutex> lock(construction_mutex);
    construction_binding = Binding{ctx, host};
    construction_thread.store(std::this_thread::get_id(), std::memory_order_release);
    try {
      T* actor = new T();
      construction_thread.store(std::thread::id(), std::memory_order_release);
      lock.unlock();
      Actor* base = actor;
      base->ctx_ = ctx;
      base->host_ = host;
      *out_instance = base;
      return TROUPE_OK;
    } catch (...) {
      construction_thread.store(std::thread::id(), std::memory_order_release);
      lock.unlock();
      return ReportCurrentException(ctx, host);
    }
  }

  static void Destroy(void* instance) noexcept {
    try {
      delete static_cast<Actor*>(instance);
    } catch (...) {
      // A destructor must not throw; nothing can be reported from here.
    }
  }

  static troupe_result_t Receive(void* instance, troupe_actor_ctx_t* ctx,
                                 const troupe_message_t* message) noexcept {
    Actor* actor = static_cast<Actor*>(instance);
    actor->ctx_ = ctx;
    try {
      actor->Receive(Message(*message, actor->host_));
      return TROUPE_OK;
    } catch (...) {
      return ReportCurrentException(ctx, actor->host_);
    }
  }

  template <typename T>
  static int CapabilityCheck(troupe_bytes_t capabilities_json,
                             troupe_bytes_t requirements_json) noexcept {
    try {
      return T::CapabilityCheck(View(capabilities_json), View(requirements_json)) ? 1 : 0;
    } catch (...) {
      return 0;
    }
  }
};

template <typename T>
concept HasCapabilityCheck = requires(std::string_view a, std::string_view b) {
  { T::CapabilityCheck(a, b) } -> std::convertible_to<bool>;
};

// `static constexpr bool kExitWhenUnfit` of an actor class, false without one.
template <typename T>
constexpr bool ExitWhenUnfitOf() {
  if constexpr (requires { { T::kExitWhenUnfit } -> std::convertible_to<bool>; }) {
    return static_cast<bool>(T::kExitWhenUnfit);
  } else {
    return false;
  }
}

// The library table built by TROUPE_EXPORT_ACTORS.
template <size_t N>
class PluginTable {
 public:
  PluginTable(const char* library_name, const troupe_actor_class_v1_t (&classes)[N]) noexcept {
    for (size_t i = 0; i < N; ++i) pointers_[i] = &classes[i];
    plugin_.struct_size = sizeof(troupe_plugin_v1_t);
    plugin_.abi_major = TROUPE_ABI_MAJOR;
    plugin_.abi_minor = TROUPE_ABI_TARGET_MINOR;
    plugin_.library_name = library_name;
    plugin_.class_count = N;
    plugin_.classes = pointers_;
#if TROUPE_ABI_TARGET_MINOR >= 1
    plugin_.sdk_version = TROUPE_SDK_VERSION;
#endif
  }
  const troupe_plugin_v1_t* get() const noexcept { return &plugin_; }

 private:
  const troupe_actor_class_v1_t* pointers_[N];
  troupe_plugin_v1_t plugin_{};
};

}  // namespace detail

// The class description for actor class T (default-constructible, derived
// from Actor). `name` must be a string literal (STATIC): letters, digits,
// '_', '.', ':', unique within the library.
template <typename T>
constexpr troupe_actor_class_v1_t ActorClass(const char* name, ClassOptions options = {}) {
  static_assert(std::is_base_of_v<Actor, T>, "actor classes derive from troupe::Actor");
  static_assert(std::is_default_constructible_v<T>, "actor classes are default-constructible");
  auto capability_check = options.capability_check;
  if constexpr (detail::HasCapabilityCheck<T>) {
    if (capability_check == nullptr) capability_check = &detail::Trampolines::CapabilityCheck<T>;
  }
  troupe_actor_class_v1_t c{};
  c.struct_size = sizeof(troupe_actor_class_v1_t);
  c.name = name;
  c.create = &detail::Trampolines::Create<T>;
  c.destroy = &detail::Trampolines::Destroy;
  c.receive = &detail::Trampolines::Receive;
  c.capability_check = capability_check;
  c.failure_policy = static_cast<uint32_t>(options.failure_policy);
  c.pool_max_count = options.pool_max_count;
  c.pool_idle_count = options.pool_idle_count;
#if TROUPE_ABI_TARGET_MINOR >= 2
  c.exit_when_unfit = (options.exit_when_unfit || detail::ExitWhenUnfitOf<T>()) ? 1u : 0u;
#else
  static_assert(!detail::ExitWhenUnfitOf<T>(),
                "kExitWhenUnfit needs TROUPE_ABI_TARGET_MINOR >= 2 (older hosts ignore it)");
#endif
  return c;
}

}  // namespace troupe

// Defines the library's one exported symbol, troupe_plugin_v1, returning a
// STATIC table with `library_name` (a string literal) and the given classes,
// each a troupe::ActorClass<T>(...) expression. Use once per library:
//
//   TROUPE_EXPORT_ACTORS("examples",
//       troupe::ActorClass<Echo>("examples.Echo"),
//       troupe::ActorClass<Flaky>("examples.Flaky",
//                                 {.failure_policy = TROUPE_FAILURE_RESTART}));
//
// Define TROUPE_ABI_TARGET_MINOR before including actor.h or any SDK header (the CMake option
// ABI_TARGET_MINOR does) to build a library an older host can load.
#define TROUPE_EXPORT_ACTORS(library_name, ...)                                                 \
  extern "C" __attribute__((visibility("default"))) const troupe_plugin_v1_t* troupe_plugin_v1( \
      void);                                                                                    \
  extern "C" __attribute__((visibility("default"))) const troupe_plugin_v1_t* troupe_plugin_v1( \
      void) {                                                                                   \
    static const troupe_actor_class_v1_t kTroupeClasses[] = {__VA_ARGS__};                      \
    static const ::troupe::detail::PluginTable<std::size(kTroupeClasses)> kTroupeTable(         \
        library_name, kTroupeClasses);                                                          \
    return kTroupeTable.get();                                                                  \
  }
