// host_table.cc - the troupe_host_v1_t functions plugins call. Each one
// converts C views to C++ and forwards to the ActorSystem; none throws.
#include <cstring>
#include <string>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/actor_class.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/cell.h"
#include "daemon/runtime/requirements.h"

namespace troupe::runtime {

ActorSystem* CurrentSystemForHost();  // actor_system.cc

namespace {

std::string_view View(troupe_bytes_t b) { return {b.data, b.data == nullptr ? 0 : b.size}; }

troupe_result_t FromStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return TROUPE_OK;
    case absl::StatusCode::kInvalidArgument:
      return TROUPE_ERROR_INVALID_ARGUMENT;
    case absl::StatusCode::kNotFound:
      return TROUPE_ERROR_NOT_FOUND;
    case absl::StatusCode::kAlreadyExists:
      return TROUPE_ERROR_ALREADY_EXISTS;
    case absl::StatusCode::kResourceExhausted:
      return TROUPE_ERROR_RESOURCE_EXHAUSTED;
    case absl::StatusCode::kFailedPrecondition:
      return TROUPE_ERROR_FAILED_PRECONDITION;
    case absl::StatusCode::kUnimplemented:
      return TROUPE_ERROR_UNIMPLEMENTED;
    case absl::StatusCode::kUnavailable:
      return TROUPE_ERROR_UNAVAILABLE;
    case absl::StatusCode::kInternal:
      return TROUPE_ERROR_INTERNAL;
    default:
      return TROUPE_ERROR_UNKNOWN;
  }
}

// Runs `fn` and turns any exception (in practice std::bad_alloc) into
// `on_error`: nothing may unwind into plugin code.
template <typename R, typename F>
R NoThrow(R on_error, F&& fn) noexcept {
  try {
    return fn();
  } catch (...) {
    return on_error;
  }
}

// The actor behind `ctx`, its batched sends gone out first: a host call
// other than send may deliver to an actor on the caller's behalf (a wakeup
// to itself, an exit request after a capability change, a child's first
// messages), and must not overtake what the code sent before it.
Cell* FlushedSelf(troupe_actor_ctx_t* ctx) {
  Cell* self = Cell::FromContext(ctx);
  self->FlushBatchedSends();
  return self;
}

troupe_result_t HostSend(troupe_actor_ctx_t* ctx, troupe_address_t target, troupe_bytes_t type,
                         troupe_bytes_t payload) {
  return NoThrow(TROUPE_ERROR_RESOURCE_EXHAUSTED, [&] {
    Cell* self = Cell::FromContext(ctx);
    if (target == nullptr || View(type).empty() || IsReservedType(View(type))) {
      return TROUPE_ERROR_INVALID_ARGUMENT;
    }
    self->NoteSent();
    self->system()->SendFromCode(self, Cell::FromAddress(target),
                                 Message::Make(View(type), View(payload), self));
    return TROUPE_OK;
  });
}

troupe_result_t HostCreateActor(troupe_actor_ctx_t* ctx, troupe_bytes_t class_name,
                                troupe_bytes_t requirements_json, troupe_bytes_t global_name,
                                troupe_address_t* out) {
  return NoThrow(TROUPE_ERROR_RESOURCE_EXHAUSTED, [&] {
    if (out == nullptr) return TROUPE_ERROR_INVALID_ARGUMENT;
    Cell* self = FlushedSelf(ctx);
    // The plugin's object-form text, parsed here once; the class's own check
    // still receives the text.
    absl::StatusOr<ActorRequirements> requirements =
        ParseRequirementsObject(View(requirements_json));
    absl::StatusOr<ActorRef> child =
        requirements.ok()
            ? self->system()->CreateChild(self, View(class_name), *requirements, View(global_name))
            : absl::InvalidArgumentError(troupe::StrCat("requirements for '", View(class_name),
                                                        "' are not valid JSON"));
    if (!child.ok()) {
      LogWarning(self->system()->FormatAddress(self), ": create_actor: ", child.status().message());
      return FromStatus(child.status());
    }
    *out = child->Leak();
    return TROUPE_OK;
  });
}

void HostExitSelf(troupe_actor_ctx_t* ctx) { FlushedSelf(ctx)->RequestExitAfterTurn(); }

troupe_result_t HostWakeupAfter(troupe_actor_ctx_t* ctx, uint64_t delay_ns,
                                troupe_bytes_t payload) {
  return NoThrow(TROUPE_ERROR_RESOURCE_EXHAUSTED, [&] {
    Cell* self = FlushedSelf(ctx);
    if (delay_ns > static_cast<uint64_t>(INT64_MAX)) return TROUPE_ERROR_INVALID_ARGUMENT;
    self->system()->AddWakeup(self, absl::Nanoseconds(static_cast<int64_t>(delay_ns)),
                              View(payload));
    return TROUPE_OK;
  });
}

troupe_address_t HostSelf(troupe_actor_ctx_t* ctx) { return Cell::FromContext(ctx)->address(); }
troupe_address_t HostParent(troupe_actor_ctx_t* ctx) { return Cell::FromContext(ctx)->parent(); }

troupe_bytes_t HostGlobalName(troupe_actor_ctx_t* ctx) {
  const std::string* name = Cell::FromContext(ctx)->global_name();
  if (name == nullptr) return {"", 0};
  return {name->data(), name->size()};
}

void HostLog(troupe_actor_ctx_t* ctx, troupe_log_level_t level, troupe_bytes_t text) {
  NoThrow(0, [&] {
    Cell* self = Cell::FromContext(ctx);
    LogLevel l = level <= TROUPE_LOG_ERROR     ? LogLevel::kError
                 : level <= TROUPE_LOG_WARNING ? LogLevel::kWarning
                 : level <= TROUPE_LOG_INFO    ? LogLevel::kInfo
                                               : LogLevel::kDebug;
    const std::string address = self->system()->FormatAddress(self);
    Log(l, troupe::StrCat(address, " (", self->actor_class()->name(), "): ", View(text)));
    self->system()->actor_logs().Append(address, static_cast<int>(l), View(text), absl::Now());
    self->MarkLogged();
    return 0;
  });
}

troupe_result_t HostUpdateCapability(troupe_actor_ctx_t* ctx, troupe_bytes_t name,
                                     troupe_bytes_t value_json) {
  return NoThrow(TROUPE_ERROR_RESOURCE_EXHAUSTED, [&] {
    Cell* self = FlushedSelf(ctx);
    absl::StatusOr<bool> changed = self->system()->UpdateCapability(View(name), View(value_json));
    if (!changed.ok()) {
      LogWarning(self->system()->FormatAddress(self), ": ", changed.status().message());
    }
    return FromStatus(changed.status());
  });
}

void HostHandleDeadLetters(troupe_actor_ctx_t* ctx, int enable) {
  Cell* self = FlushedSelf(ctx);
  self->system()->SetDeadLetterHandlerFromActor(self, enable != 0);
}

void HostReportError(troupe_actor_ctx_t* ctx, troupe_bytes_t text) {
  NoThrow(0, [&] {
    Cell::FromContext(ctx)->SetError(View(text));
    return 0;
  });
}

void HostExitNotRecursive(troupe_actor_ctx_t* ctx) { Cell::FromContext(ctx)->KeepChildrenOnExit(); }

troupe_address_t HostAddressRetain(troupe_address_t a) {
  if (a != nullptr) Cell::FromAddress(a)->Retain();
  return a;
}

void HostAddressRelease(troupe_address_t a) {
  if (a != nullptr) Cell::FromAddress(a)->Release();
}

int HostAddressCompare(troupe_address_t a, troupe_address_t b) {
  if (a == b) return 0;
  if (a == nullptr) return -1;
  if (b == nullptr) return 1;
  uint64_t ia = Cell::FromAddress(a)->id(), ib = Cell::FromAddress(b)->id();
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

uint64_t HostAddressHash(troupe_address_t a) {
  if (a == nullptr) return 0;
  uint64_t x = Cell::FromAddress(a)->id();  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

size_t HostAddressFormat(troupe_address_t a, char* buffer, size_t capacity) {
  return NoThrow(size_t{0}, [&] {
    if (a == nullptr) return size_t{0};
    Cell* cell = Cell::FromAddress(a);
    std::string text = cell->system()->FormatAddress(cell);
    if (buffer != nullptr && capacity > 0)
      std::memcpy(buffer, text.data(), std::min(capacity, text.size()));
    return text.size();
  });
}

troupe_result_t HostAddressParse(troupe_bytes_t text, troupe_address_t* out) {
  return NoThrow(TROUPE_ERROR_RESOURCE_EXHAUSTED, [&] {
    ActorSystem* system = CurrentSystemForHost();
    if (out == nullptr || system == nullptr) return TROUPE_ERROR_FAILED_PRECONDITION;
    absl::StatusOr<ActorRef> ref = system->ParseAddress(View(text));
    if (!ref.ok()) return FromStatus(ref.status());
    *out = ref->Leak();
    return TROUPE_OK;
  });
}

void HostNotifyOnConventionChanges(troupe_actor_ctx_t* ctx, int enable) {
  NoThrow(0, [&] {
    Cell* self = FlushedSelf(ctx);
    absl::Status s =
        self->system()->SubscribeConventionUpdates(ActorRef::Share(self), enable != 0);
    if (!s.ok()) LogWarning(self->system()->FormatAddress(self), ": ", s.message());
    return 0;
  });
}

const troupe_host_v1_t kHostTable = {
    sizeof(troupe_host_v1_t),
    TROUPE_ABI_MAJOR,
    TROUPE_ABI_MINOR,
    HostSend,
    HostCreateActor,
    HostExitSelf,
    HostWakeupAfter,
    HostSelf,
    HostParent,
    HostGlobalName,
    HostLog,
    HostUpdateCapability,
    HostHandleDeadLetters,
    HostReportError,
    HostExitNotRecursive,
    HostAddressRetain,
    HostAddressRelease,
    HostAddressCompare,
    HostAddressHash,
    HostAddressFormat,
    HostAddressParse,
    HostNotifyOnConventionChanges,  // minor 2
};

}  // namespace

const troupe_host_v1_t* HostTable() { return &kHostTable; }

}  // namespace troupe::runtime
