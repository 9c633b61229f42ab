// actor.h - the header-only C++ SDK for writing Troupe actors on top of the
// stable C ABI in abi.h. This header includes all of it, one header per job:
//   error.h            troupe::Error, ResultName, byte views
//   address.h          Address (an owning handle to an actor address)
//   message.h          Message, kTextType, declared and protobuf message types
//   system_messages.h  ExitRequest, ChildActorExited, PoisonMessage, ... (abi.h)
//   actor_base.h       Actor: typed dispatch and the host services
//   export.h           ClassOptions, ActorClass, the trampolines, TROUPE_EXPORT_ACTORS
// plus json.h (the JSON checker) and wire.h (system message fields).
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

#include "troupe/abi.h"
#include "troupe/actor_base.h"
#include "troupe/address.h"
#include "troupe/error.h"
#include "troupe/export.h"
#include "troupe/json.h"
#include "troupe/message.h"
#include "troupe/system_messages.h"
#include "troupe/wire.h"
