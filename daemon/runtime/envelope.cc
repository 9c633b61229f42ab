#include "daemon/runtime/envelope.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "daemon/runtime/cell.h"
#include "troupe/abi.h"

namespace troupe::runtime {

MessageKind KindOfType(std::string_view type) {
  if (type.size() < 7 || type.compare(0, 7, "troupe.") != 0) return MessageKind::kUser;
  if (type == TROUPE_MSG_EXIT_REQUEST) return MessageKind::kExitRequest;
  if (type == TROUPE_MSG_CHILD_EXITED) return MessageKind::kChildExited;
  if (type == TROUPE_MSG_POISON) return MessageKind::kPoison;
  if (type == TROUPE_MSG_WAKEUP) return MessageKind::kWakeup;
  if (type == TROUPE_MSG_DEAD_ENVELOPE) return MessageKind::kDeadEnvelope;
  if (type == TROUPE_MSG_POOL_SETTINGS) return MessageKind::kPoolSettings;
  if (type == "troupe.internal.PoolMemberReady") return MessageKind::kPoolMemberReady;
  if (type == kSyncType) return MessageKind::kSync;
  if (type == TROUPE_MSG_CAPABILITIES_CHANGED) return MessageKind::kCapabilitiesChanged;
  if (type == TROUPE_MSG_CONVENTION_UPDATE) return MessageKind::kConventionUpdate;
  return MessageKind::kUser;
}

bool IsReservedType(std::string_view type) {
  return type == TROUPE_MSG_CHILD_EXITED || type == TROUPE_MSG_DEAD_ENVELOPE ||
         type == TROUPE_MSG_CAPABILITIES_CHANGED || type == TROUPE_MSG_CONVENTION_UPDATE ||
         type.substr(0, 16) == "troupe.internal.";
}

Message Message::MakeUninitialized(std::string_view type, size_t payload_size, Cell* sender) {
  void* block = std::malloc(sizeof(Envelope) + type.size() + payload_size);
  if (block == nullptr) throw std::bad_alloc();
  auto* e = static_cast<Envelope*>(block);
  e->next = nullptr;
  e->sender = sender;
  if (sender != nullptr) sender->Retain();
  e->payload_size = payload_size;
  e->type_size = static_cast<uint32_t>(type.size());
  e->kind = KindOfType(type);
  e->pool_work = false;
  if (!type.empty()) std::memcpy(e->type_data(), type.data(), type.size());
  return Message(e);
}

Message Message::Make(std::string_view type, std::string_view payload, Cell* sender) {
  Message m = MakeUninitialized(type, payload.size(), sender);
  if (!payload.empty()) std::memcpy(m.mutable_payload(), payload.data(), payload.size());
  return m;
}

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    Reset();
    envelope_ = other.envelope_;
    other.envelope_ = nullptr;
  }
  return *this;
}

void Message::SetSender(Cell* sender) {
  if (sender != nullptr) sender->Retain();
  Cell* old = envelope_->sender;
  envelope_->sender = sender;
  if (old != nullptr) old->Release();
}

void Message::Reset() {
  if (envelope_ == nullptr) return;
  Cell* sender = envelope_->sender;
  std::free(envelope_);
  envelope_ = nullptr;
  if (sender != nullptr) sender->Release();
}

}  // namespace troupe::runtime
