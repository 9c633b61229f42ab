// message.h - troupe::Message, the view of one incoming message a handler
// gets (everything in it borrowed for the call), kTextType, and the message
// types typed dispatch knows: declared types (kTypeName + Decode, as the system
// messages in system_messages.h) and protobuf messages (templates that compile
// only where used, so no protobuf header is needed), with TypeNameOf,
// ParseProto and DecodeAs. Header-only; part of the C++ actor SDK
// (troupe/actor.h includes it).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "troupe/abi.h"
#include "troupe/address.h"
#include "troupe/error.h"

namespace troupe {

// The type name SendText() uses for plain text messages.
inline constexpr std::string_view kTextType = "troupe.Text";

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

}  // namespace troupe
