// actor.h - the header-only C++ SDK for writing Troupe actors on top of the
// stable C ABI in abi.h.
//
// A library defines actor classes deriving from troupe::Actor, registers
// typed handlers in their constructors and exports them once:
//
//   class Counter : public troupe::Actor {
//    public:
//     Counter() {
//       On("increment", &Counter::Increment);
//       On("get", &Counter::Get);
//     }
//    private:
//     void Increment(const troupe::Message& m) { ... }
//     void Get(const troupe::Message& m) { Reply(m, "count", std::to_string(count_)); }
//     int64_t count_ = 0;
//   };
//   TROUPE_EXPORT_ACTORS("examples", troupe::ActorClass<Counter>("examples.Counter"));
//
// Rules for actor code (the runtime relies on them):
//  - Exceptions are how handlers fail. A handler that throws is retried once
//    (on the same instance, or a fresh one with TROUPE_FAILURE_RESTART); a
//    second failure returns a PoisonMessage with the exception text to the
//    sender. No exception ever crosses the ABI: the trampolines below catch
//    everything and turn it into host->report_error + a non-OK result.
//  - A constructor may read Self(), Parent(), GlobalName() and Log(), but must
//    not send, create actors or ask for wakeups (abi.h). Throwing from the
//    constructor fails the create.
//  - No `thread_local` objects with destructors, no atexit handlers, no
//    pthread keys with destructors and no detached threads in actor code:
//    each one keeps the library from unloading or crashes after the unload
//    (see PLUGIN-LOADING.md section 3.4). Worker threads live forever.
//  - Everything a handler gets (Message, its type/payload views, the raw
//    sender) is borrowed for the duration of the call; copy what you keep.
//    Address objects are reference-counted copies and may be kept.
//  - An actor instance is only ever called by one thread at a time; its
//    methods must only be called from within its own callbacks.
//
// Message conventions (all messages are {type name, payload bytes}):
//  - text:     any type name, payload UTF-8 text. SendText() uses kTextType.
//  - JSON:     a type name chosen by the author, payload JSON text.
//              SendJson() refuses text that is not valid JSON; OnJson()
//              handlers get only valid JSON (json.h has the checker). Parse
//              it with any JSON library you like.
//  - protobuf: type = the message's full name, payload = its serialized bytes.
//              SendProto / ParseProto / On<P> are templates that compile only
//              where used, so this header needs no protobuf headers.
//  - system messages (abi.h): decoded by the structs ExitRequest,
//              ChildActorExited, PoisonMessage, WakeupMessage, DeadEnvelope,
//              UpdateTroupeSettings, CapabilitiesChanged, ConventionUpdate;
//              their field encoding lives in wire.h. The default Unhandled
//              ignores system types a handler was not registered for.
//
// Capabilities and conventions (ABI minor 2):
//  - A class that should exit when a capability change makes it unfit (its
//    requirements or CapabilityCheck no longer hold) says so with
//    `static constexpr bool kExitWhenUnfit = true;` or
//    ClassOptions{.exit_when_unfit = true}. Either way it first receives a
//    CapabilitiesChanged message (handle it with On<CapabilitiesChanged>),
//    then an ExitRequest. Without it, the actor is only told.
//  - NotifyOnConventionChanges(true) subscribes the actor to ConventionUpdate
//    messages: one "joined" per current member first, then every change.
//
// Build libraries with troupe_add_actor_library() (cmake/TroupeActorLibrary.cmake),
// which sets hidden visibility and exports only troupe_plugin_v1.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/abi.h"
#include "troupe/json.h"
#include "troupe/wire.h"

// The SDK version recorded in a library's table (abi minor >= 1).
#define TROUPE_SDK_VERSION "0.1.0"

namespace troupe {

// The type name SendText() uses for plain text messages.
inline constexpr std::string_view kTextType = "troupe.Text";

// Returns the canonical name of a result code, e.g. "NOT_FOUND".
inline const char* ResultName(troupe_result_t result) noexcept {
  switch (result) {
    case TROUPE_OK:
      return "OK";
    case TROUPE_ERROR_UNKNOWN:
      return "UNKNOWN";
    case TROUPE_ERROR_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case TROUPE_ERROR_NOT_FOUND:
      return "NOT_FOUND";
    case TROUPE_ERROR_ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case TROUPE_ERROR_RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case TROUPE_ERROR_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case TROUPE_ERROR_UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case TROUPE_ERROR_INTERNAL:
      return "INTERNAL";
    case TROUPE_ERROR_UNAVAILABLE:
      return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

// The exception SDK calls throw when the host refuses a request. Actor code
// may throw it too, to fail a handler (or a constructor) with a chosen code;
// the trampolines return code() to the host.
class Error : public std::runtime_error {
 public:
  Error(troupe_result_t code, const std::string& what) : std::runtime_error(what), code_(code) {}
  troupe_result_t code() const noexcept { return code_; }

 private:
  troupe_result_t code_;
};

namespace detail {
inline troupe_bytes_t Bytes(std::string_view s) noexcept { return {s.data(), s.size()}; }
inline std::string_view View(troupe_bytes_t b) noexcept {
  return b.size == 0 ? std::string_view() : std::string_view(b.data, b.size);
}
inline void Check(troupe_result_t result, std::string_view what) {
  if (result != TROUPE_OK) {
    throw Error(result, std::string(what) + " failed: " + ResultName(result));
  }
}
}  // namespace detail

// Address is an owning handle to an opaque actor address: copying retains,
// destruction releases (through the host table that made it). A
// default-constructed Address is null ("no address"). Comparison, hashing and
// printing go to the host. Not synchronized: one Address object must not be
// mutated by two threads at once, but copies may live on any thread.
class Address {
 public:
  Address() noexcept = default;

  // Takes over a RETAINED reference (e.g. from create_actor or address_parse).
  static Address Adopt(const troupe_host_v1_t* host, troupe_address_t raw) noexcept {
    Address a;
    a.host_ = raw ? host : nullptr;
    a.raw_ = raw;
    return a;
  }
  // Retains a BORROWED address (e.g. a message's sender) into a new handle.
  static Address Retain(const troupe_host_v1_t* host, troupe_address_t raw) noexcept {
    if (raw == nullptr || host == nullptr) return Address();
    return Adopt(host, host->address_retain(raw));
  }
  // Turns printed text back into an address. Returns a null Address when the
  // host does not accept `text` as an address.
  static Address Parse(const troupe_host_v1_t* host, std::string_view text) noexcept {
    troupe_address_t raw = nullptr;
    if (host == nullptr || host->address_parse(detail::Bytes(text), &raw) != TROUPE_OK) {
      return Address();
    }
    return Adopt(host, raw);
  }

  Address(const Address& other) noexcept : host_(other.host_), raw_(other.raw_) {
    if (raw_ != nullptr) raw_ = host_->address_retain(raw_);
  }
  Address(Address&& other) noexcept
      : host_(std::exchange(other.host_, nullptr)), raw_(std::exchange(other.raw_, nullptr)) {}
  Address& operator=(const Address& other) noexcept {
    if (this != &other) *this = Address(other);
    return *this;
  }
  Address& operator=(Address&& other) noexcept {
    if (this != &other) {
      Reset();
      host_ = std::exchange(other.host_, nullptr);
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  ~Address() { Reset(); }

  bool is_null() const noexcept { return raw_ == nullptr; }
  explicit operator bool() const noexcept { return raw_ != nullptr; }
  // The raw handle, BORROWED from this object.
  troupe_address_t get() const noexcept { return raw_; }
  const troupe_host_v1_t* host() const noexcept { return host_; }
  // Gives up ownership: the caller now owns the RETAINED raw handle.
  troupe_address_t Release() noexcept {
    host_ = nullptr;
    return std::exchange(raw_, nullptr);
  }
  // Drops the reference; the Address becomes null.
  void Reset() noexcept {
    if (raw_ != nullptr) host_->address_release(raw_);
    raw_ = nullptr;
    host_ = nullptr;
  }

  // The printable form (e.g. "troupe://host:port/42"); empty for null.
  std::string ToString() const {
    if (raw_ == nullptr) return std::string();
    std::string text(64, '\0');
    size_t size = host_->address_format(raw_, text.data(), text.size());
    if (size > text.size()) {
      text.resize(size);
      size = host_->address_format(raw_, text.data(), text.size());
    }
    text.resize(std::min(size, text.size()));
    return text;
  }

  // <0, 0, >0; null sorts first.
  static int Compare(const Address& a, const Address& b) noexcept {
    if (a.raw_ == b.raw_) return 0;
    if (a.raw_ == nullptr) return -1;
    if (b.raw_ == nullptr) return 1;
    return a.host_->address_compare(a.raw_, b.raw_);
  }
  // 0 for null.
  uint64_t Hash() const noexcept { return raw_ == nullptr ? 0 : host_->address_hash(raw_); }

  friend bool operator==(const Address& a, const Address& b) noexcept { return Compare(a, b) == 0; }
  friend bool operator<(const Address& a, const Address& b) noexcept { return Compare(a, b) < 0; }

 private:
  const troupe_host_v1_t* host_ = nullptr;
  troupe_address_t raw_ = nullptr;
};

// Message is a view of one incoming message. Everything in it is borrowed for
// the duration of the callback that received it.
class Message {
 public:
  Message(const troupe_message_t& raw, const troupe_host_v1_t* host) noexcept
      : raw_(&raw), host_(host) {}

  std::string_view type() const noexcept { return detail::View(raw_->type); }
  std::string_view payload() const noexcept { return detail::View(raw_->payload); }
  // The payload read as text (same bytes as payload()).
  std::string_view text() const noexcept { return payload(); }
  bool Is(std::string_view type_name) const noexcept { return type() == type_name; }

  bool has_sender() const noexcept { return raw_->sender != nullptr; }
  // The sender, BORROWED for the call; may be null.
  troupe_address_t raw_sender() const noexcept { return raw_->sender; }
  // A retained copy of the sender (null Address when there is none).
  Address sender() const noexcept { return Address::Retain(host_, raw_->sender); }

  const troupe_message_t& raw() const noexcept { return *raw_; }
  const troupe_host_v1_t* host() const noexcept { return host_; }

 private:
  const troupe_message_t* raw_;
  const troupe_host_v1_t* host_;
};

// ---------------------------------------------------------------------------
// Message types known to typed dispatch (On<T>). A type is either
//  - a "declared" type: `static constexpr std::string_view kTypeName` plus
//    `static std::optional<T> Decode(const Message&)` (the system messages
//    below follow this shape, and so may user types), or
//  - a protobuf message: `T::descriptor()->full_name()`, ParseFromArray.
// ---------------------------------------------------------------------------
template <typename T>
concept DeclaredMessageType = requires(const Message& m) {
  { T::kTypeName } -> std::convertible_to<std::string_view>;
  { T::Decode(m) } -> std::same_as<std::optional<T>>;
};

template <typename T>
concept ProtoMessageType = requires(T& t, const T& ct) {
  T::descriptor()->full_name();
  { ct.SerializeAsString() } -> std::convertible_to<std::string>;
  t.ParseFromArray(static_cast<const void*>(nullptr), 0);
};

// The type name messages of T carry.
template <typename T>
requires DeclaredMessageType<T> || ProtoMessageType<T> std::string TypeNameOf() {
  if constexpr (DeclaredMessageType<T>) {
    return std::string(std::string_view(T::kTypeName));
  } else {
    return std::string(T::descriptor()->full_name());
  }
}

// Decodes a protobuf message. Throws troupe::Error(INVALID_ARGUMENT) when the
// message's type is not P's full name or the payload does not parse.
template <typename P>
requires ProtoMessageType<P> P ParseProto(const Message& message) {
  const auto& name = P::descriptor()->full_name();
  if (message.type() != std::string_view(name.data(), name.size())) {
    throw Error(TROUPE_ERROR_INVALID_ARGUMENT, "message of type '" + std::string(message.type()) +
                                                   "' is not a " + std::string(name));
  }
  P proto;
  std::string_view payload = message.payload();
  if (payload.size() > static_cast<size_t>(INT32_MAX) ||
      !proto.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    throw Error(TROUPE_ERROR_INVALID_ARGUMENT, "payload does not parse as " + std::string(name));
  }
  return proto;
}

// Decodes `message` as T (declared or protobuf). Throws troupe::Error
// (INVALID_ARGUMENT) when it is not a well-formed T.
template <typename T>
requires DeclaredMessageType<T> || ProtoMessageType<T> T DecodeAs(const Message& message) {
  if constexpr (DeclaredMessageType<T>) {
    std::optional<T> decoded;
    if (message.Is(T::kTypeName)) decoded = T::Decode(message);
    if (!decoded) {
      throw Error(TROUPE_ERROR_INVALID_ARGUMENT, "malformed " + std::string(T::kTypeName) +
                                                     " message (type '" +
                                                     std::string(message.type()) + "')");
    }
    return std::move(*decoded);
  } else {
    return ParseProto<T>(message);
  }
}

// ---------------------------------------------------------------------------
// System messages (abi.h). Each has kTypeName, Decode(const Message&),
// DecodePayload(payload[, host]) and EncodePayload() (for hosts and tests).
// Address fields keep the printed text and, when a host is known, the parsed
// Address (null if the host rejects the text).
// ---------------------------------------------------------------------------

// Asks the actor to exit; see abi.h TROUPE_MSG_EXIT_REQUEST.
struct ExitRequest {
  static constexpr std::string_view kTypeName = TROUPE_MSG_EXIT_REQUEST;
  bool recursive = true;

  static std::optional<ExitRequest> DecodePayload(std::string_view payload) {
    if (payload.empty()) return ExitRequest{true};
    if (payload.size() != 1 || (payload[0] != 0 && payload[0] != 1)) return std::nullopt;
    return ExitRequest{payload[0] == 1};
  }
  static std::optional<ExitRequest> Decode(const Message& m) { return DecodePayload(m.payload()); }
  std::string EncodePayload() const { return std::string(1, recursive ? '\1' : '\0'); }
};

// A child exited; see abi.h TROUPE_MSG_CHILD_EXITED.
struct ChildActorExited {
  static constexpr std::string_view kTypeName = TROUPE_MSG_CHILD_EXITED;
  std::string child_text;
  Address child;
  std::string reason;  // empty when the child exited normally

  static std::optional<ChildActorExited> DecodePayload(std::string_view payload,
                                                       const troupe_host_v1_t* host = nullptr) {
    std::string_view child, reason;
    if (!wire::ReadField(&payload, &child) || !wire::ReadField(&payload, &reason) ||
        !payload.empty()) {
      return std::nullopt;
    }
    return ChildActorExited{std::string(child), Address::Parse(host, child), std::string(reason)};
  }
  static std::optional<ChildActorExited> Decode(const Message& m) {
    return DecodePayload(m.payload(), m.host());
  }
  std::string EncodePayload() const {
    std::string out;
    wire::AppendField(&out, child_text);
    wire::AppendField(&out, reason);
    return out;
  }
};

// A message failed twice (or could not reach a child); see TROUPE_MSG_POISON.
struct PoisonMessage {
  static constexpr std::string_view kTypeName = TROUPE_MSG_POISON;
  std::string type;
  std::string payload;
  std::string error;

  static std::optional<PoisonMessage> DecodePayload(std::string_view in) {
    std::string_view type, payload, error;
    if (!wire::ReadField(&in, &type) || !wire::ReadField(&in, &payload) ||
        !wire::ReadField(&in, &error) || !in.empty()) {
      return std::nullopt;
    }
    return PoisonMessage{std::string(type), std::string(payload), std::string(error)};
  }
  static std::optional<PoisonMessage> Decode(const Message& m) {
    return DecodePayload(m.payload());
  }
  std::string EncodePayload() const {
    std::string out;
    wire::AppendField(&out, type);
    wire::AppendField(&out, payload);
    wire::AppendField(&out, error);
    return out;
  }
};

// A wakeup asked for with WakeupAfter; see TROUPE_MSG_WAKEUP.
struct WakeupMessage {
  static constexpr std::string_view kTypeName = TROUPE_MSG_WAKEUP;
  std::chrono::nanoseconds delay{0};
  std::string payload;

  static std::optional<WakeupMessage> DecodePayload(std::string_view in) {
    uint64_t delay_ns = 0;
    if (!wire::ReadU64(&in, &delay_ns)) return std::nullopt;
    return WakeupMessage{std::chrono::nanoseconds(static_cast<int64_t>(delay_ns)), std::string(in)};
  }
  static std::optional<WakeupMessage> Decode(const Message& m) {
    return DecodePayload(m.payload());
  }
  std::string EncodePayload() const {
    std::string out;
    wire::AppendU64(&out, static_cast<uint64_t>(delay.count()));
    out.append(payload);
    return out;
  }
};

// An undeliverable message, for the dead-letter handler; see
// TROUPE_MSG_DEAD_ENVELOPE. The Message's sender is the original sender.
struct DeadEnvelope {
  static constexpr std::string_view kTypeName = TROUPE_MSG_DEAD_ENVELOPE;
  std::string dead_address_text;
  Address dead_address;
  std::string type;
  std::string payload;

  static std::optional<DeadEnvelope> DecodePayload(std::string_view in,
                                                   const troupe_host_v1_t* host = nullptr) {
    std::string_view dead, type, payload;
    if (!wire::ReadField(&in, &dead) || !wire::ReadField(&in, &type) ||
        !wire::ReadField(&in, &payload) || !in.empty()) {
      return std::nullopt;
    }
    return DeadEnvelope{std::string(dead), Address::Parse(host, dead), std::string(type),
                        std::string(payload)};
  }
  static std::optional<DeadEnvelope> Decode(const Message& m) {
    return DecodePayload(m.payload(), m.host());
  }
  std::string EncodePayload() const {
    std::string out;
    wire::AppendField(&out, dead_address_text);
    wire::AppendField(&out, type);
    wire::AppendField(&out, payload);
    return out;
  }
};

// Pool settings (request and answer); see TROUPE_MSG_POOL_SETTINGS.
struct UpdateTroupeSettings {
  static constexpr std::string_view kTypeName = TROUPE_MSG_POOL_SETTINGS;
  uint32_t max_count = 0;
  uint32_t idle_count = 0;

  static std::optional<UpdateTroupeSettings> DecodePayload(std::string_view in) {
    UpdateTroupeSettings s;
    if (!wire::ReadU32(&in, &s.max_count) || !wire::ReadU32(&in, &s.idle_count) || !in.empty()) {
      return std::nullopt;
    }
    return s;
  }
  static std::optional<UpdateTroupeSettings> Decode(const Message& m) {
    return DecodePayload(m.payload());
  }
  std::string EncodePayload() const {
    std::string out;
    wire::AppendU32(&out, max_count);
    wire::AppendU32(&out, idle_count);
    return out;
  }
};

// This node's capabilities changed and this actor's requirements (or its
// class's CapabilityCheck) no longer hold; see TROUPE_MSG_CAPABILITIES_CHANGED.
// If the class has exit_when_unfit, an ExitRequest follows.
struct CapabilitiesChanged {
  static constexpr std::string_view kTypeName = TROUPE_MSG_CAPABILITIES_CHANGED;
  std::string capabilities_json;  // the node's capabilities now, a JSON object
  std::string reason;             // what no longer holds

  static std::optional<CapabilitiesChanged> DecodePayload(std::string_view in) {
    std::string_view capabilities, reason;
    if (!wire::ReadField(&in, &capabilities) || !wire::ReadField(&in, &reason) || !in.empty()) {
      return std::nullopt;
    }
    return CapabilitiesChanged{std::string(capabilities), std::string(reason)};
  }
  static std::optional<CapabilitiesChanged> Decode(const Message& m) {
    return DecodePayload(m.payload());
  }
  std::string EncodePayload() const {
    std::string out;
    wire::AppendField(&out, capabilities_json);
    wire::AppendField(&out, reason);
    return out;
  }
};

// A convention member joined, left (or expired), or changed its capabilities;
// see TROUPE_MSG_CONVENTION_UPDATE and Actor::NotifyOnConventionChanges.
struct ConventionUpdate {
  static constexpr std::string_view kTypeName = TROUPE_MSG_CONVENTION_UPDATE;
  std::string node;               // the member's address, "host:port"
  std::string capabilities_json;  // its capabilities, a JSON object
  std::string event;              // "joined", "left" or "capabilities"

  bool joined() const noexcept { return event == "joined"; }
  bool left() const noexcept { return event == "left"; }
  bool capabilities_changed() const noexcept { return event == "capabilities"; }

  static std::optional<ConventionUpdate> DecodePayload(std::string_view in) {
    std::string_view node, capabilities, event;
    if (!wire::ReadField(&in, &node) || !wire::ReadField(&in, &capabilities) ||
        !wire::ReadField(&in, &event) || !in.empty()) {
      return std::nullopt;
    }
    return ConventionUpdate{std::string(node), std::string(capabilities), std::string(event)};
  }
  static std::optional<ConventionUpdate> Decode(const Message& m) {
    return DecodePayload(m.payload());
  }
  std::string EncodePayload() const {
    std::string out;
    wire::AppendField(&out, node);
    wire::AppendField(&out, capabilities_json);
    wire::AppendField(&out, event);
    return out;
  }
};

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

namespace std {
template <>
struct hash<troupe::Address> {
  size_t operator()(const troupe::Address& address) const noexcept {
    return static_cast<size_t>(address.Hash());
  }
};
}  // namespace std

// Defines the library's one exported symbol, troupe_plugin_v1, returning a
// STATIC table with `library_name` (a string literal) and the given classes,
// each a troupe::ActorClass<T>(...) expression. Use once per library:
//
//   TROUPE_EXPORT_ACTORS("examples",
//       troupe::ActorClass<Echo>("examples.Echo"),
//       troupe::ActorClass<Flaky>("examples.Flaky",
//                                 {.failure_policy = TROUPE_FAILURE_RESTART}));
//
// Define TROUPE_ABI_TARGET_MINOR before including actor.h (the CMake option
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
