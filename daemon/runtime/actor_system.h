// actor_system.h - the in-process actor runtime that troupd embeds and tests
// drive directly: addresses, mailboxes, scheduling, timers, lifecycle and
// failure handling, dead letters, named actors, pools and introspection.
// No networking lives here.
//
// Thread-safe: every public method may be called from any thread, except the
// stepping methods (RunOne, RunUntilIdle, AdvanceClock), which belong to the
// single test thread of a deterministic system.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/common/clock.h"
#include "daemon/common/mutex.h"
#include "daemon/runtime/actor_class.h"
#include "daemon/runtime/actor_logs.h"
#include "daemon/runtime/actor_ref.h"
#include "daemon/runtime/envelope.h"
#include "daemon/runtime/executor.h"
#include "daemon/runtime/handler_watch.h"
#include "daemon/runtime/requirements.h"
#include "daemon/runtime/timers.h"
#include "troupe/abi.h"

namespace troupe::runtime {

class Cluster;             // cluster.h
struct RemoteIdentity;     // cell.h
class RemoteRegistry;      // remote.cc
class RemoteSenderCache;   // remote.cc

// Actor ids of every system stay below this (printed addresses refuse more).
inline constexpr uint64_t kActorIdLimit = uint64_t{1} << 62;

struct SystemOptions {
  // Worker threads; 0 means one per core. Ignored when deterministic.
  int worker_threads = 0;
  // When true nothing runs by itself: the test steps the system.
  bool deterministic = false;
  // Messages an actor may handle in one turn before others get the worker.
  int throughput_quota = 64;
  // Time source for wakeups; nullptr means the real clock. Not owned.
  Clock* clock = nullptr;
  // The node part of printed addresses: troupe://<node_name>/<id>.
  std::string node_name = "local";
  // The rest of the convention (cluster.h); nullptr: this daemon is alone.
  // Not owned. A daemon whose convention needs the system first attaches it
  // later with SetCluster.
  Cluster* cluster = nullptr;
  // Lines kept per actor of what it logged (actor_logs.h); 0 keeps none.
  size_t actor_log_lines = 1000;
  // The ids this system hands out: [first_actor_id, actor_id_limit), within
  // 1 .. kActorIdLimit. An address of this node with an id outside the range
  // belongs to another system of the same node (an isolated host, or the
  // daemon seen from one) and is reached through `local_members`.
  uint64_t first_actor_id = 1;
  uint64_t actor_id_limit = kActorIdLimit;
  // When not 0: the ids from here to actor_id_limit are chosen by whoever
  // runs this system (an isolated host's daemon, CreateOptions::id), and
  // the system hands out ids below it only.
  uint64_t assigned_ids_from = 0;
  // The other systems of this node (cluster.h, same contract as `cluster`:
  // Forward and ResumeWhenRoom with this node's name and an id outside the
  // range); nullptr: none. Not owned; SetLocalMembers attaches one later.
  Cluster* local_members = nullptr;
  // Keep track of how long each running handler has run (handler_watch.h,
  // LongestRunningHandler): for an isolated host, whose daemon ends it when
  // a handler runs too long. Costs two uncontended locks per handler call.
  bool watch_handlers = false;
};

struct CreateOptions {
  // Checked against this node's capabilities (requirements.h); a class's
  // own capability check receives them in the object form.
  Requirements requirements;
  std::string global_name;  // empty: unnamed
  ActorRef parent;          // null: a top-level actor
  // When set, the class must come from this library (a table registered with
  // RegisterLibrary): how one version of a bundle is chosen over another.
  const troupe_plugin_v1_t* library = nullptr;
  // Not 0: the new actor's id, from the assigned range (SystemOptions::
  // assigned_ids_from); InvalidArgument outside it, AlreadyExists when taken
  // (and when `global_name` is held: the actor made must have this id).
  uint64_t id = 0;
};

struct ActorStatus {
  std::string address;
  std::string class_name;
  std::string parent;  // empty for a top-level actor
  std::string global_name;
  std::string state;  // "starting", "running", "exiting", "exited"
  std::vector<std::string> children;
  uint64_t mailbox_depth = 0;
  uint64_t received = 0;
  uint64_t sent = 0;
  uint64_t failed = 0;
  uint32_t pending_wakeups = 0;
};

struct SystemStatus {
  uint64_t live_actors = 0;
  uint64_t dead_letters = 0;
  uint64_t poison_messages = 0;
  uint64_t handler_failures = 0;
  uint64_t pending_wakeups = 0;
  // Actors waiting for a peer's outbox to drain before they run again.
  uint64_t parked_actors = 0;
  std::string dead_letter_handler;  // empty when none
  std::vector<std::string> global_names;
};

// Notes, while it lives, the first peer outbox that a send made on this thread
// found at or over its bound (Cluster::Forward returned false). For senders
// outside actor turns that can pause (a client stream): keep one around the
// sends and, when full(), wait with ActorSystem::ResumeWhenRoom. (Actor turns
// note it on their own and park the actor, docs/runtime.md "Remote
// addresses".) Nests; not thread-safe (one thread's stack object).
class OutboxPressureWatch {
 public:
  OutboxPressureWatch();
  ~OutboxPressureWatch();
  OutboxPressureWatch(const OutboxPressureWatch&) = delete;
  OutboxPressureWatch& operator=(const OutboxPressureWatch&) = delete;
  bool full() const { return full_; }
  const std::string& node() const { return node_; }
  void Clear() {
    full_ = false;
    node_.clear();
  }

 private:
  friend class ActorSystem;
  bool full_ = false;
  std::string node_;
  OutboxPressureWatch* const previous_;
};

// A C++ message handler for actors written inside the daemon or a test.
using NativeHandler = std::function<void(Cell* self, Message& message)>;

class ActorSystem {
 public:
  explicit ActorSystem(SystemOptions options = {});
  ~ActorSystem();  // Shutdown() if not done
  ActorSystem(const ActorSystem&) = delete;
  ActorSystem& operator=(const ActorSystem&) = delete;

  // Makes the classes of a library creatable by name. The table must stay
  // valid until the system is destroyed. AlreadyExists when a class name in
  // the same library repeats; a later library's class of the same name wins
  // for lookups from outside that library. `bundle_hash`: the source hash of
  // the bundle the library comes from, if any; calls into its code mark the
  // thread with it (CurrentBundleCode in actor_class.h).
  absl::Status RegisterLibrary(const troupe_plugin_v1_t* plugin,
                               std::string_view bundle_hash = {});
  // Registers a C++ class (tests, built-ins). Same naming rules.
  absl::Status RegisterClass(std::unique_ptr<ActorClass> actor_class);
  // Undoes RegisterLibrary so that the library may be closed: its classes can
  // no longer be created (by name or through CreateOptions::library), and a
  // class name it shadowed resolves to the previous registration again.
  // Handles to its exited actors stay usable (status keeps the class name).
  // FailedPrecondition while any actor of the library has not finished
  // exiting (its instance is not destroyed yet); NotFound for a table that is
  // not registered.
  absl::Status UnregisterLibrary(const troupe_plugin_v1_t* plugin);
  // The live (starting or running) actors whose class comes from `plugin`,
  // pool managers and members included: the ones that must exit before
  // UnregisterLibrary succeeds.
  std::vector<ActorRef> LiveActorsOfLibrary(const troupe_plugin_v1_t* plugin) const;

  // Creates an actor and returns its address at once; the instance is made
  // on the actor's first turn, and messages sent meanwhile are kept in order.
  // With a global name that is taken, returns the existing actor. NotFound
  // for an unknown class; FailedPrecondition when the requirements
  // (requirements.h) do not hold here or the class's capability check
  // refuses this node; Unavailable after Shutdown.
  absl::StatusOr<ActorRef> CreateActor(std::string_view class_name,
                                       const CreateOptions& options = {});
  // Creates an actor whose handler is `handler` (runs on workers, one message
  // at a time, like any actor).
  ActorRef SpawnNative(NativeHandler handler, std::string_view class_name = "native");

  // Delivers `message` to `target` (dead letter if it has exited).
  // `sender` may be null. InvalidArgument for a null target.
  absl::Status Tell(const ActorRef& target, Message message, const ActorRef& sender = {});
  // A one-shot reply address for asks from outside the actors (the services'
  // asks, Ask below): the first message sent to it, from any thread or from
  // another daemon, is handed to `on_reply` at once on the sender's thread (no
  // turn is scheduled), and the slot closes; later messages are dead letters.
  // With no reply by `timeout` on the system's clock, `on_reply` gets
  // DeadlineExceeded from the timer thread (a runtime wakeup, no thread of its
  // own); Shutdown ends it with Cancelled, and a slot opened once Shutdown
  // has begun ends at once with Cancelled. The slot is not an actor: it is
  // not counted as live and Shutdown does not wait for it. Reply slots print
  // as addresses and have the class "ask".
  ActorRef OpenReplySlot(ReplyHandler on_reply, absl::Duration timeout);
  // Closes `slot` without calling its handler: true when this call closed
  // it, false when it was closed already (its handler ran or is running).
  bool CloseReplySlot(Cell* slot);
  // Sends `message` and waits for the first reply (any message sent back to
  // the temporary reply address, including a PoisonMessage). DeadlineExceeded
  // after `timeout`. In a deterministic system, steps the system while waiting.
  absl::StatusOr<Message> Ask(const ActorRef& target, Message message, absl::Duration timeout);
  // Sends to the live actor named `global_name`. The lookup and the delivery
  // are one step with respect to BindGlobalName: once BindGlobalName returns,
  // every message sent by name to the name's previous holder is already in
  // that actor's mailbox, so an exit request sent to it afterwards comes after
  // them (how a version switch drains without losing mail). NotFound when no
  // live actor has the name; otherwise as Tell.
  absl::Status TellByName(std::string_view global_name, Message message,
                          const ActorRef& sender = {});
  // Asks `target` to exit (recursively unless told otherwise).
  absl::Status RequestExit(const ActorRef& target, bool recursive = true);

  std::string FormatAddress(const Cell* cell) const;
  // Parses a printed address. An address of this node that is not (or no
  // longer) live yields a handle whose messages become dead letters.
  absl::StatusOr<ActorRef> ParseAddress(std::string_view text);
  // ParseAddress for text from outside the node (clients): an id this node
  // has never handed out is NotFound and reserves nothing, so no input can
  // use up the id space.
  absl::StatusOr<ActorRef> ParseExternalAddress(std::string_view text);
  // The live actor registered under `global_name`, or NotFound.
  absl::StatusOr<ActorRef> Lookup(std::string_view global_name);

  // Makes `global_name` refer to `actor` (a live actor of this system, or of
  // a local member: docs/runtime.md "Local members") from now on, replacing
  // the actor that held it (which keeps running, unnamed). Unlike a name given at creation,
  // the actor stays a child of its parent. The name is released when the
  // actor exits. How the daemon moves a bundle's names to its new version.
  // FailedPrecondition when the actor has exited.
  absl::Status BindGlobalName(std::string_view global_name, const ActorRef& actor);

  // After an actor of this node that held a global name has exited, the
  // cluster hears of it (Cluster::NameReleased) with the name and the
  // actor's address: for the name given at creation (CreateOptions::
  // global_name) whether or not the actor still held it, and for each name
  // BindGlobalName gave it that it still held (how the convention releases a
  // convention-wide name). Called from the thread that finalizes the actor,
  // with no other runtime lock held.

  // One dead-letter handler per system; the last registration wins and a
  // null handler clears it. FailedPrecondition for an actor that is not live.
  absl::Status SetDeadLetterHandler(const ActorRef& handler);

  // ---- Capabilities (capabilities.cc; docs/runtime.md "Capabilities") ----
  // This node's capabilities as a compact JSON object text, in the order the
  // names were first set.
  std::string CapabilitiesJson() const;
  // Sets (non-empty JSON value) or removes (empty) one capability, for actors,
  // clients and director. Returns whether anything changed: the same value
  // again (by meaning: 4 == 4.0) or removing an absent name changes nothing
  // and has no other effect. After a real change, in this order and before
  // returning: the cluster hears of it (Cluster::CapabilitiesChanged, how a
  // convention member pushes it to its leader at once; nobody may change
  // capabilities while holding a lock the cluster takes there), then every
  // live actor whose
  // requirements (CreateOptions::requirements) or class capability check
  // no longer hold is sent TROUPE_MSG_CAPABILITIES_CHANGED, followed by an
  // exit request when its class has exit_when_unfit. InvalidArgument for an
  // empty name or a value that is not JSON; FailedPrecondition "capability
  // 'troupe.cores' is read-only" for a name SetReadOnlyCapability set.
  absl::StatusOr<bool> UpdateCapability(std::string_view name, std::string_view value_json);
  // The daemon's own capabilities (troupe.host, troupe.cores, ...): sets the
  // value and makes the name read-only for UpdateCapability; an empty value
  // removes both. Otherwise as UpdateCapability.
  absl::StatusOr<bool> SetReadOnlyCapability(std::string_view name, std::string_view value_json);
  // The read-only names that have a value, sorted.
  std::vector<std::string> ReadOnlyCapabilities() const;

  // ---- Convention updates (convention_events.cc; docs/runtime.md) ----
  // Sends TROUPE_MSG_CONVENTION_UPDATE {node ("host:port"), its capabilities
  // JSON, event: "joined", "left" or "capabilities"} to every subscribed live
  // actor (at once; a subscriber whose snapshot is being taken gets it right
  // after its "joined" round). The convention code calls it for every change
  // it learns of. Any other event is logged and dropped. Never blocks on
  // actors; may be called with the convention code's locks held.
  void PublishConventionUpdate(std::string_view node, std::string_view capabilities_json,
                               std::string_view event);
  // Starts (one "joined" per current member first: Cluster::Members, called
  // without runtime locks held; updates published meanwhile reach the new
  // subscriber after those) or ends `actor`'s
  // subscription. Subscribing again, or ending one that does not exist, does
  // nothing. It also ends when the actor exits. FailedPrecondition when
  // subscribing an actor that is not live; InvalidArgument for a null ref.
  absl::Status SubscribeConventionUpdates(const ActorRef& actor, bool enable);

  SystemStatus GetStatus() const;
  // The handler (or constructor) that has run longest right now, with the
  // type of its message ("(constructor)" for a constructor); nullopt when
  // none runs or the system does not watch (SystemOptions::watch_handlers).
  std::optional<HandlerWatch::Running> LongestRunningHandler() const {
    return handler_watch_ != nullptr ? handler_watch_->Longest() : std::nullopt;
  }
  // Messages waiting in the mailboxes of all live actors (one pass over them;
  // for load reports, not for hot paths).
  uint64_t QueuedMessages() const;
  absl::StatusOr<ActorStatus> GetActorStatus(const ActorRef& actor) const;
  std::vector<ActorStatus> ListActors() const;

  // Stops taking work, asks every top-level actor to exit recursively and
  // waits up to `drain` for all actors to finish; then stops the workers.
  // Actors still alive then are destroyed without handling their mail.
  void Shutdown(absl::Duration drain = absl::Seconds(10));

  // Deterministic systems only (CHECK-fails otherwise).
  bool RunOne();                        // one turn of one actor
  size_t RunUntilIdle();                // turns run
  void AdvanceClock(absl::Duration d);  // needs a ManualClock; fires due wakeups
  // Any system: delivers wakeups due now (tests with a ManualClock in a
  // threaded system call this after advancing the clock).
  void FireDueTimers();

  Clock* clock() const { return clock_; }
  // What each actor logged (actor_logs.h).
  ActorLogs& actor_logs() { return actor_logs_; }
  const ActorLogs& actor_logs() const { return actor_logs_; }
  const SystemOptions& options() const { return options_; }

  // ---- Cross-daemon messaging (remote.cc; docs/runtime.md "Remote addresses") ----
  // Attaches the rest of the convention (cluster.h) in place of the one
  // before (SystemOptions::cluster or an earlier call); nullptr detaches it.
  // With a cluster, ParseAddress returns remote cells for addresses of other
  // nodes, messages to those go to Cluster::Forward, and children that do
  // not fit here are placed through Cluster::Place; without one, those are
  // errors and such messages Undeliverable. Not owned. Returns once every
  // call into the previous cluster that was under way has returned, so it
  // may be destroyed then. Never call it from inside a Cluster method.
  void SetCluster(Cluster* cluster);
  // Delivers a message that came from another daemon to the local actor
  // `local_id` (starting, running or exiting), with the sender parsed from
  // `from_address` (empty: none; another node's address: its canonical
  // remote cell). System types are allowed: peers are authenticated daemons.
  // NotFound, counting no dead letter, when no such actor is live here (the
  // caller reports that to the sending daemon); InvalidArgument for an empty
  // type or a malformed sender.
  absl::Status DeliverFromRemote(uint64_t local_id, std::string_view from_address,
                                 std::string_view type, std::string_view payload);
  // A message from a local member (an isolated host) to actor `id` of
  // `node`: delivered as DeliverFromRemote does when it is an actor of this
  // system, else sent on through the cluster or the local members, the
  // sender being parsed from `from_address` as there. NotFound as
  // DeliverFromRemote; FailedPrecondition when `node` is another node and
  // this daemon is in no convention.
  absl::Status RelayFromLocalMember(std::string_view node, uint64_t id,
                                    std::string_view from_address, std::string_view type,
                                    std::string_view payload);
  // The transport could not deliver `message` to actor `remote_id` of `node`:
  // counted and handed to the dead-letter handler as DeadLetter does (the
  // DeadEnvelope names troupe://node/remote_id), runtime bookkeeping excepted;
  // then the observer hears of it when the message had a sender.
  void Undeliverable(std::string_view node, uint64_t remote_id, Message message,
                     std::string_view reason);
  using UndeliverableObserver =
      std::function<void(Cell* sender, std::string_view target_address, std::string_view reason)>;
  // Called (from the thread calling Undeliverable) for each undeliverable
  // message with a sender; the last registration wins, an empty one clears it.
  void SetUndeliverableObserver(UndeliverableObserver observer);
  // Makes `remote_child` (a remote cell: an actor another daemon created for
  // `parent`) a child of the local `parent`: the parent's recursive exit asks
  // it to exit and awaits its ChildActorExited. FailedPrecondition when the
  // parent is exiting or has exited (then ask the child to exit) or the child
  // is known to have exited; AlreadyExists when another parent adopted it.
  absl::Status AdoptRemoteChild(const ActorRef& parent, const ActorRef& remote_child);
  // `node` is gone: each adopted remote child of it that is still a child of a
  // local parent is reported to that parent as exited (ChildActorExited with
  // `reason`, sender: the remote cell), exactly once per child; and each live
  // local actor whose parent was an actor of `node` is asked to exit
  // (recursively): an orphan, as when a local parent exits.
  void NodeLost(std::string_view node, std::string_view reason);
  // The actor `address` of a local member that held `global_name` here
  // (BindGlobalName) has exited: the name is released, as for a local actor.
  // Nothing happens when the name is bound to another actor now.
  void LocalMemberNameReleased(std::string_view global_name, std::string_view address);
  // Attaches the other systems of this node (SystemOptions::local_members)
  // in place of the ones before; nullptr detaches them. As SetCluster.
  void SetLocalMembers(Cluster* local_members);
  // True when this system hands out `id` (SystemOptions::first_actor_id ..
  // actor_id_limit).
  bool OwnsId(uint64_t id) const {
    return id >= options_.first_actor_id && id < options_.actor_id_limit;
  }
  // The system of this node that served ids [first, limit) is gone: as
  // NodeLost, for the actors of this node's name in that range.
  void LocalMemberLost(uint64_t first, uint64_t limit, std::string_view reason);
  // After an OutboxPressureWatch became full(): runs `resume` once (from any
  // thread) when `node`'s outbox has drained below its low-water mark or its
  // link closed. False (`resume` dropped unrun) when there is room already,
  // or no cluster.
  bool ResumeWhenRoom(std::string_view node, std::function<void()> resume);
  // Canonical remote cells currently alive.
  size_t RemoteCellCountForTest() const;


  // ---- Used by the host table and by pools; not for daemon code. ----
  // Sends from inside an actor turn (counts, dead-letters, unblocks).
  void Deliver(Cell* target, Message message);
  // A send made by `self`'s plugin code (send_batch.cc). Consecutive sends to
  // the same local actor within one call into the library reach its mailbox
  // in batches of up to kSendBatch messages, one push each (two senders
  // filling one mailbox no longer contend for it per message); the batch
  // leaves when it is full, when the code sends elsewhere or makes another
  // host call that may deliver for it, and when the call ends
  // (Cell::EndCodeCall; `destroy` included). The first send to a target, and every send to
  // a remote actor or a reply slot, is delivered at once as Deliver does.
  // Order per sender and target is kept.
  static constexpr uint32_t kSendBatch = 128;
  inline void SendFromCode(Cell* self, Cell* target, Message message);
  void FlushSendBatch(Cell* self);
  // `requirements` as the host table parsed a plugin's text
  // (ParseRequirementsObject).
  absl::StatusOr<ActorRef> CreateChild(Cell* parent, std::string_view class_name,
                                       const ActorRequirements& requirements,
                                       std::string_view global_name);
  void AddWakeup(Cell* cell, absl::Duration delay, std::string_view payload);
  void SetDeadLetterHandlerFromActor(Cell* cell, bool enable);
  // Makes a member of the pool managed by `manager` (no pooling, no name).
  absl::StatusOr<ActorRef> CreatePoolMember(Cell* manager, const ActorClass* member_class);

 private:
  friend class Turn;
  struct ClassTable;

  // Holds the cluster for one call into it: SetCluster waits until the
  // ClusterUses under way have ended. get() is nullptr without a cluster.
  class ClusterUse {
   public:
    // `local`: the local members instead of the cluster.
    explicit ClusterUse(const ActorSystem* system, bool local = false)
        : calls_(local ? system->local_member_calls_ : system->cluster_calls_) {
      calls_.fetch_add(1, std::memory_order_seq_cst);
      cluster_ = (local ? system->local_members_ : system->cluster_)
                     .load(std::memory_order_seq_cst);
    }
    ~ClusterUse() { calls_.fetch_sub(1, std::memory_order_release); }
    ClusterUse(const ClusterUse&) = delete;
    ClusterUse& operator=(const ClusterUse&) = delete;
    Cluster* get() const { return cluster_; }
    Cluster* operator->() const { return cluster_; }

   private:
    std::atomic<uint64_t>& calls_;
    Cluster* cluster_;
  };

  absl::StatusOr<ActorRef> ParseAddressInternal(std::string_view text, bool from_outside);
  // A handle of this node's `id` that is not live: its messages are dead letters.
  ActorRef DeadHandle(uint64_t id);
  // Remote addresses (remote.cc); `node` may be this node's name for an id
  // outside this system's range (then it needs local members).
  absl::StatusOr<ActorRef> ParseRemoteAddress(std::string_view text, std::string_view node,
                                              uint64_t id);
  ActorRef CanonicalRemoteCell(std::string_view node, uint64_t remote_id);
  // SetCluster and SetLocalMembers.
  void SwapCluster(std::atomic<Cluster*>& slot, std::atomic<uint64_t>& calls, Cluster* cluster);
  // DeliverFromRemote for an id of this node outside this system's range:
  // sent on to the local member that serves it.
  absl::Status PassToLocalMember(uint64_t id, std::string_view from_address,
                                 std::string_view type, std::string_view payload);
  // Delivers a message that came from elsewhere to the remote cell `target`
  // (which sends it on).
  absl::Status SendOnFromRemote(const ActorRef& target, std::string_view from_address,
                                std::string_view type, std::string_view payload);
  // A new remote cell standing for `identity` (one reference, the caller's),
  // with the registry's mutex held (it takes the next remote-cell id).
  Cell* NewRemoteCellLocked(std::unique_ptr<RemoteIdentity> identity);
  void ForwardToNode(Cell* target, Message message);
  // Children placed on other daemons (placement.cc).
  absl::StatusOr<ActorRef> PlaceChild(Cell* parent, const ActorClass* actor_class,
                                      const ActorRequirements& requirements,
                                      std::string_view global_name,
                                      const absl::Status& local_problem);
  ActorRef NewPendingCell();
  // The pending cell printed as troupe://<this node>/<id>, or null.
  ActorRef PendingCellByAlias(uint64_t id);
  // Undoes the adoption of a child whose placement never started.
  void Disown(Cell* parent, Cell* child);
  // Keeps `message` for a child still being placed (true), or sends it to
  // the dead-letter path when its placement failed (true); false once placed.
  bool KeepUntilPlaced(Cell* target, Message& message);
  void Placed(Cell* child, absl::StatusOr<std::string> address);
  void PlacementFailed(Cell* child, const absl::Status& why);
  // A send of the running turn found `node`'s outbox over its bound (a no-op
  // outside turns): the turn parks its actor after the current message.
  static void NoteOutboxFull(std::string_view node);
  // Hands `cell` to the transport to be scheduled again once `node`'s outbox
  // has room; false when it has room already (the turn goes on).
  bool ParkUntilRoom(Cell* cell, const std::string& node);
  absl::Status SetSenderFromRemote(Message& message, std::string_view from_address);
  static std::shared_ptr<RemoteRegistry> NewRemoteRegistry();
  static std::shared_ptr<RemoteSenderCache> NewRemoteSenderCache();
  absl::StatusOr<ActorRef> CreateInternal(const ActorClass* actor_class, Cell* parent,
                                          const ActorRequirements& requirements,
                                          std::string_view global_name, uint64_t id = 0);
  // CreateOptions::id's checks.
  absl::Status CheckAssignedId(uint64_t id) const;
  // True for an actor that may hold a global name: a live actor of this
  // system, or an actor of a local member whose exit was not noticed.
  bool CanHoldName(const Cell* cell) const;
  // Drops every name bound to `cell` (an actor of a local member that is
  // gone) and tells the cluster.
  void ReleaseNamesOf(Cell* cell);
  const ActorClass* FindClass(std::string_view name, const void* library) const;
  // Counts one more actor of `library` (nullptr: not a registered library,
  // nothing to count). False when the library was unregistered: its code may
  // be gone, so no actor of it may start.
  bool HoldLibrary(const void* library);
  // Undoes HoldLibrary, once the actor's instance is destroyed.
  void ReleaseLibrary(const void* library);
  // Runs one turn; true when the cell has messages left after its quota.
  bool RunTurn(Cell* cell);
  void DeadLetter(Cell* target, Message message);
  void SendPoison(Cell* from, Message original, std::string_view error);
  void Finalize(Cell* cell, std::string_view reason);
  void Register(Cell* cell);
  void Unregister(Cell* cell);
  // Capabilities (capabilities.cc). FitsHere: the creation check (the
  // requirements' conditions, then the class's check with their text);
  // NoteRequirements keeps non-empty requirements on the new cell.
  absl::Status FitsHere(const ActorClass* actor_class, const ActorRequirements& requirements);
  static void NoteRequirements(Cell* cell, const ActorRequirements& requirements);
  absl::StatusOr<bool> ChangeCapability(std::string_view name, std::string_view value_json,
                                        bool read_only);
  void RecheckActors(const std::string& capabilities_json);
  // Convention subscriptions (convention_events.cc): ends `cell`'s as it exits.
  void ForgetConventionSubscriber(Cell* cell);
  void TimerLoop();
  // The class of native actors named `class_name` (made on first use).
  const ActorClass* NativeClassNamed(std::string_view class_name);
  // Queues a timer entry and wakes the timer thread when it is the earliest.
  void AddTimer(absl::Time at, Cell* cell, Message message);
  // Reply slots (reply_slots.cc): the slot's handler gets `result` unless the
  // slot was closed; AnswerReplySlot hands a closed slot's mail to DeadLetter.
  void AnswerReplySlot(Cell* slot, Message message);
  // `deadline_queued`: the slot's timer entry has not fired yet.
  void EndReplySlot(Cell* slot, absl::StatusOr<Message> result, bool deadline_queued);
  void FinishReplySlot(Cell* slot, bool deadline_queued);
  uint64_t NextId() { return next_id_.fetch_add(1, std::memory_order_relaxed); }
  // The end of the ids NextId hands out (the assigned range starts there).
  uint64_t HandedOutIdLimit() const {
    return options_.assigned_ids_from != 0 ? options_.assigned_ids_from : options_.actor_id_limit;
  }
  // True when messages to `node`'s remote cells go to the local members.
  bool IsThisNode(std::string_view node) const { return node == options_.node_name; }
  // NodeLost and LocalMemberLost: the remote cells of `node` whose id is in
  // [first, limit).
  void LoseRemoteCells(std::string_view node, uint64_t first, uint64_t limit,
                       std::string_view reason);

  SystemOptions options_;
  Clock* clock_;
  std::unique_ptr<Executor> executor_;
  // Set when options_.watch_handlers; read by Turn.
  const std::unique_ptr<HandlerWatch> handler_watch_ =
      options_.watch_handlers ? std::make_unique<HandlerWatch>() : nullptr;
  DeterministicExecutor* deterministic_ = nullptr;  // == executor_ when deterministic
  Timers timers_;
  ActorLogs actor_logs_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> shut_down_{false};


  std::unique_ptr<ClassTable> classes_;
  std::vector<std::unique_ptr<ActorClass>> owned_classes_;  // guarded by ClassTable's mutex

  static constexpr int kShards = 16;
  struct Shard {
    mutable troupe::Mutex mu;
    absl::flat_hash_map<uint64_t, Cell*> cells ABSL_GUARDED_BY(mu);  // live, not retained
  };
  Shard shards_[kShards];
  Shard& ShardFor(uint64_t id) { return shards_[id % kShards]; }
  const Shard& ShardFor(uint64_t id) const { return shards_[id % kShards]; }

  // Shared by TellByName for its lookup and delivery, exclusive in
  // BindGlobalName: see TellByName.
  std::shared_mutex name_switch_mu_;
  mutable troupe::Mutex names_mu_;
  absl::flat_hash_map<std::string, Cell*> names_ ABSL_GUARDED_BY(names_mu_);  // retained

  mutable troupe::Mutex dead_letter_mu_;
  Cell* dead_letter_handler_ ABSL_GUARDED_BY(dead_letter_mu_) = nullptr;  // retained

  // Capabilities (capabilities.cc). caps_change_mu_ is held across one change
  // and what follows it (observer, re-checks), so those go out in order.
  troupe::Mutex caps_change_mu_;
  mutable troupe::Mutex caps_mu_;
  std::vector<std::pair<std::string, std::string>> capabilities_ ABSL_GUARDED_BY(caps_mu_);
  std::vector<std::string> read_only_capabilities_ ABSL_GUARDED_BY(caps_mu_);

  // Convention subscribers (convention_events.cc). A subscription is
  // `pending` while its snapshot is being taken: updates wait in `held`.
  struct ConventionSubscription {
    ActorRef actor;
    bool pending = false;
    std::vector<Message> held;
  };
  troupe::Mutex convention_mu_;  // before any cell's children_mu_
  absl::flat_hash_map<Cell*, ConventionSubscription> convention_subscribers_
      ABSL_GUARDED_BY(convention_mu_);

  std::atomic<uint64_t> live_actors_{0};
  std::atomic<uint64_t> dead_letters_{0};
  std::atomic<uint64_t> poison_messages_{0};
  std::atomic<uint64_t> handler_failures_{0};
  troupe::Mutex live_mu_;  // with live_cv_: Shutdown waits for live_actors_ == 0
  troupe::CondVar live_cv_;

  // Remote addresses (remote.cc). Shared with the remote cells, which may
  // outlive the system.
  std::shared_ptr<RemoteRegistry> remote_registry_ = NewRemoteRegistry();
  std::shared_ptr<RemoteSenderCache> remote_senders_ = NewRemoteSenderCache();
  // The cluster, and the calls into it under way (ClusterUse; SetCluster
  // waits for them).
  std::atomic<Cluster*> cluster_{nullptr};
  std::atomic<Cluster*> local_members_{nullptr};
  mutable std::atomic<uint64_t> cluster_calls_{0};
  mutable std::atomic<uint64_t> local_member_calls_{0};
  std::atomic<uint64_t> parked_actors_{0};  // waiting for an outbox to drain
  // SendFromCode past its first send to a target (send_batch.cc).
  void BatchSend(Cell* self, Cell* target, Message message);

  troupe::Mutex timer_mu_;
  troupe::CondVar timer_cv_;
  bool timer_stop_ ABSL_GUARDED_BY(timer_mu_) = false;
  std::thread timer_thread_;
};

inline void ActorSystem::SendFromCode(Cell* self, Cell* target, Message message) {
  if (self->batch_count_ == 0 && self->last_send_target_ != target) [[likely]] {
    self->last_send_target_ = target;
    Deliver(target, std::move(message));
    return;
  }
  BatchSend(self, target, std::move(message));
}

inline void Cell::FlushBatchedSends() {
  if (batch_count_ != 0) system_->FlushSendBatch(this);
}

inline void Cell::EndCodeCall() {
  last_send_target_ = nullptr;
  FlushBatchedSends();
}

}  // namespace troupe::runtime
