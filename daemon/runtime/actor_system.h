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
#include "daemon/runtime/actor_ref.h"
#include "daemon/runtime/envelope.h"
#include "daemon/runtime/executor.h"
#include "daemon/runtime/timers.h"
#include "troupe/abi.h"

namespace troupe::runtime {

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
};

struct CreateOptions {
  std::string requirements_json;  // empty: no requirements
  std::string global_name;        // empty: unnamed
  ActorRef parent;                // null: a top-level actor
  // When set, the class must come from this library (a table registered with
  // RegisterLibrary): how one version of a bundle is chosen over another.
  const troupe_plugin_v1_t* library = nullptr;
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
  std::string dead_letter_handler;  // empty when none
  std::vector<std::string> global_names;
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
  // for lookups from outside that library.
  absl::Status RegisterLibrary(const troupe_plugin_v1_t* plugin);
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
  // for an unknown class; FailedPrecondition when the class's capability
  // check refuses this node; Unavailable after Shutdown.
  absl::StatusOr<ActorRef> CreateActor(std::string_view class_name,
                                       const CreateOptions& options = {});
  // Creates an actor whose handler is `handler` (runs on workers, one message
  // at a time, like any actor).
  ActorRef SpawnNative(NativeHandler handler, std::string_view class_name = "native");

  // Delivers `message` to `target` (dead letter if it has exited).
  // `sender` may be null. InvalidArgument for a null target.
  absl::Status Tell(const ActorRef& target, Message message, const ActorRef& sender = {});
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

  // Makes `global_name` refer to `actor` from now on, replacing the actor that
  // held it (which keeps running, unnamed). Unlike a name given at creation,
  // the actor stays a child of its parent. The name is released when the
  // actor exits. How the daemon moves a bundle's names to its new version.
  // FailedPrecondition when the actor has exited.
  absl::Status BindGlobalName(std::string_view global_name, const ActorRef& actor);

  // One dead-letter handler per system; the last registration wins and a
  // null handler clears it. FailedPrecondition for an actor that is not live.
  absl::Status SetDeadLetterHandler(const ActorRef& handler);

  // This node's capabilities as a JSON object text.
  std::string CapabilitiesJson() const;
  // Sets (non-empty JSON value) or removes (empty) one capability.
  absl::Status UpdateCapability(std::string_view name, std::string_view value_json);

  SystemStatus GetStatus() const;
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
  const SystemOptions& options() const { return options_; }

  // ---- Used by the host table and by pools; not for daemon code. ----
  // Sends from inside an actor turn (counts, dead-letters, unblocks).
  void Deliver(Cell* target, Message message);
  absl::StatusOr<ActorRef> CreateChild(Cell* parent, std::string_view class_name,
                                       std::string_view requirements_json,
                                       std::string_view global_name);
  void AddWakeup(Cell* cell, absl::Duration delay, std::string_view payload);
  void SetDeadLetterHandlerFromActor(Cell* cell, bool enable);
  // Makes a member of the pool managed by `manager` (no pooling, no name).
  absl::StatusOr<ActorRef> CreatePoolMember(Cell* manager, const ActorClass* member_class);

 private:
  friend class Turn;
  struct ClassTable;

  absl::StatusOr<ActorRef> ParseAddressInternal(std::string_view text, bool from_outside);
  absl::StatusOr<ActorRef> CreateInternal(const ActorClass* actor_class, Cell* parent,
                                          std::string_view requirements_json,
                                          std::string_view global_name);
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
  void TimerLoop();
  uint64_t NextId() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  SystemOptions options_;
  Clock* clock_;
  std::unique_ptr<Executor> executor_;
  DeterministicExecutor* deterministic_ = nullptr;  // == executor_ when deterministic
  Timers timers_;
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

  mutable troupe::Mutex caps_mu_;
  std::vector<std::pair<std::string, std::string>> capabilities_ ABSL_GUARDED_BY(caps_mu_);

  std::atomic<uint64_t> live_actors_{0};
  std::atomic<uint64_t> dead_letters_{0};
  std::atomic<uint64_t> poison_messages_{0};
  std::atomic<uint64_t> handler_failures_{0};
  troupe::Mutex live_mu_;  // with live_cv_: Shutdown waits for live_actors_ == 0
  troupe::CondVar live_cv_;

  troupe::Mutex timer_mu_;
  troupe::CondVar timer_cv_;
  bool timer_stop_ ABSL_GUARDED_BY(timer_mu_) = false;
  std::thread timer_thread_;
};

}  // namespace troupe::runtime
