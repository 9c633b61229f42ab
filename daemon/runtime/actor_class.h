// actor_class.h - what the runtime knows of a kind of actor: how to make,
// feed and destroy an instance. PluginActorClass adapts a class description
// from a library's C ABI table; tests and the runtime itself (asks, pools)
// use C++ classes directly.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/runtime/envelope.h"
#include "troupe/abi.h"

namespace troupe::runtime {

class Cell;

// The source hash (64 hex digits, NUL-terminated) of the bundle whose code
// the calling thread runs now, or nullptr when it runs none. Async-signal-
// safe: the fatal-signal handler of daemon/hosting (crash_record.h) reads it
// to charge a fault to the bundle whose code faulted.
const char* CurrentBundleCode();

// Marks the calling thread as running the code of bundle `hash` (nullptr:
// none; the string must outlive the scope) until the scope ends, then puts
// back the mark it found. PluginActorClass marks every call into a library;
// daemon/hosting marks the opening of a bundle's libraries. The first mark
// of a bundle on a thread also gives the thread an alternate signal stack
// (64 KiB, freed at thread exit) unless it has one, so that a stack overflow
// in bundle code still reaches the handler.
class BundleCodeScope {
 public:
  explicit BundleCodeScope(const char* hash);
  ~BundleCodeScope();
  BundleCodeScope(const BundleCodeScope&) = delete;
  BundleCodeScope& operator=(const BundleCodeScope&) = delete;

 private:
  const char* previous_;
};

// Thread-safe: one ActorClass serves every actor of its kind.
class ActorClass {
 public:
  virtual ~ActorClass() = default;
  virtual std::string_view name() const = 0;
  // Makes an instance for `cell`. Runs on a worker, on the actor's turn.
  virtual absl::StatusOr<void*> Create(Cell* cell) const = 0;
  // Handles one message. `message` may be moved from (e.g. to forward it).
  virtual absl::Status Receive(void* instance, Cell* cell, Message& message) const = 0;
  virtual void Destroy(void* instance) const = 0;
  virtual troupe_failure_policy_t failure_policy() const { return TROUPE_FAILURE_RESUME; }
  virtual uint32_t pool_max_count() const { return 0; }
  virtual uint32_t pool_idle_count() const { return 0; }
  // May an actor of this class live on a node with `capabilities_json`?
  // `requirements_json` is the actor's requirements in the object form
  // (ActorRequirements::text in requirements.h: a plugin's create_actor text
  // as written, else RequirementsObjectJson; "{}" for none).
  // has_capability_check: true when CapabilityCheck can refuse (so callers
  // may skip building the capabilities text otherwise).
  virtual bool has_capability_check() const { return false; }
  virtual bool CapabilityCheck(std::string_view /*capabilities_json*/,
                               std::string_view /*requirements_json*/) const {
    return true;
  }
  // The library that defined the class, or nullptr; create_actor looks there first.
  virtual const void* library() const { return nullptr; }
  // True when an actor of the class exits after being told that a capability
  // change made it unfit (TROUPE_MSG_CAPABILITIES_CHANGED); else it is only told.
  virtual bool exit_when_unfit() const { return false; }
};

// An actor class described by a library through the C ABI. The description
// (STATIC in the library) must stay valid while actors of the class live;
// the name is copied, so the status of an exited actor stays readable after
// its library was unregistered and closed (ActorSystem::UnregisterLibrary).
// `bundle_hash`, when it is a 64 hex digit source hash, names the bundle the
// library comes from: every call into the library marks the thread with it
// (BundleCodeScope); any other value marks nothing.
class PluginActorClass final : public ActorClass {
 public:
  PluginActorClass(const troupe_plugin_v1_t* library, const troupe_actor_class_v1_t* desc,
                   std::string_view bundle_hash = {});
  PluginActorClass(const PluginActorClass&) = delete;  // code_ points into bundle_hash_
  PluginActorClass& operator=(const PluginActorClass&) = delete;
  std::string_view name() const override { return name_; }
  absl::StatusOr<void*> Create(Cell* cell) const override;
  absl::Status Receive(void* instance, Cell* cell, Message& message) const override;
  void Destroy(void* instance) const override;
  troupe_failure_policy_t failure_policy() const override {
    return desc_->failure_policy == TROUPE_FAILURE_RESTART ? TROUPE_FAILURE_RESTART
                                                           : TROUPE_FAILURE_RESUME;
  }
  uint32_t pool_max_count() const override { return desc_->pool_max_count; }
  uint32_t pool_idle_count() const override { return desc_->pool_idle_count; }
  bool has_capability_check() const override { return desc_->capability_check != nullptr; }
  bool CapabilityCheck(std::string_view capabilities_json,
                       std::string_view requirements_json) const override;
  const void* library() const override { return library_; }
  bool exit_when_unfit() const override { return exit_when_unfit_; }

 private:
  // The minor-2 field, read only from a library built for minor 2 or later
  // (in minor 1 those bytes were padding, so struct_size cannot tell).
  static bool ReadExitWhenUnfit(const troupe_plugin_v1_t* library,
                                const troupe_actor_class_v1_t* desc);

  const troupe_plugin_v1_t* library_;
  const troupe_actor_class_v1_t* desc_;
  std::string name_;
  bool exit_when_unfit_;
  std::array<char, 65> bundle_hash_{};  // NUL-terminated; read by a signal handler
  const char* code_ = nullptr;          // bundle_hash_.data(), or nullptr for none
};

// The host function table handed to plugin actors (host_table.cc).
const troupe_host_v1_t* HostTable();

}  // namespace troupe::runtime
