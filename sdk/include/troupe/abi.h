/* abi.h - the stable C ABI between a Troupe host (troupd, tests) and actor
 * libraries (the .so files inside a bundle).
 *
 * A library exports exactly one function, troupe_plugin_v1(), that returns a
 * const table describing its actor classes. The host passes its own function
 * table to every actor callback. Nothing but C types crosses this boundary: no
 * C++ object, no exception, no allocator is shared.
 *
 * Compatibility rules:
 *  - The host refuses a library whose abi_major differs from its own.
 *  - The host accepts a library whose abi_minor is lower than or equal to its
 *    own; it reads only the first struct_size bytes of each table.
 *  - Tables only grow at the end. A field added in minor N is guarded by
 *    TROUPE_ABI_TARGET_MINOR >= N so a library can be built against an older
 *    minor (define TROUPE_ABI_TARGET_MINOR before including this header).
 *    The host also reads a plugin-side field of minor N only from a library
 *    whose abi_minor >= N: a field may fill what was padding in an older
 *    minor, so struct_size alone cannot tell (troupe_actor_class_v1's
 *    exit_when_unfit does). A library may call a host function of minor N
 *    without checking: the host refuses libraries newer than itself.
 *  - New system message types (below) may come with any minor; actor code
 *    should ignore "troupe." types it does not know (the C++ SDK's default
 *    Unhandled does).
 *  - Any edit to this file changes its hash; tests/sdk/abi_hash_test.cc fails
 *    until TROUPE_ABI_MINOR (or TROUPE_ABI_MAJOR) and the recorded hash change.
 *
 * Minors: 0 the first tables; 1 troupe_plugin_v1.sdk_version; 2 capability
 * changes and convention updates (TROUPE_MSG_CAPABILITIES_CHANGED,
 * TROUPE_MSG_CONVENTION_UPDATE, troupe_actor_class_v1.exit_when_unfit,
 * troupe_host_v1.notify_on_convention_changes).
 *
 * Ownership vocabulary used on every pointer below:
 *  BORROWED(call)  valid only until the function (or callback) returns.
 *  BORROWED(actor) valid until the actor's destroy callback has returned.
 *  STATIC          valid for as long as the library is loaded.
 *  OWNED(caller)   the callee keeps nothing; the caller frees it.
 *  RETAINED        a new reference; the receiver calls address_release.
 */
#ifndef TROUPE_ABI_H_
#define TROUPE_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TROUPE_ABI_MAJOR 1
#define TROUPE_ABI_MINOR 2
#define TROUPE_ABI_OLDEST_MINOR 0

#ifndef TROUPE_ABI_TARGET_MINOR
#define TROUPE_ABI_TARGET_MINOR TROUPE_ABI_MINOR
#endif

#define TROUPE_PLUGIN_ENTRY_SYMBOL "troupe_plugin_v1"

/* Result codes. Values match the canonical gRPC / absl status codes. */
typedef enum troupe_result {
  TROUPE_OK = 0,
  TROUPE_ERROR_UNKNOWN = 2,
  TROUPE_ERROR_INVALID_ARGUMENT = 3,
  TROUPE_ERROR_NOT_FOUND = 5,
  TROUPE_ERROR_ALREADY_EXISTS = 6,
  TROUPE_ERROR_RESOURCE_EXHAUSTED = 8,
  TROUPE_ERROR_FAILED_PRECONDITION = 9,
  TROUPE_ERROR_UNIMPLEMENTED = 12,
  TROUPE_ERROR_INTERNAL = 13,
  TROUPE_ERROR_UNAVAILABLE = 14
} troupe_result_t;

/* A byte or text view. BORROWED(call) unless a function says otherwise. Not
 * NUL-terminated. */
typedef struct troupe_bytes {
  const char* data;
  size_t size;
} troupe_bytes_t;

/* An opaque, reference-counted actor address. Copy it with address_retain,
 * drop it with address_release, compare and hash it with address_compare and
 * address_hash, print it with address_format and turn printed text back into
 * an address with address_parse (that is how an address travels inside a
 * message). NULL means "no address" (e.g. the sender of an external tell).
 * Actor code never makes one up. */
typedef struct troupe_address_s* troupe_address_t;

/* The host's per-actor context. BORROWED(actor): valid from create until the
 * actor's destroy callback returns. Only use it on the thread the host called
 * the actor on, while that callback runs. */
typedef struct troupe_actor_ctx_s troupe_actor_ctx_t;

/* A message as an actor sees it. */
typedef struct troupe_message {
  troupe_bytes_t type;      /* BORROWED(call): the message type name. */
  troupe_bytes_t payload;   /* BORROWED(call): the payload bytes. */
  troupe_address_t sender;  /* BORROWED(call): may be NULL. */
} troupe_message_t;

typedef enum troupe_log_level {
  TROUPE_LOG_DEBUG = 7,
  TROUPE_LOG_INFO = 6,
  TROUPE_LOG_WARNING = 4,
  TROUPE_LOG_ERROR = 3
} troupe_log_level_t;

/* What the runtime does after a handler fails (see receive below). */
typedef enum troupe_failure_policy {
  /* Retry the message once on the same instance; state carries over. */
  TROUPE_FAILURE_RESUME = 0,
  /* Destroy the instance and create a fresh one before the retry. */
  TROUPE_FAILURE_RESTART = 1
} troupe_failure_policy_t;

/* ---------------------------------------------------------------------------
 * System message types. Their payloads use a simple field encoding: each field
 * is a little-endian uint32 length followed by that many bytes; fixed-size
 * numbers are little-endian. Addresses are in their address_format text.
 * ------------------------------------------------------------------------- */

/* Ask an actor to exit. Payload: 1 byte, 1 = recursive (children exit first,
 * the default), 0 = not recursive (children are left running). An empty
 * payload means recursive. The handler sees it, may clean up, cannot refuse. */
#define TROUPE_MSG_EXIT_REQUEST "troupe.ActorExitRequest"
/* Sent to a parent once per child that exited. Payload: field(child address),
 * field(reason text, empty when the child exited normally). */
#define TROUPE_MSG_CHILD_EXITED "troupe.ChildActorExited"
/* Returned to the sender of a message a handler failed on twice, or that
 * could not be delivered to a child whose create failed. Payload:
 * field(original type), field(original payload), field(error text). */
#define TROUPE_MSG_POISON "troupe.PoisonMessage"
/* A wakeup the actor asked for with wakeup_after. Sender: the actor itself.
 * Payload: uint64 delay in nanoseconds, then the payload given to
 * wakeup_after (the rest of the bytes). */
#define TROUPE_MSG_WAKEUP "troupe.WakeupMessage"
/* A message that could not be delivered, sent to the dead-letter handler.
 * Payload: field(dead address), field(original type), field(original
 * payload). Sender: the original sender. */
#define TROUPE_MSG_DEAD_ENVELOPE "troupe.DeadEnvelope"
/* Change a pool's settings at run time. Payload: uint32 max_count, uint32
 * idle_count. The pool answers with the same message holding the values in
 * effect. */
#define TROUPE_MSG_POOL_SETTINGS "troupe.UpdateTroupeSettings"
/* Sent (no sender) after a change of this node's capabilities to each live
 * actor whose requirements no longer hold here: the conditions the runtime
 * understands (requirements in the object form, e.g.
 * {"gpu":{"equals":true}}) or the class's capability_check. Sent again after
 * every later change while they still do not hold. A class with
 * exit_when_unfit then gets an ActorExitRequest (recursive) right after it.
 * For a pool, each member gets it and exit_when_unfit exits the pool.
 * Payload: field(the capabilities, a JSON object), field(what no longer
 * holds, text, e.g. "requirement 'gpu equals true' does not hold"). Only the
 * runtime sends it. Added in minor 2. */
#define TROUPE_MSG_CAPABILITIES_CHANGED "troupe.CapabilitiesChanged"
/* Sent (no sender) to an actor that called notify_on_convention_changes, for
 * every change in the convention: a member joined or left (or expired), or a
 * member's capabilities changed. A new subscriber first gets one "joined" per
 * current member. Payload: field(the member's node address, "host:port"),
 * field(its capabilities, a JSON object), field(event: "joined", "left" or
 * "capabilities"). Only the runtime sends it. Added in minor 2. */
#define TROUPE_MSG_CONVENTION_UPDATE "troupe.ConventionUpdate"

/* ---------------------------------------------------------------------------
 * The host table: what actor code may ask of the runtime. The host passes it
 * to create (and it stays valid for the life of the actor: STATIC for the
 * actor). Every function is callable only from within a callback of the actor
 * that owns ctx, unless it says otherwise.
 * ------------------------------------------------------------------------- */
typedef struct troupe_host_v1 {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;

  /* Send a message (tell). The host copies type and payload (BORROWED(call))
   * into a new envelope. A message to an exited actor becomes a dead letter;
   * that is still TROUPE_OK. INVALID_ARGUMENT for a NULL target. */
  troupe_result_t (*send)(troupe_actor_ctx_t* ctx, troupe_address_t target,
                          troupe_bytes_t type, troupe_bytes_t payload);

  /* Create a child actor of class `class_name` (looked up first in the
   * caller's library, then among all loaded classes). requirements_json:
   * BORROWED(call), a JSON object of required capabilities or empty.
   * global_name: BORROWED(call), empty for an unnamed actor; when the name is
   * taken, the existing actor's address is returned. The child exists at once:
   * messages sent to *out before it runs are kept in order. *out is RETAINED.
   * NOT_FOUND for an unknown class, FAILED_PRECONDITION when the requirements
   * do not hold here. */
  troupe_result_t (*create_actor)(troupe_actor_ctx_t* ctx,
                                  troupe_bytes_t class_name,
                                  troupe_bytes_t requirements_json,
                                  troupe_bytes_t global_name,
                                  troupe_address_t* out);

  /* Ask the runtime to stop this actor after the current message, as if it
   * had received a recursive ActorExitRequest. */
  void (*exit_self)(troupe_actor_ctx_t* ctx);

  /* Deliver TROUPE_MSG_WAKEUP to this actor after delay_ns. payload:
   * BORROWED(call), copied. Pending wakeups are dropped when the actor exits. */
  troupe_result_t (*wakeup_after)(troupe_actor_ctx_t* ctx, uint64_t delay_ns,
                                  troupe_bytes_t payload);

  /* This actor's address, its parent's (NULL for a top-level actor) and its
   * global name (empty when unnamed). All BORROWED(actor). */
  troupe_address_t (*self)(troupe_actor_ctx_t* ctx);
  troupe_address_t (*parent)(troupe_actor_ctx_t* ctx);
  troupe_bytes_t (*global_name)(troupe_actor_ctx_t* ctx);

  /* Write a log line attributed to this actor. text: BORROWED(call). */
  void (*log)(troupe_actor_ctx_t* ctx, troupe_log_level_t level,
              troupe_bytes_t text);

  /* Set (value_json non-empty) or remove (empty) one capability of this node.
   * name, value_json: BORROWED(call). INVALID_ARGUMENT for bad JSON,
   * FAILED_PRECONDITION for a read-only name (the daemon's own, e.g.
   * "troupe.cores"). A real change (not the same value again) re-checks the
   * live actors, this one included, after this callback (see
   * TROUPE_MSG_CAPABILITIES_CHANGED); it is not written to any file. */
  troupe_result_t (*update_capability)(troupe_actor_ctx_t* ctx,
                                       troupe_bytes_t name,
                                       troupe_bytes_t value_json);

  /* Make this actor the node's dead-letter handler (enable != 0), or stop
   * being it (enable == 0; only clears the registration if it is this actor). */
  void (*handle_dead_letters)(troupe_actor_ctx_t* ctx, int enable);

  /* Attach a description to the failure the current callback is about to
   * return. text: BORROWED(call), copied. */
  void (*report_error)(troupe_actor_ctx_t* ctx, troupe_bytes_t text);

  /* While handling an ActorExitRequest: leave the children running. */
  void (*exit_not_recursive)(troupe_actor_ctx_t* ctx);

  /* Address handles. retain, release, compare, hash and format may be called
   * from any thread at any time; parse only from within an actor callback
   * (it resolves the text against the calling actor's node). Every address
   * argument below is BORROWED(call): the caller keeps its reference. */
  troupe_address_t (*address_retain)(troupe_address_t address); /* RETAINED */
  void (*address_release)(troupe_address_t address); /* NULL is ignored */
  /* <0, 0, >0 like memcmp; NULL sorts first. */
  int (*address_compare)(troupe_address_t a, troupe_address_t b);
  uint64_t (*address_hash)(troupe_address_t address);
  /* Writes the printable form into buffer (OWNED(caller), capacity bytes,
   * not NUL-terminated) and returns its full length, which may exceed
   * capacity: then call again with a larger buffer. */
  size_t (*address_format)(troupe_address_t address, char* buffer,
                           size_t capacity);
  /* Turns printed text (BORROWED(call)) back into an address. *out is
   * RETAINED. INVALID_ARGUMENT for text that is not an address. */
  troupe_result_t (*address_parse)(troupe_bytes_t text, troupe_address_t* out);

#if TROUPE_ABI_TARGET_MINOR >= 2
  /* Added in minor 2. Subscribe this actor to TROUPE_MSG_CONVENTION_UPDATE
   * (enable != 0) or end the subscription (enable == 0). Subscribing again
   * changes nothing (no second round of "joined"); the subscription also ends
   * when the actor exits. */
  void (*notify_on_convention_changes)(troupe_actor_ctx_t* ctx, int enable);
#endif
} troupe_host_v1_t;

/* ---------------------------------------------------------------------------
 * The plugin side: one description per actor class.
 * ------------------------------------------------------------------------- */
typedef struct troupe_actor_class_v1 {
  uint32_t struct_size;
  /* STATIC. Unique within the library; letters, digits, '_', '.', ':'. */
  const char* name;

  /* Make an instance. host: STATIC for this actor. On success store the
   * instance in *out_instance (OWNED(plugin): the host keeps the pointer and
   * hands it back to receive and, exactly once, to destroy) and return
   * TROUPE_OK. On failure return an error
   * (after host->report_error) and leave *out_instance unset. Actor code may
   * not send or create actors here. */
  troupe_result_t (*create)(troupe_actor_ctx_t* ctx, const troupe_host_v1_t* host,
                            void** out_instance);

  /* Destroy an instance made by create; instance is invalid afterwards.
   * Called once per instance, never during receive. Never fails. */
  void (*destroy)(void* instance);

  /* Handle one message. instance: made by create, BORROWED(call). message:
   * BORROWED(call). A non-OK result is a
   * handler failure (describe it with host->report_error). Must not throw. */
  troupe_result_t (*receive)(void* instance, troupe_actor_ctx_t* ctx,
                             const troupe_message_t* message);

  /* Optional (may be NULL = always yes): may this class live on a node with
   * these capabilities, given the requested requirements? Both JSON objects,
   * BORROWED(call). Returns 1 for yes, 0 for no. Must not throw. Called at
   * create and again, for each live actor of the class, after every change
   * of the node's capabilities; on any thread, without an instance. */
  int (*capability_check)(troupe_bytes_t capabilities_json,
                          troupe_bytes_t requirements_json);

  /* TROUPE_FAILURE_RESUME (0, default) or TROUPE_FAILURE_RESTART. */
  uint32_t failure_policy;

  /* Pool ("troupe") settings: when max_count > 1, one address fronts up to
   * max_count instances, idle_count of them kept warm. 0 = a plain actor. */
  uint32_t pool_max_count;
  uint32_t pool_idle_count;

#if TROUPE_ABI_TARGET_MINOR >= 2
  /* Added in minor 2 (where minor 1 had padding: the host reads it only from
   * libraries with abi_minor >= 2). 1: after a capability change that makes
   * an actor of this class unfit, it exits (TROUPE_MSG_CAPABILITIES_CHANGED,
   * then an ActorExitRequest). 0 (default): it is only told. */
  uint32_t exit_when_unfit;
#endif
} troupe_actor_class_v1_t;

/* The table a library's entry function returns. STATIC. */
typedef struct troupe_plugin_v1 {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  /* STATIC: a short name for logs. */
  const char* library_name;
  size_t class_count;
  /* STATIC: class_count pointers to class descriptions. */
  const troupe_actor_class_v1_t* const* classes;
#if TROUPE_ABI_TARGET_MINOR >= 1
  /* Added in minor 1. STATIC: the SDK version the library was built with,
   * shown in status output. */
  const char* sdk_version;
#endif
} troupe_plugin_v1_t;

/* The one symbol a library exports. Returns a STATIC table (the same
 * pointer on every call); the host never writes to or frees it. */
typedef const troupe_plugin_v1_t* (*troupe_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TROUPE_ABI_H_ */
