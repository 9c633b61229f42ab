// envelope.h - one message in flight inside a daemon: type name, payload bytes
// and sender, in a single heap block. Envelopes are moved from sender to
// mailbox to handler; their bytes are never copied inside the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace troupe::runtime {

class Cell;

// What the runtime must do with a message before (or instead of) the handler.
enum class MessageKind : uint8_t {
  kUser = 0,
  kExitRequest,      // TROUPE_MSG_EXIT_REQUEST
  kChildExited,      // TROUPE_MSG_CHILD_EXITED
  kPoison,           // TROUPE_MSG_POISON
  kWakeup,           // TROUPE_MSG_WAKEUP
  kDeadEnvelope,     // TROUPE_MSG_DEAD_ENVELOPE
  kPoolSettings,     // TROUPE_MSG_POOL_SETTINGS
  kPoolMemberReady,  // internal: a pool member finished a message
  kSync,             // internal: answered by the runtime once earlier mail is handled
  kCapabilitiesChanged,  // TROUPE_MSG_CAPABILITIES_CHANGED
  kConventionUpdate,     // TROUPE_MSG_CONVENTION_UPDATE
};

// A barrier: the runtime answers it with kSyncReplyType (same payload) to the
// sender once every message queued before it has been handled, without calling
// the handler. Reserved: only daemon code can send it.
inline constexpr std::string_view kSyncType = "troupe.internal.Sync";
inline constexpr std::string_view kSyncReplyType = "troupe.internal.SyncReply";

// Classifies a type name ("troupe.*" names are system messages).
MessageKind KindOfType(std::string_view type);
// True for system message types only the runtime may send (exit notices,
// dead envelopes, capability and convention notices, internal bookkeeping);
// actors and clients may not forge them.
bool IsReservedType(std::string_view type);

// Not thread-safe; owned by exactly one party at a time (see Message).
struct Envelope {
  Envelope* next;  // intrusive link used by Mailbox
  Cell* sender;    // retained reference, or nullptr
  uint64_t payload_size;
  uint32_t type_size;
  MessageKind kind;
  bool pool_work;  // handed out by a pool manager: the member reports back
  // type bytes, then payload bytes, follow the struct in the same block.

  char* type_data() { return reinterpret_cast<char*>(this + 1); }
  char* payload_data() { return type_data() + type_size; }
  std::string_view type() { return {type_data(), type_size}; }
  std::string_view payload() { return {payload_data(), payload_size}; }
};

// The owning handle to an Envelope. Move-only. Destroying it frees the block
// and releases the sender reference.
class Message {
 public:
  Message() = default;
  // Builds a message; `sender` is retained when not null.
  static Message Make(std::string_view type, std::string_view payload, Cell* sender = nullptr);
  // Builds a message whose payload is written by the caller into the returned
  // message's payload buffer (mutable_payload()) of `payload_size` bytes.
  static Message MakeUninitialized(std::string_view type, size_t payload_size,
                                   Cell* sender = nullptr);
  // Takes ownership of a raw envelope (from a Mailbox).
  static Message Adopt(Envelope* envelope) { return Message(envelope); }

  Message(Message&& other) noexcept : envelope_(other.envelope_) { other.envelope_ = nullptr; }
  Message& operator=(Message&& other) noexcept;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() { Reset(); }

  explicit operator bool() const { return envelope_ != nullptr; }
  std::string_view type() const { return envelope_->type(); }
  std::string_view payload() const { return envelope_->payload(); }
  char* mutable_payload() { return envelope_->payload_data(); }
  MessageKind kind() const { return envelope_->kind; }
  // Marks work a pool manager hands to a member (the member reports "ready"
  // to its manager after handling exactly these).
  void MarkPoolWork() { envelope_->pool_work = true; }
  bool pool_work() const { return envelope_->pool_work; }
  Cell* sender() const { return envelope_->sender; }
  // Replaces the sender (retains the new one, releases the old one).
  void SetSender(Cell* sender);

  // Takes the sender reference out (the caller must release it); the
  // message then has no sender.
  Cell* DetachSender() {
    Cell* sender = envelope_->sender;
    envelope_->sender = nullptr;
    return sender;
  }
  // Gives up ownership (for a Mailbox).
  Envelope* Release() {
    Envelope* e = envelope_;
    envelope_ = nullptr;
    return e;
  }
  void Reset();

 private:
  explicit Message(Envelope* envelope) : envelope_(envelope) {}
  Envelope* envelope_ = nullptr;
};

}  // namespace troupe::runtime
