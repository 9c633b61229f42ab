// system_messages.h - the typed system messages of abi.h: ExitRequest,
// ChildActorExited, PoisonMessage, WakeupMessage, DeadEnvelope,
// UpdateTroupeSettings, CapabilitiesChanged and ConventionUpdate. Each decodes
// a Message (for On<T> handlers) and encodes its payload (for hosts and
// tests); the field encoding is wire.h's. Header-only; part of the C++ actor
// SDK (troupe/actor.h includes it).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "troupe/abi.h"
#include "troupe/address.h"
#include "troupe/message.h"
#include "troupe/wire.h"

namespace troupe {

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

}  // namespace troupe
