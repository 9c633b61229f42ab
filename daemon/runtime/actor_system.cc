#include "daemon/runtime/actor_system.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_join.h"
#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/cluster.h"
#include "daemon/runtime/pool.h"
#include "troupe/json.h"
#include "troupe/wire.h"

namespace troupe::runtime {
namespace {

// The class of actors spawned with a C++ handler: the instance is the
// handler itself, set before the first turn.
class NativeClass final : public ActorClass {
 public:
  explicit NativeClass(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  absl::StatusOr<void*> Create(Cell*) const override {
    return absl::InternalError("native actors are made by SpawnNative");
  }
  absl::Status Receive(void* instance, Cell* cell, Message& message) const override {
    (*static_cast<NativeHandler*>(instance))(cell, message);
    return absl::OkStatus();
  }
  void Destroy(void* instance) const override { delete static_cast<NativeHandler*>(instance); }

 private:
  std::string name_;
};

const char* StateName(CellState s) {
  switch (s) {
    case CellState::kNew:
      return "starting";
    case CellState::kRunning:
      return "running";
    case CellState::kExiting:
      return "exiting";
    case CellState::kExited:
      return "exited";
    case CellState::kTombstone:
      return "exited";
    case CellState::kRemote:
      return "remote";
  }
  return "unknown";
}

// Actor ids stay below this, so skipping ahead past a parsed id cannot
// exhaust the id space.
constexpr uint64_t kMaxActorId = uint64_t{1} << 62;

// Starting or running: may still take work, children and names.
bool IsLive(const Cell* cell) {
  CellState s = cell->state();
  return s == CellState::kNew || s == CellState::kRunning;
}

// Thread-local: the system whose actor is running on this thread (for
// address_parse, which has no context argument).
thread_local ActorSystem* current_system = nullptr;

}  // namespace

ActorSystem* CurrentSystemForHost() { return current_system; }

struct ActorSystem::ClassTable {
  mutable troupe::Mutex mu;
  absl::flat_hash_map<std::string, const ActorClass*> by_name ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::pair<const void*, std::string>, const ActorClass*> by_library
      ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<const ActorClass*, std::unique_ptr<PoolManagerClass>> pools
      ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, std::unique_ptr<NativeClass>> natives ABSL_GUARDED_BY(mu);
  // Every library table ever registered: whether it still is, and how many
  // of its actors have not finished exiting (see UnregisterLibrary).
  struct LibraryUse {
    bool registered = false;
    uint64_t live = 0;
  };
  absl::flat_hash_map<const void*, LibraryUse> libraries ABSL_GUARDED_BY(mu);
};

ActorSystem::ActorSystem(SystemOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock::Get()),
      classes_(std::make_unique<ClassTable>()) {
  if (options_.throughput_quota < 1) options_.throughput_quota = 1;
  cluster_.store(options_.cluster, std::memory_order_release);
  if (options_.deterministic) {
    auto executor = std::make_unique<DeterministicExecutor>([this](Cell* c) { return RunTurn(c); });
    deterministic_ = executor.get();
    executor_ = std::move(executor);
  } else {
    int threads = options_.worker_threads > 0
                      ? options_.worker_threads
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    options_.worker_threads = threads;
    executor_ = std::make_unique<ThreadedExecutor>(threads, [this](Cell* c) { return RunTurn(c); });
    timer_thread_ = std::thread([this] { TimerLoop(); });
  }
}

ActorSystem::~ActorSystem() {
  Shutdown();
  troupe::MutexLock lock(&names_mu_);
  for (auto& [name, cell] : names_) cell->Release();
  names_.clear();
}

// ---------------------------------------------------------------------------
// Classes

absl::Status ActorSystem::RegisterLibrary(const troupe_plugin_v1_t* plugin,
                                          std::string_view bundle_hash) {
  if (plugin == nullptr) return absl::InvalidArgumentError("library table is null");
  if (plugin->abi_major != TROUPE_ABI_MAJOR || plugin->abi_minor > TROUPE_ABI_MINOR ||
      plugin->classes == nullptr) {
    return absl::FailedPreconditionError(troupe::StrCat(
        "library table (ABI ", plugin->abi_major, ".", plugin->abi_minor,
        ") is not usable by this host (ABI ", TROUPE_ABI_MAJOR, ".", TROUPE_ABI_MINOR,
        "); open libraries with loader::PluginLibrary, which says why"));
  }
  std::vector<std::unique_ptr<ActorClass>> made;
  for (size_t i = 0; i < plugin->class_count; ++i) {
    const troupe_actor_class_v1_t* c = plugin->classes[i];
    if (c == nullptr || c->struct_size < sizeof(troupe_actor_class_v1_t) || c->name == nullptr ||
        c->create == nullptr || c->destroy == nullptr || c->receive == nullptr) {
      return absl::FailedPreconditionError(
          troupe::StrCat("library '", plugin->library_name == nullptr ? "?" : plugin->library_name,
                         "' has an incomplete description for class #", i));
    }
    made.push_back(std::make_unique<PluginActorClass>(plugin, plugin->classes[i], bundle_hash));
  }
  troupe::MutexLock lock(&classes_->mu);
  for (auto& c : made) {
    auto key = std::make_pair(static_cast<const void*>(plugin), std::string(c->name()));
    if (classes_->by_library.contains(key)) {
      return absl::AlreadyExistsError(troupe::StrCat(
          "library '", plugin->library_name, "' defines actor class '", c->name(), "' twice"));
    }
  }
  for (auto& c : made) {
    classes_->by_library[{plugin, std::string(c->name())}] = c.get();
    classes_->by_name[std::string(c->name())] = c.get();
    owned_classes_.push_back(std::move(c));
  }
  classes_->libraries[plugin].registered = true;
  return absl::OkStatus();
}

absl::Status ActorSystem::UnregisterLibrary(const troupe_plugin_v1_t* plugin) {
  if (plugin == nullptr) return absl::InvalidArgumentError("library table is null");
  troupe::MutexLock lock(&classes_->mu);
  auto use = classes_->libraries.find(plugin);
  const char* library_name = plugin->library_name == nullptr ? "?" : plugin->library_name;
  if (use == classes_->libraries.end() || !use->second.registered) {
    return absl::NotFoundError(
        troupe::StrCat("library '", library_name, "' is not registered with this actor system"));
  }
  if (use->second.live > 0) {
    return absl::FailedPreconditionError(
        troupe::StrCat("library '", library_name, "' still has ", use->second.live,
                       " actors that have not exited; ask them to exit first"));
  }
  use->second.registered = false;
  // Forget its classes. The ActorClass objects stay (owned_classes_): exited
  // cells still point at them.
  absl::flat_hash_set<std::string> names;
  for (auto it = classes_->by_library.begin(); it != classes_->by_library.end();) {
    auto next = std::next(it);
    if (it->first.first == plugin) {
      names.insert(it->first.second);
      classes_->by_library.erase(it);
    }
    it = next;
  }
  // A name it shadowed goes back to the latest registration still present.
  for (const std::string& name : names) {
    auto by_name = classes_->by_name.find(name);
    if (by_name == classes_->by_name.end() || by_name->second->library() != plugin) continue;
    const ActorClass* previous = nullptr;
    for (auto it = owned_classes_.rbegin(); it != owned_classes_.rend() && previous == nullptr;
         ++it) {
      if ((*it)->name() != name) continue;
      auto key = std::make_pair((*it)->library(), name);
      auto registered = classes_->by_library.find(key);
      if (registered != classes_->by_library.end() && registered->second == it->get()) {
        previous = it->get();
      }
    }
    if (previous != nullptr) {
      by_name->second = previous;
    } else {
      classes_->by_name.erase(by_name);
    }
  }
  return absl::OkStatus();
}

std::vector<ActorRef> ActorSystem::LiveActorsOfLibrary(const troupe_plugin_v1_t* plugin) const {
  std::vector<ActorRef> out;
  if (plugin == nullptr) return out;
  for (const Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) {
      if (cell->class_ != nullptr && cell->class_->library() == plugin && IsLive(cell)) {
        out.push_back(ActorRef::Share(cell));
      }
    }
  }
  return out;
}

bool ActorSystem::HoldLibrary(const void* library) {
  if (library == nullptr) return true;
  troupe::MutexLock lock(&classes_->mu);
  auto use = classes_->libraries.find(library);
  if (use == classes_->libraries.end()) return true;  // a C++ class naming no table
  if (!use->second.registered) return false;
  ++use->second.live;
  return true;
}

void ActorSystem::ReleaseLibrary(const void* library) {
  if (library == nullptr) return;
  troupe::MutexLock lock(&classes_->mu);
  auto use = classes_->libraries.find(library);
  if (use != classes_->libraries.end() && use->second.live > 0) --use->second.live;
}

absl::Status ActorSystem::RegisterClass(std::unique_ptr<ActorClass> actor_class) {
  troupe::MutexLock lock(&classes_->mu);
  auto key = std::make_pair(actor_class->library(), std::string(actor_class->name()));
  if (classes_->by_library.contains(key)) {
    return absl::AlreadyExistsError(
        troupe::StrCat("actor class '", actor_class->name(), "' is already registered"));
  }
  classes_->by_library[key] = actor_class.get();
  classes_->by_name[std::string(actor_class->name())] = actor_class.get();
  owned_classes_.push_back(std::move(actor_class));
  return absl::OkStatus();
}

const ActorClass* ActorSystem::FindClass(std::string_view name, const void* library) const {
  troupe::MutexLock lock(&classes_->mu);
  if (library != nullptr) {
    auto it = classes_->by_library.find(std::make_pair(library, std::string(name)));
    if (it != classes_->by_library.end()) return it->second;
  }
  auto it = classes_->by_name.find(std::string(name));
  return it == classes_->by_name.end() ? nullptr : it->second;
}

// ---------------------------------------------------------------------------
// Creation

absl::StatusOr<ActorRef> ActorSystem::CreateActor(std::string_view class_name,
                                                  const CreateOptions& options) {
  const ActorClass* actor_class = nullptr;
  if (options.library != nullptr) {
    troupe::MutexLock lock(&classes_->mu);
    auto it = classes_->by_library.find(
        std::make_pair(static_cast<const void*>(options.library), std::string(class_name)));
    if (it == classes_->by_library.end()) {
      return absl::NotFoundError(troupe::StrCat(
          "library '",
          options.library->library_name == nullptr ? "?" : options.library->library_name,
          "' has no registered actor class named '", class_name, "'"));
    }
    actor_class = it->second;
  } else {
    actor_class = FindClass(class_name, nullptr);
  }
  if (actor_class == nullptr) {
    return absl::NotFoundError(
        troupe::StrCat("no actor class named '", class_name,
                       "' is registered (load the library that defines it)"));
  }
  return CreateInternal(actor_class, options.parent.get(), options.requirements_json,
                        options.global_name);
}

absl::StatusOr<ActorRef> ActorSystem::CreateChild(Cell* parent, std::string_view class_name,
                                                  std::string_view requirements_json,
                                                  std::string_view global_name) {
  const void* library =
      parent->actor_class() != nullptr ? parent->actor_class()->library() : nullptr;
  const ActorClass* actor_class = FindClass(class_name, library);
  if (actor_class == nullptr) {
    return absl::NotFoundError(
        troupe::StrCat("no actor class named '", class_name,
                       "' is registered (load the library that defines it)"));
  }
  absl::StatusOr<ActorRef> child =
      CreateInternal(actor_class, parent, requirements_json, global_name);
  if (child.ok() || child.status().code() != absl::StatusCode::kFailedPrecondition ||
      parent->state() != CellState::kRunning) {
    return child;
  }
  // Another daemon may fit it: the cluster places it (placement.cc).
  return PlaceChild(parent, actor_class, requirements_json, global_name, child.status());
}

absl::StatusOr<ActorRef> ActorSystem::CreateInternal(const ActorClass* actor_class, Cell* parent,
                                                     std::string_view requirements_json,
                                                     std::string_view global_name) {
  if (shutting_down_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("the actor system is shutting down");
  }
  // Held from here (the capability check already runs library code) until
  // the cell is finalized; released on every early return.
  const void* library = actor_class->library();
  if (!HoldLibrary(library)) {
    return absl::NotFoundError(troupe::StrCat("actor class '", actor_class->name(),
                                              "' belongs to a library that was unloaded"));
  }
  if (!requirements_json.empty() && !json::IsValid(requirements_json)) {
    ReleaseLibrary(library);
    return absl::InvalidArgumentError(
        troupe::StrCat("requirements for '", actor_class->name(), "' are not valid JSON"));
  }
  if (absl::Status fits = FitsHere(actor_class, requirements_json); !fits.ok()) {
    ReleaseLibrary(library);  // capabilities.cc: requirements, then the class's check
    return fits;
  }
  if (actor_class->pool_max_count() > 1) {
    troupe::MutexLock lock(&classes_->mu);
    auto& pool = classes_->pools[actor_class];
    if (pool == nullptr) pool = std::make_unique<PoolManagerClass>(actor_class);
    actor_class = pool.get();
  }

  auto make_cell = [&]() {
    auto* cell = new Cell(this, NextId(), actor_class, parent);  // the self reference
    NoteRequirements(cell, requirements_json);  // re-checked after capability changes
    live_actors_.fetch_add(1, std::memory_order_relaxed);
    return cell;
  };

  Cell* cell = nullptr;
  if (!global_name.empty()) {
    troupe::MutexLock lock(&names_mu_);
    auto it = names_.find(ToAbsl(global_name));
    if (it != names_.end() && IsLive(it->second)) {
      ReleaseLibrary(library);  // no cell made
      return ActorRef::Share(it->second);
    }
    cell = make_cell();
    cell->global_name_ = std::make_unique<std::string>(global_name);
    cell->in_parent_children_ = false;  // named actors outlive their creator
    cell->Retain();
    if (it != names_.end()) {
      it->second->Release();
      it->second = cell;
    } else {
      names_.emplace(std::string(global_name), cell);
    }
  } else {
    cell = make_cell();
  }
  // A remote parent (an actor of another daemon) keeps its children list
  // there: its daemon adopts this one (AdoptRemoteChild).
  if (parent != nullptr && cell->in_parent_children_ && parent->state() != CellState::kRemote) {
    troupe::MutexLock lock(&parent->children_mu_);
    if (!IsLive(parent)) {
      // Nobody else has seen the cell yet: undo it. (Named cells are never
      // children, so the names table does not hold this one.)
      live_actors_.fetch_sub(1, std::memory_order_relaxed);
      cell->state_.store(CellState::kExited, std::memory_order_release);
      cell->notify_parent_ = false;
      cell->Release();
      ReleaseLibrary(library);
      return absl::FailedPreconditionError(
          troupe::StrCat("parent ", FormatAddress(parent), " has exited or is exiting"));
    }
    cell->Retain();
    parent->children_.insert(cell);
  }
  Register(cell);
  ActorRef ref = ActorRef::Share(cell);
  executor_->Schedule(cell);  // the first turn makes the instance
  return ref;
}

absl::StatusOr<ActorRef> ActorSystem::CreatePoolMember(Cell* manager,
                                                       const ActorClass* member_class) {
  if (shutting_down_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("the actor system is shutting down");
  }
  if (!HoldLibrary(member_class->library())) {
    return absl::NotFoundError(troupe::StrCat("actor class '", member_class->name(),
                                              "' belongs to a library that was unloaded"));
  }
  auto* cell = new Cell(this, NextId(), member_class, manager);
  live_actors_.fetch_add(1, std::memory_order_relaxed);
  manager->Retain();
  cell->pool_manager_ = manager;
  Register(cell);
  {
    troupe::MutexLock lock(&manager->children_mu_);
    cell->Retain();
    manager->children_.insert(cell);
  }
  ActorRef ref = ActorRef::Share(cell);
  executor_->Schedule(cell);
  return ref;
}

ActorRef ActorSystem::SpawnNative(NativeHandler handler, std::string_view class_name) {
  const ActorClass* actor_class;
  {
    troupe::MutexLock lock(&classes_->mu);
    auto& native = classes_->natives[std::string(class_name)];
    if (native == nullptr) native = std::make_unique<NativeClass>(std::string(class_name));
    actor_class = native.get();
  }
  auto* cell = new Cell(this, NextId(), actor_class, nullptr);
  live_actors_.fetch_add(1, std::memory_order_relaxed);
  cell->instance_ = new NativeHandler(std::move(handler));
  cell->state_.store(CellState::kRunning, std::memory_order_release);
  Register(cell);
  ActorRef ref = ActorRef::Share(cell);
  // Nothing to run yet: block the mailbox so the first message schedules it.
  if (!cell->mailbox_.TryBlock()) executor_->Schedule(cell);
  return ref;
}

void ActorSystem::Register(Cell* cell) {
  Shard& shard = ShardFor(cell->id());
  troupe::MutexLock lock(&shard.mu);
  shard.cells.emplace(cell->id(), cell);
}

void ActorSystem::Unregister(Cell* cell) {
  {
    Shard& shard = ShardFor(cell->id());
    troupe::MutexLock lock(&shard.mu);
    shard.cells.erase(cell->id());
  }
  std::vector<std::string> released;  // for Cluster::NameReleased
  if (cell->global_name_ != nullptr) {
    released.push_back(*cell->global_name_);
    troupe::MutexLock lock(&names_mu_);
    auto it = names_.find(*cell->global_name_);
    if (it != names_.end() && it->second == cell) {
      names_.erase(it);
      cell->Release();
    }
  }
  if (cell->has_bound_names_.load(std::memory_order_relaxed)) {  // see BindGlobalName
    troupe::MutexLock lock(&names_mu_);
    for (auto it = names_.begin(); it != names_.end();) {
      auto next = std::next(it);
      if (it->second == cell) {
        if (cell->global_name_ == nullptr || *cell->global_name_ != it->first) {
          released.push_back(it->first);
        }
        cell->Release();
        names_.erase(it);
      }
      it = next;
    }
  }
  if (!released.empty()) {
    ClusterUse cluster(this);
    if (cluster.get() != nullptr) {
      const std::string address = FormatAddress(cell);
      for (const std::string& name : released) cluster->NameReleased(name, address);
    }
  }
  troupe::MutexLock lock(&dead_letter_mu_);
  if (dead_letter_handler_ == cell) {
    dead_letter_handler_ = nullptr;
    cell->Release();
  }
}

// ---------------------------------------------------------------------------
// Sending

absl::Status ActorSystem::Tell(const ActorRef& target, Message message, const ActorRef& sender) {
  if (!target) return absl::InvalidArgumentError("tell needs a target address");
  if (!message) return absl::InvalidArgumentError("tell needs a message");
  if (message.type().empty()) return absl::InvalidArgumentError("message type must not be empty");
  if (IsReservedType(message.type())) {
    return absl::InvalidArgumentError(troupe::StrCat(
        "message type '", message.type(), "' is reserved for the runtime and cannot be sent"));
  }
  if (sender) message.SetSender(sender.get());
  Deliver(target.get(), std::move(message));
  return absl::OkStatus();
}

absl::Status ActorSystem::TellByName(std::string_view global_name, Message message,
                                     const ActorRef& sender) {
  std::shared_lock<std::shared_mutex> switching(name_switch_mu_);
  absl::StatusOr<ActorRef> target = Lookup(global_name);
  if (!target.ok()) return target.status();
  return Tell(*target, std::move(message), sender);
}

void ActorSystem::Deliver(Cell* target, Message message) {
  Envelope* e = message.Release();
  switch (target->mailbox_.Push(e)) {
    case Mailbox::PushResult::kQueued:
      return;
    case Mailbox::PushResult::kQueuedAndUnblocked:
      executor_->Schedule(target);
      return;
    case Mailbox::PushResult::kClosed:
      DeadLetter(target, Message::Adopt(e));
      return;
  }
}

void ActorSystem::DeadLetter(Cell* target, Message message) {
  // A remote cell's mailbox is closed: what reaches it travels (all kinds).
  if (target->state() == CellState::kRemote) {
    ForwardToNode(target, std::move(message));
    return;
  }
  // Runtime bookkeeping for an actor that is gone is neither counted nor
  // handed on: exit notices to an exited parent, pool "ready" reports, and
  // wakeups (which die with their actor).
  if (message.kind() == MessageKind::kChildExited ||
      message.kind() == MessageKind::kPoolMemberReady || message.kind() == MessageKind::kWakeup ||
      message.kind() == MessageKind::kCapabilitiesChanged ||
      message.kind() == MessageKind::kConventionUpdate) {
    return;  // the last two: notices for whoever is live (capabilities.cc)
  }
  dead_letters_.fetch_add(1, std::memory_order_relaxed);
  // A dead DeadEnvelope is counted but not handed on again (no loops).
  if (message.kind() == MessageKind::kDeadEnvelope) return;
  ActorRef handler;
  {
    troupe::MutexLock lock(&dead_letter_mu_);
    handler = ActorRef::Share(dead_letter_handler_);
  }
  if (!handler || handler.get() == target) return;
  std::string payload;
  wire::AppendField(&payload, FormatAddress(target));
  wire::AppendField(&payload, message.type());
  wire::AppendField(&payload, message.payload());
  Deliver(handler.get(), Message::Make(TROUPE_MSG_DEAD_ENVELOPE, payload, message.sender()));
}

void ActorSystem::SendPoison(Cell* from, Message original, std::string_view error) {
  poison_messages_.fetch_add(1, std::memory_order_relaxed);
  Cell* to = original.sender();
  if (to == nullptr) {
    LogWarning("poison message '", original.type(), "' for ", FormatAddress(from),
               " has no sender to return to: ", error);
    return;
  }
  std::string payload;
  wire::AppendField(&payload, original.type());
  wire::AppendField(&payload, original.payload());
  wire::AppendField(&payload, error);
  Deliver(to, Message::Make(TROUPE_MSG_POISON, payload, from));
}

absl::Status ActorSystem::RequestExit(const ActorRef& target, bool recursive) {
  if (!target) return absl::InvalidArgumentError("exit request needs a target address");
  Deliver(target.get(),
          Message::Make(TROUPE_MSG_EXIT_REQUEST, recursive ? "\x01" : std::string_view("\x00", 1)));
  return absl::OkStatus();
}

absl::StatusOr<Message> ActorSystem::Ask(const ActorRef& target, Message message,
                                         absl::Duration timeout) {
  if (!target) return absl::InvalidArgumentError("ask needs a target address");
  if (!message || message.type().empty()) {
    return absl::InvalidArgumentError("ask needs a message with a type");
  }
  if (IsReservedType(message.type())) {
    return absl::InvalidArgumentError(troupe::StrCat(
        "message type '", message.type(), "' is reserved for the runtime and cannot be sent"));
  }
  struct Pending {
    troupe::Mutex mu;
    troupe::CondVar cv;
    bool done ABSL_GUARDED_BY(mu) = false;
    Message reply ABSL_GUARDED_BY(mu);
  };
  auto pending = std::make_shared<Pending>();
  ActorRef reply_to = SpawnNative(
      [pending](Cell*, Message& m) {
        troupe::MutexLock lock(&pending->mu);
        if (!pending->done) {
          pending->done = true;
          pending->reply = std::move(m);
          pending->cv.Signal();
        }
      },
      "ask");
  message.SetSender(reply_to.get());
  Deliver(target.get(), std::move(message));

  bool done = false;
  if (deterministic_ != nullptr) {
    for (;;) {
      {
        troupe::MutexLock lock(&pending->mu);
        if (pending->done) break;
      }
      if (!RunOne()) break;
    }
    troupe::MutexLock lock(&pending->mu);
    done = pending->done;
  } else {
    absl::Time deadline = absl::Now() + timeout;
    troupe::MutexLock lock(&pending->mu);
    while (!pending->done && !pending->cv.WaitWithDeadline(&pending->mu, deadline)) {
    }
    done = pending->done;
  }
  (void)RequestExit(reply_to);
  if (deterministic_ != nullptr) RunUntilIdle();
  if (!done) {
    return absl::DeadlineExceededError(troupe::StrCat("no reply from ", FormatAddress(target.get()),
                                                      " within ", absl::FormatDuration(timeout)));
  }
  troupe::MutexLock lock(&pending->mu);
  return std::move(pending->reply);
}

// ---------------------------------------------------------------------------
// Turns

namespace {
// Runs `fn` with current_system set, restoring the previous value.
struct CurrentSystemScope {
  explicit CurrentSystemScope(ActorSystem* s) : previous(current_system) { current_system = s; }
  ~CurrentSystemScope() { current_system = previous; }
  ActorSystem* previous;
};

// The first node whose outbox a send of the running turn found over its
// bound (NoteOutboxFull): the turn ends after the message it is handling and
// the actor parks until that outbox drains.
struct OutboxPressure {
  bool full = false;
  std::string node;
};
thread_local OutboxPressure* current_pressure = nullptr;

struct OutboxPressureScope {
  explicit OutboxPressureScope(OutboxPressure* p) : previous(current_pressure) {
    current_pressure = p;
  }
  ~OutboxPressureScope() { current_pressure = previous; }
  OutboxPressure* previous;
};
}  // namespace

void ActorSystem::NoteOutboxFull(std::string_view node) {
  OutboxPressure* pressure = current_pressure;
  if (pressure == nullptr || pressure->full) return;
  pressure->full = true;
  pressure->node.assign(node.data(), node.size());
}

// The per-turn logic, kept together: start, dispatch, failure, exit.
class Turn {
 public:
  Turn(ActorSystem* system, Cell* cell) : system_(system), cell_(cell) {}

  // Makes the instance. False when creation failed (the cell is finalized).
  bool Start() {
    absl::StatusOr<void*> instance = cell_->class_->Create(cell_);
    if (!instance.ok()) {
      std::string reason = troupe::StrCat("actor class '", cell_->class_->name(),
                                          "' failed to start: ", instance.status().message());
      LogWarning(system_->FormatAddress(cell_), ": ", reason);
      create_failed_ = true;
      system_->Finalize(cell_, reason);
      return false;
    }
    cell_->instance_ = *instance;
    cell_->state_.store(CellState::kRunning, std::memory_order_release);
    return true;
  }

  void Dispatch(Message& m) {
    switch (m.kind()) {
      case MessageKind::kSync:
        if (m.sender() != nullptr) {
          system_->Deliver(m.sender(), Message::Make(kSyncReplyType, m.payload(), cell_));
        }
        return;
      case MessageKind::kExitRequest:
        HandleExitRequest(m);
        return;
      case MessageKind::kChildExited:
        if (HandleChildExited(m)) return;
        break;
      default:
        if (cell_->state() == CellState::kExiting) {
          // Thespian drops these silently; we keep them visible.
          system_->DeadLetter(cell_, std::move(m));
          return;
        }
        break;
    }
    const bool pool_work = m.pool_work() && cell_->pool_manager_ != nullptr;
    Receive(m);
    if (cell_->exit_after_turn_ && cell_->state() == CellState::kRunning) BeginExit();
    if (pool_work && cell_->state() == CellState::kRunning) {
      system_->Deliver(cell_->pool_manager_,
                       Message::Make("troupe.internal.PoolMemberReady", "", cell_));
    }
  }

 private:
  // Delivers to the handler: on failure retries once (after a restart when
  // the class asks for it), then returns a PoisonMessage to the sender.
  void Receive(Message& m) {
    absl::Status status = Call(m);
    if (status.ok()) return;
    NoteFailure(m, status, /*will_retry=*/true);
    if (cell_->class_->failure_policy() == TROUPE_FAILURE_RESTART) {
      if (!Restart()) {
        // A PoisonMessage is never answered with another one.
        if (m && m.kind() != MessageKind::kPoison) {
          system_->SendPoison(cell_, std::move(m), "actor could not be restarted");
        }
        return;
      }
    }
    status = Call(m);
    if (status.ok()) return;
    NoteFailure(m, status, /*will_retry=*/false);
    if (!m) return;
    if (m.kind() == MessageKind::kPoison) {
      LogWarning(system_->FormatAddress(cell_), " failed twice on a PoisonMessage; dropping it");
      return;
    }
    system_->SendPoison(cell_, std::move(m), std::string(status.message()));
  }

  absl::Status Call(Message& m) {
    cell_->error_.clear();
    return cell_->class_->Receive(cell_->instance_, cell_, m);
  }

  void NoteFailure(const Message& m, const absl::Status& status, bool will_retry) {
    cell_->failed_.fetch_add(1, std::memory_order_relaxed);
    system_->handler_failures_.fetch_add(1, std::memory_order_relaxed);
    LogWarning(system_->FormatAddress(cell_), " (", cell_->class_->name(), ") failed on '",
               m ? m.type() : std::string_view("?"), "': ", status.message(),
               will_retry ? "; retrying once" : "; returning a PoisonMessage");
  }

  bool Restart() {
    cell_->class_->Destroy(cell_->instance_);
    cell_->instance_ = nullptr;
    absl::StatusOr<void*> instance = cell_->class_->Create(cell_);
    if (!instance.ok()) {
      system_->Finalize(cell_, troupe::StrCat("restart failed: ", instance.status().message()));
      return false;
    }
    cell_->instance_ = *instance;
    return true;
  }

  void HandleExitRequest(Message& m) {
    if (cell_->state() != CellState::kRunning) return;  // already exiting
    cell_->exit_recursive_ = m.payload().empty() || m.payload()[0] != 0;
    absl::Status status = Call(m);  // the handler may clean up; it cannot refuse
    if (!status.ok()) {
      LogWarning(system_->FormatAddress(cell_),
                 " failed handling ActorExitRequest (exiting anyway): ", status.message());
    }
    BeginExit();
  }

  // True when the notice was consumed by the exit protocol.
  bool HandleChildExited(Message& m) {
    Cell* child = m.sender();
    bool was_child = false;
    if (child != nullptr) {
      troupe::MutexLock lock(&cell_->children_mu_);
      was_child = cell_->children_.erase(child) > 0;
    }
    if (was_child) child->Release();
    if (cell_->state() == CellState::kExiting) {
      if (was_child && --cell_->children_awaited_ == 0) system_->Finalize(cell_, "");
      return true;
    }
    return false;
  }

  void BeginExit() {
    if (cell_->state() != CellState::kRunning) return;
    std::vector<Cell*> children;
    {
      // Under the lock that CreateInternal takes to add a child, so no child
      // can be added after this snapshot without seeing kExiting.
      troupe::MutexLock lock(&cell_->children_mu_);
      if (cell_->exit_recursive_ && !cell_->children_.empty()) {
        children.assign(cell_->children_.begin(), cell_->children_.end());
        cell_->state_.store(CellState::kExiting, std::memory_order_release);
      }
    }
    if (children.empty()) {
      system_->Finalize(cell_, "");
      return;
    }
    cell_->children_awaited_ = static_cast<uint32_t>(children.size());
    for (Cell* child : children) {
      // A child that already exited has its notice on the way: just await it.
      if (child->state() == CellState::kExited) continue;
      system_->Deliver(child, Message::Make(TROUPE_MSG_EXIT_REQUEST, "\x01", cell_));
    }
  }

  ActorSystem* system_;
  Cell* cell_;
  bool create_failed_ = false;
};

bool ActorSystem::RunTurn(Cell* cell) {
  CurrentSystemScope scope(this);
  OutboxPressure pressure;
  OutboxPressureScope pressure_scope(&pressure);
  Turn turn(this, cell);
  if (cell->state() == CellState::kNew && !turn.Start()) {
    cell->Release();  // the self reference
    return false;
  }
  // Sender references of handled messages are released in runs: one
  // atomic operation per run of messages from the same sender.
  Cell* held_sender = nullptr;
  int64_t held_count = 0;
  auto release_held = [&] {
    if (held_sender != nullptr) held_sender->ReleaseMany(held_count);
    held_sender = nullptr;
    held_count = 0;
  };
  int quota = deterministic_ != nullptr ? 1 : options_.throughput_quota;
  for (int i = 0; i < quota; ++i) {
    Envelope* e = cell->mailbox_.Pop();
    if (e == nullptr) {
      release_held();
      if (cell->mailbox_.TryBlock()) return false;  // another thread may own the cell now
      continue;
    }
    Message m = Message::Adopt(e);
    turn.Dispatch(m);
    if (m) {
      if (Cell* sender = m.DetachSender(); sender != nullptr) {
        if (sender != held_sender) {
          release_held();
          held_sender = sender;
        }
        ++held_count;
      }
    }
    if (cell->state() == CellState::kExited) {
      release_held();
      cell->Release();  // the self reference
      return false;
    }
    if (pressure.full) {
      // The mailbox stays unblocked, so no sender schedules the actor: the
      // transport does once the outbox drains. The cell may run on another
      // worker as soon as ParkUntilRoom returns true: nothing touches it after.
      release_held();
      if (ParkUntilRoom(cell, pressure.node)) return false;
      pressure.full = false;
    }
  }
  release_held();
  return !cell->mailbox_.TryBlock();
}

void ActorSystem::Finalize(Cell* cell, std::string_view reason) {
  bool create_failed = cell->state() == CellState::kNew;
  // Children still listed (left running by a non-recursive exit) no longer
  // report to this cell; drop the references, or parent and child would keep
  // each other alive forever.
  std::vector<Cell*> children;
  {
    troupe::MutexLock lock(&cell->children_mu_);
    cell->state_.store(CellState::kExited, std::memory_order_release);
    children.assign(cell->children_.begin(), cell->children_.end());
    cell->children_.clear();
  }
  for (Cell* child : children) child->Release();
  Unregister(cell);
  if (cell->convention_subscribed_.load(std::memory_order_relaxed)) {
    ForgetConventionSubscriber(cell);  // set under children_mu_: see convention_events.cc
  }
  if (cell->pending_wakeups() > 0) {
    cell->pending_wakeups_.store(0, std::memory_order_relaxed);
    timers_.RemoveFor(cell);  // pending wakeups die with the actor
  }
  if (cell->instance_ != nullptr) {
    cell->class_->Destroy(cell->instance_);
    cell->instance_ = nullptr;
  }
  ReleaseLibrary(cell->class_->library());  // no more calls into its code
  // Everything still queued: returned as poison when the actor never
  // started (Thespian's "Child Aborted"), dead letters otherwise.
  Envelope* rest = cell->mailbox_.Close();
  while (rest != nullptr) {
    Envelope* next = rest->next;
    Message m = Message::Adopt(rest);
    if (create_failed && m.kind() != MessageKind::kExitRequest &&
        m.kind() != MessageKind::kPoison) {
      SendPoison(cell, std::move(m), reason);
    } else if (m.kind() != MessageKind::kWakeup) {
      DeadLetter(cell, std::move(m));
    }
    rest = next;
  }
  if (cell->notify_parent_ && cell->parent_ != nullptr) {
    cell->notify_parent_ = false;
    std::string payload;
    wire::AppendField(&payload, FormatAddress(cell));
    wire::AppendField(&payload, reason);
    Deliver(cell->parent_, Message::Make(TROUPE_MSG_CHILD_EXITED, payload, cell));
  }
  if (live_actors_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    troupe::MutexLock lock(&live_mu_);
    live_cv_.SignalAll();
  }
}

// ---------------------------------------------------------------------------
// Wakeups

void ActorSystem::AddWakeup(Cell* cell, absl::Duration delay, std::string_view payload) {
  if (delay < absl::ZeroDuration()) delay = absl::ZeroDuration();
  std::string body;
  wire::AppendU64(&body, static_cast<uint64_t>(absl::ToInt64Nanoseconds(delay)));
  body.append(payload);
  cell->pending_wakeups_.fetch_add(1, std::memory_order_relaxed);
  bool earliest =
      timers_.Add(clock_->Now() + delay, cell, Message::Make(TROUPE_MSG_WAKEUP, body, cell));
  if (earliest && deterministic_ == nullptr) {
    troupe::MutexLock lock(&timer_mu_);
    timer_cv_.Signal();
  }
}

void ActorSystem::FireDueTimers() {
  timers_.FireDue(clock_->Now(), [this](Cell* cell, Message m) {
    if (cell->state() != CellState::kExited) {
      cell->pending_wakeups_.fetch_sub(1, std::memory_order_relaxed);
      Deliver(cell, std::move(m));  // an actor exiting meanwhile just drops it
    }
    cell->Release();
  });
}

void ActorSystem::TimerLoop() {
  const bool real_clock = clock_ == RealClock::Get();
  troupe::MutexLock lock(&timer_mu_);
  while (!timer_stop_) {
    absl::Time deadline = timers_.NextDeadline();
    if (deadline <= clock_->Now()) {
      timer_mu_.Unlock();
      FireDueTimers();
      timer_mu_.Lock();
      continue;
    }
    if (real_clock && deadline != absl::InfiniteFuture()) {
      timer_cv_.WaitWithDeadline(&timer_mu_, deadline);
    } else {
      timer_cv_.Wait(&timer_mu_);  // a manual clock moves only by FireDueTimers
    }
  }
}

// ---------------------------------------------------------------------------
// Addresses, names, dead-letter handler, capabilities

std::string ActorSystem::FormatAddress(const Cell* cell) const {
  if (cell == nullptr) return "";
  if (const RemoteIdentity* remote = cell->remote(); remote != nullptr) {
    if (remote->pending != nullptr && !remote->pending->placed.load(std::memory_order_acquire)) {
      return troupe::StrCat("troupe://", options_.node_name, "/", remote->pending->alias_id);
    }
    return troupe::StrCat("troupe://", remote->node, "/", remote->remote_id);
  }
  return troupe::StrCat("troupe://", options_.node_name, "/", cell->id());
}

absl::StatusOr<ActorRef> ActorSystem::ParseAddress(std::string_view text) {
  return ParseAddressInternal(text, /*from_outside=*/false);
}

absl::StatusOr<ActorRef> ActorSystem::ParseExternalAddress(std::string_view text) {
  return ParseAddressInternal(text, /*from_outside=*/true);
}

absl::StatusOr<ActorRef> ActorSystem::ParseAddressInternal(std::string_view text,
                                                           bool from_outside) {
  constexpr std::string_view kScheme = "troupe://";
  if (text.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        troupe::StrCat(Quoted(text), " is not an address (expected troupe://NODE/ID)"));
  }
  std::string_view rest = text.substr(kScheme.size());
  size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError(troupe::StrCat("address ", Quoted(text), " has no actor id"));
  }
  std::string_view node = rest.substr(0, slash);
  std::string_view id_text = rest.substr(slash + 1);
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || end != id_text.data() + id_text.size() || id_text.empty()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("address ", Quoted(text), " has a bad actor id"));
  }
  if (node.empty()) {
    return absl::InvalidArgumentError(troupe::StrCat("address ", Quoted(text), " has no node"));
  }
  if (id == 0 || id >= kMaxActorId) {
    return absl::InvalidArgumentError(
        troupe::StrCat("address ", Quoted(text), " has an actor id out of range"));
  }
  if (node != options_.node_name) return ParseRemoteAddress(text, node, id);
  if (from_outside && id >= next_id_.load(std::memory_order_relaxed)) {
    return absl::NotFoundError(
        troupe::StrCat("no actor at ", text, ": this node has not created it"));
  }
  // An id this node has not handed out yet is never handed out later, so the
  // dead handle below can never compare equal to a future actor.
  for (uint64_t next = next_id_.load(std::memory_order_relaxed); next <= id;) {
    if (next_id_.compare_exchange_weak(next, id + 1, std::memory_order_relaxed)) break;
  }
  {
    const Shard& shard = ShardFor(id);
    troupe::MutexLock lock(&shard.mu);
    auto it = shard.cells.find(id);
    if (it != shard.cells.end() && it->second->state() != CellState::kExited) {
      return ActorRef::Share(it->second);
    }
  }
  if (ActorRef pending = PendingCellByAlias(id)) return pending;
  auto* tombstone = new Cell(this, id, nullptr, nullptr);
  tombstone->state_.store(CellState::kTombstone, std::memory_order_release);
  tombstone->notify_parent_ = false;
  Message::Adopt(tombstone->mailbox_.Close()).Reset();  // nothing queued: Close returns null
  return ActorRef::Adopt(tombstone);
}

absl::StatusOr<ActorRef> ActorSystem::Lookup(std::string_view global_name) {
  troupe::MutexLock lock(&names_mu_);
  auto it = names_.find(ToAbsl(global_name));
  if (it == names_.end() || !IsLive(it->second)) {
    return absl::NotFoundError(troupe::StrCat("no actor is named ", Quoted(global_name)));
  }
  return ActorRef::Share(it->second);
}

absl::Status ActorSystem::BindGlobalName(std::string_view global_name, const ActorRef& actor) {
  if (global_name.empty()) return absl::InvalidArgumentError("a global name cannot be empty");
  if (!actor || actor->state() == CellState::kTombstone ||
      actor->state() == CellState::kRemote) {
    return absl::InvalidArgumentError(
        troupe::StrCat("global name '", global_name, "' needs a live actor of this node"));
  }
  Cell* cell = actor.get();
  std::unique_lock<std::shared_mutex> switching(name_switch_mu_);
  troupe::MutexLock lock(&names_mu_);
  {
    // Finalize marks the cell exited under children_mu_ before Unregister
    // reads the flag: either this sees the exit or Unregister sees the flag.
    troupe::MutexLock cell_lock(&cell->children_mu_);
    if (!IsLive(cell)) {
      return absl::FailedPreconditionError(troupe::StrCat(
          "cannot name ", FormatAddress(cell), " '", global_name, "': the actor has exited"));
    }
    cell->has_bound_names_.store(true, std::memory_order_relaxed);
  }
  cell->Retain();
  auto [it, inserted] = names_.try_emplace(std::string(global_name), cell);
  if (!inserted) {
    it->second->Release();
    it->second = cell;
  }
  return absl::OkStatus();
}

absl::Status ActorSystem::SetDeadLetterHandler(const ActorRef& handler) {
  if (handler && !IsLive(handler.get())) {
    return absl::FailedPreconditionError(troupe::StrCat(
        "dead-letter handler ", FormatAddress(handler.get()), " is not a live actor"));
  }
  Cell* old;
  {
    troupe::MutexLock lock(&dead_letter_mu_);
    old = dead_letter_handler_;
    dead_letter_handler_ = handler.get();
    if (dead_letter_handler_ != nullptr) dead_letter_handler_->Retain();
  }
  if (old != nullptr) old->Release();
  return absl::OkStatus();
}

void ActorSystem::SetDeadLetterHandlerFromActor(Cell* cell, bool enable) {
  Cell* old = nullptr;
  {
    troupe::MutexLock lock(&dead_letter_mu_);
    if (enable) {
      old = dead_letter_handler_;
      dead_letter_handler_ = cell;
      cell->Retain();
    } else if (dead_letter_handler_ == cell) {
      old = cell;
      dead_letter_handler_ = nullptr;
    }
  }
  if (old != nullptr) old->Release();
}

// CapabilitiesJson, UpdateCapability and the rest: capabilities.cc.

// ---------------------------------------------------------------------------
// Introspection

absl::StatusOr<ActorStatus> ActorSystem::GetActorStatus(const ActorRef& actor) const {
  if (!actor) return absl::InvalidArgumentError("status needs an address");
  const Cell* cell = actor.get();
  ActorStatus s;
  s.address = FormatAddress(cell);
  if (cell->state() == CellState::kTombstone) {
    return absl::NotFoundError(troupe::StrCat("no actor at ", s.address));
  }
  if (cell->state() == CellState::kRemote) {
    return absl::NotFoundError(troupe::StrCat(s.address, " is an actor of node '",
                                              cell->remote()->node, "'; ask that daemon"));
  }
  s.class_name = std::string(cell->class_->name());
  if (cell->parent_ != nullptr) s.parent = FormatAddress(cell->parent_);
  if (cell->global_name_ != nullptr) s.global_name = *cell->global_name_;
  s.state = StateName(cell->state());
  {
    troupe::MutexLock lock(&cell->children_mu_);
    for (const Cell* child : cell->children_) {
      if (child->state() != CellState::kExited) s.children.push_back(FormatAddress(child));
    }
  }
  std::sort(s.children.begin(), s.children.end());
  s.mailbox_depth = cell->mailbox_.depth();
  s.received = cell->mailbox_.pushed() - s.mailbox_depth;
  s.sent = cell->sent();
  s.failed = cell->failed();
  s.pending_wakeups = cell->pending_wakeups();
  return s;
}

std::vector<ActorStatus> ActorSystem::ListActors() const {
  std::vector<ActorRef> live;
  for (const Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) live.push_back(ActorRef::Share(cell));
  }
  std::vector<ActorStatus> out;
  for (const ActorRef& ref : live) {
    absl::StatusOr<ActorStatus> s = GetActorStatus(ref);
    if (s.ok() && s->class_name != "ask") out.push_back(*std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const ActorStatus& a, const ActorStatus& b) { return a.address < b.address; });
  return out;
}

uint64_t ActorSystem::QueuedMessages() const {
  uint64_t queued = 0;
  for (const Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) queued += cell->mailbox_.depth();
  }
  return queued;
}

SystemStatus ActorSystem::GetStatus() const {
  SystemStatus s;
  s.live_actors = live_actors_.load(std::memory_order_relaxed);
  s.dead_letters = dead_letters_.load(std::memory_order_relaxed);
  s.poison_messages = poison_messages_.load(std::memory_order_relaxed);
  s.handler_failures = handler_failures_.load(std::memory_order_relaxed);
  s.pending_wakeups = timers_.size();
  s.parked_actors = parked_actors_.load(std::memory_order_relaxed);
  {
    troupe::MutexLock lock(&dead_letter_mu_);
    s.dead_letter_handler = FormatAddress(dead_letter_handler_);
  }
  troupe::MutexLock lock(&names_mu_);
  for (const auto& [name, cell] : names_) s.global_names.push_back(name);
  std::sort(s.global_names.begin(), s.global_names.end());
  return s;
}

// ---------------------------------------------------------------------------
// Stepping and shutdown

bool ActorSystem::RunOne() {
  if (deterministic_ == nullptr) {
    LogError("RunOne called on a threaded actor system");
    std::abort();
  }
  return deterministic_->RunOne();
}

size_t ActorSystem::RunUntilIdle() {
  size_t turns = 0;
  while (RunOne()) ++turns;
  return turns;
}

void ActorSystem::AdvanceClock(absl::Duration d) {
  auto* manual = dynamic_cast<ManualClock*>(clock_);
  if (manual == nullptr) {
    LogError("AdvanceClock needs a ManualClock");
    std::abort();
  }
  manual->Advance(d);
  FireDueTimers();
}

void ActorSystem::Shutdown(absl::Duration drain) {
  if (shut_down_.exchange(true)) return;
  shutting_down_.store(true, std::memory_order_release);
  // Ask every root to exit; children follow recursively. Roots are
  // top-level and named actors, and children whose parent exited without
  // taking them along. Rescanned until nothing is left, since a create that
  // passed its shutdown check just before the first scan may land after it.
  absl::flat_hash_set<uint64_t> asked;
  auto ask_roots = [&]() {
    std::vector<ActorRef> roots;
    for (Shard& shard : shards_) {
      troupe::MutexLock lock(&shard.mu);
      for (const auto& [id, cell] : shard.cells) {
        const Cell* parent = cell->parent_;
        bool root = parent == nullptr || cell->global_name_ != nullptr ||
                    parent->state() == CellState::kExited ||
                    parent->state() == CellState::kTombstone ||
                    parent->state() == CellState::kRemote;
        if (root && asked.insert(id).second) roots.push_back(ActorRef::Share(cell));
      }
    }
    for (const ActorRef& ref : roots) (void)RequestExit(ref);
    return !roots.empty();
  };
  if (deterministic_ != nullptr) {
    while (ask_roots()) RunUntilIdle();
  } else {
    const absl::Time deadline = absl::Now() + drain;
    ask_roots();
    troupe::MutexLock lock(&live_mu_);
    while (live_actors_.load() > 0 && absl::Now() < deadline) {
      live_cv_.WaitWithDeadline(&live_mu_,
                                std::min(deadline, absl::Now() + absl::Milliseconds(100)));
      if (live_actors_.load() == 0) break;
      live_mu_.Unlock();
      ask_roots();
      live_mu_.Lock();
    }
  }
  if (deterministic_ == nullptr) {
    {
      troupe::MutexLock lock(&timer_mu_);
      timer_stop_ = true;
      timer_cv_.Signal();
    }
    if (timer_thread_.joinable()) timer_thread_.join();
  }
  executor_->Stop();
  // Whatever did not drain in time is destroyed without handling more mail.
  std::vector<Cell*> rest;
  for (Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) rest.push_back(cell);
  }
  if (!rest.empty())
    LogWarning(rest.size(), " actors did not exit before shutdown; destroying them");
  for (Cell* cell : rest) {
    if (cell->state() == CellState::kExited) continue;
    cell->notify_parent_ = false;
    Finalize(cell, "system shut down");
    cell->Release();  // the self reference
  }
}

}  // namespace troupe::runtime
