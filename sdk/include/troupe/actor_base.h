// actor_base.h - troupe::Actor, the base class of every actor class: typed
// dispatch (On("type", &T::Handler), OnJson, On<T>) and the host services
// (Send, Reply, CreateActor, WakeupAfter, Self, ...), plus the binding the
// create trampoline (export.h) publishes while a constructor runs.
// Header-only; part of the C++ actor SDK: include troupe/actor.h, whose
// comment gives the rules actor code follows.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/abi.h"
#include "troupe/address.h"
#include "troupe/error.h"
#include "troupe/json.h"
#include "troupe/message.h"

namespace troupe {

class Actor;

namespace detail {
// The binding the create trampoline publishes while a constructor runs, so the
// Actor base constructor can pick up ctx/host. It is a plain global behind a
// lock, not a thread_local: dynamic TLS in a dlopened library lives on in every
// worker thread after dlclose, which sanitizers (and unload checks) trip over.
// All three are trivially destructible, so nothing pins the library.
struct Binding {
  troupe_actor_ctx_t* ctx;
  const troupe_host_v1_t* host;
};
inline std::mutex construction_mutex;                      // held while a constructor runs
inline Binding construction_binding = {nullptr, nullptr};  // guarded by construction_mutex
// The thread running a trampoline constructor; an Actor constructed anywhere
// else is not bound.
inline std::atomic<std::thread::id> construction_thread{};

struct Trampolines;
}  // namespace detail

// Actor is the base of every actor class. Register handlers with On(...) in
// the constructor; the default Receive dispatches by type name and hands
// anything unregistered to Unhandled. Owned by the runtime (through the
// trampolines); called by one thread at a time.
class Actor {
 public:
  using Handler = std::function<void(const Message&)>;

  Actor() noexcept : ctx_(nullptr), host_(nullptr) {
    if (detail::construction_thread.load(std::memory_order_acquire) == std::this_thread::get_id()) {
      ctx_ = detail::construction_binding.ctx;
      host_ = detail::construction_binding.host;
    }
  }
  virtual ~Actor() = default;
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;

  // Handles one message. The default dispatches to the registered handler for
  // message.type() and calls Unhandled when there is none. Throw to fail.
  virtual void Receive(const Message& message) {
    if (!Dispatch(message)) Unhandled(message);
  }
  // Called for messages no handler is registered for. Default: ignore.
  virtual void Unhandled(const Message& message) { (void)message; }

  // Calls the handler registered for message.type(). Returns false when none is.
  bool Dispatch(const Message& message) {
    const std::string_view type = message.type();
    for (const Route& route : routes_) {
      if (route.type.size() == type.size() && route.type == type) {
        route.handler(message);
        return true;
      }
    }
    return false;
  }

  // --- host services. Each throws troupe::Error when the host refuses, and
  // std::logic_error when the actor is not bound to a host. ---

  // Sends {type, payload} to `to` (a tell). Sending to an exited actor is not
  // an error (it becomes a dead letter); a null target is INVALID_ARGUMENT.
  void Send(const Address& to, std::string_view type, std::string_view payload) const {
    Send(to.get(), type, payload);
  }
  void Send(troupe_address_t to, std::string_view type, std::string_view payload) const {
    RequireHost();
    detail::Check(host_->send(ctx_, to, detail::Bytes(type), detail::Bytes(payload)), "send");
  }
  // Sends to message's sender. Returns false (sending nothing) when the
  // message has no sender, e.g. an external tell.
  bool Reply(const Message& message, std::string_view type, std::string_view payload) const {
    if (!message.has_sender()) return false;
    Send(message.raw_sender(), type, payload);
    return true;
  }
  // Sends text with type kTextType.
  void SendText(const Address& to, std::string_view text) const { Send(to, kTextType, text); }
  // Sends JSON text under a type name the author chose. Throws
  // troupe::Error(INVALID_ARGUMENT) when `json` is not valid JSON.
  void SendJson(const Address& to, std::string_view type, std::string_view json) const {
    if (!json::IsValid(json)) {
      throw Error(TROUPE_ERROR_INVALID_ARGUMENT,
                  "SendJson: payload for '" + std::string(type) + "' is not valid JSON");
    }
    Send(to, type, json);
  }
  // Sends a protobuf message: type = its full name, payload = its bytes.
  template <typename P>
  requires ProtoMessageType<P>
  void SendProto(const Address& to, const P& message) const {
    Send(to, P::descriptor()->full_name(), message.SerializeAsString());
  }

  // Creates a child actor (see abi.h create_actor); returns its address.
  // Throws troupe::Error: NOT_FOUND for an unknown class, FAILED_PRECONDITION
  // when the requirements do not hold here.
  Address CreateActor(std::string_view class_name, std::string_view requirements_json = "",
                      std::string_view global_name = "") const {
    RequireHost();
    troupe_address_t out = nullptr;
    detail::Check(
        host_->create_actor(ctx_, detail::Bytes(class_name), detail::Bytes(requirements_json),
                            detail::Bytes(global_name), &out),
        "create_actor('" + std::string(class_name) + "')");
    return Address::Adopt(host_, out);
  }
  // Stops this actor after the current message (a recursive exit).
  void ExitSelf() const {
    RequireHost();
    host_->exit_self(ctx_);
  }
  // While handling an ExitRequest: leave the children running.
  void ExitNotRecursive() const {
    RequireHost();
    host_->exit_not_recursive(ctx_);
  }
  // Delivers a WakeupMessage carrying `payload` after `delay` (>= 0).
  void WakeupAfter(std::chrono::nanoseconds delay, std::string_view payload = "") const {
    RequireHost();
    const uint64_t ns = delay.count() < 0 ? 0 : static_cast<uint64_t>(delay.count());
    detail::Check(host_->wakeup_after(ctx_, ns, detail::Bytes(payload)), "wakeup_after");
  }
  // This actor's address and its parent's (null for a top-level actor).
  Address Self() const {
    RequireHost();
    return Address::Retain(host_, host_->self(ctx_));
  }
  Address Parent() const {
    RequireHost();
    return Address::Retain(host_, host_->parent(ctx_));
  }
  // The global name; empty when unnamed. Valid for the life of the actor.
  std::string_view GlobalName() const {
    RequireHost();
    return detail::View(host_->global_name(ctx_));
  }
  void Log(troupe_log_level_t level, std::string_view text) const {
    RequireHost();
    host_->log(ctx_, level, detail::Bytes(text));
  }
  // Sets (non-empty value_json) or removes (empty) a capability of this node.
  // Throws troupe::Error: INVALID_ARGUMENT for bad JSON, FAILED_PRECONDITION
  // for a read-only name (e.g. "troupe.cores"). A change that makes this very
  // actor unfit reaches it as a CapabilitiesChanged message after this handler.
  void UpdateCapability(std::string_view name, std::string_view value_json) const {
    RequireHost();
    detail::Check(host_->update_capability(ctx_, detail::Bytes(name), detail::Bytes(value_json)),
                  "update_capability('" + std::string(name) + "')");
  }
  // Becomes (or stops being) the node's dead-letter handler.
  void HandleDeadLetters(bool enable) const {
    RequireHost();
    host_->handle_dead_letters(ctx_, enable ? 1 : 0);
  }
#if TROUPE_ABI_TARGET_MINOR >= 2
  // Subscribes to (or unsubscribes from) ConventionUpdate messages: first one
  // "joined" per current member, then every join, leave and capability change.
  // Subscribing again changes nothing; exiting ends it. Needs ABI minor 2.
  void NotifyOnConventionChanges(bool enable) const {
    RequireHost();
    host_->notify_on_convention_changes(ctx_, enable ? 1 : 0);
  }
#endif
  // Parses a printed address. Throws troupe::Error(INVALID_ARGUMENT) when the
  // text is not an address.
  Address ParseAddress(std::string_view text) const {
    RequireHost();
    Address address = Address::Parse(host_, text);
    if (!address) {
      throw Error(TROUPE_ERROR_INVALID_ARGUMENT, "not an address: '" + std::string(text) + "'");
    }
    return address;
  }

  const troupe_host_v1_t* host() const noexcept { return host_; }
  troupe_actor_ctx_t* ctx() const noexcept { return ctx_; }

 protected:
  // Registers `handler` for messages of type `type` (replacing an earlier one).
  template <typename D>
  void On(std::string_view type, void (D::*handler)(const Message&)) {
    static_assert(std::is_base_of_v<Actor, D>, "handler must be a member of an Actor");
    D* self = static_cast<D*>(this);
    AddRoute(std::string(type), [self, handler](const Message& m) { (self->*handler)(m); });
  }
  void On(std::string_view type, Handler handler) {
    AddRoute(std::string(type), std::move(handler));
  }
  // Registers a handler for JSON messages of type `type`: it receives the
  // payload text, checked to be valid JSON; anything else fails the handler
  // with INVALID_ARGUMENT (so the sender gets a PoisonMessage saying why).
  template <typename D>
  void OnJson(std::string_view type, void (D::*handler)(std::string_view json, const Message&)) {
    static_assert(std::is_base_of_v<Actor, D>, "handler must be a member of an Actor");
    D* self = static_cast<D*>(this);
    AddRoute(std::string(type),
             [self, handler](const Message& m) { (self->*handler)(JsonPayload(m), m); });
  }

  // The payload of `message` if it is valid JSON; throws
  // troupe::Error(INVALID_ARGUMENT) naming the type otherwise.
  static std::string_view JsonPayload(const Message& message) {
    if (!json::IsValid(message.payload())) {
      throw Error(TROUPE_ERROR_INVALID_ARGUMENT,
                  "payload of '" + std::string(message.type()) + "' is not valid JSON");
    }
    return message.payload();
  }

  // Registers a typed handler for T (a declared type, e.g. a system message,
  // or a protobuf message). The message is decoded before the call; a
  // malformed one fails the handler with INVALID_ARGUMENT.
  template <typename T, typename D>
  requires DeclaredMessageType<T> || ProtoMessageType<T>
  void On(void (D::*handler)(const T&, const Message&)) {
    static_assert(std::is_base_of_v<Actor, D>, "handler must be a member of an Actor");
    D* self = static_cast<D*>(this);
    AddRoute(TypeNameOf<T>(),
             [self, handler](const Message& m) { (self->*handler)(DecodeAs<T>(m), m); });
  }
  template <typename T, typename D>
  requires DeclaredMessageType<T> || ProtoMessageType<T>
  void On(void (D::*handler)(const T&)) {
    static_assert(std::is_base_of_v<Actor, D>, "handler must be a member of an Actor");
    D* self = static_cast<D*>(this);
    AddRoute(TypeNameOf<T>(),
             [self, handler](const Message& m) { (self->*handler)(DecodeAs<T>(m)); });
  }
  template <typename T>
  requires DeclaredMessageType<T> || ProtoMessageType<T>
  void On(std::function<void(const T&, const Message&)> handler) {
    AddRoute(TypeNameOf<T>(),
             [handler = std::move(handler)](const Message& m) { handler(DecodeAs<T>(m), m); });
  }

 private:
  friend struct detail::Trampolines;

  struct Route {
    std::string type;
    Handler handler;
  };

  void AddRoute(std::string type, Handler handler) {
    for (Route& route : routes_) {
      if (route.type == type) {
        route.handler = std::move(handler);
        return;
      }
    }
    routes_.push_back(Route{std::move(type), std::move(handler)});
  }
  void RequireHost() const {
    if (host_ == nullptr) throw std::logic_error("actor is not bound to a host");
  }

  troupe_actor_ctx_t* ctx_;
  const troupe_host_v1_t* host_;
  // Linear scan: actors register a handful of types, and comparing sizes first
  // makes a miss almost free. No allocation per message.
  std::vector<Route> routes_;
};

}  // namespace troupe
