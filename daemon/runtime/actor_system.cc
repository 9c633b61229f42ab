// actor_system.cc - ActorSystem: construction, creating actors, sending,
// wakeups, stepping and shutdown. Its other parts: class_registry.cc,
// turn.cc (running an actor's turns), addresses.cc (addresses, names, the
// dead-letter handler), introspection.cc, capabilities.cc,
// convention_events.cc, remote.cc, placement.cc.
#include "daemon/runtime/actor_system.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/common/status_macros.h"
#include "daemon/runtime/cluster.h"
#include "daemon/runtime/system_internal.h"
#include "troupe/wire.h"

namespace troupe::runtime {

ActorSystem::ActorSystem(SystemOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock::Get()),
      actor_logs_(options_.actor_log_lines),
      classes_(std::make_unique<ClassTable>()) {
  if (options_.throughput_quota < 1) options_.throughput_quota = 1;
  cluster_.store(options_.cluster, std::memory_order_release);
  local_members_.store(options_.local_members, std::memory_order_release);
  if (options_.first_actor_id == 0) options_.first_actor_id = 1;
  if (options_.actor_id_limit > kActorIdLimit || options_.actor_id_limit <= options_.first_actor_id) {
    options_.actor_id_limit = kActorIdLimit;
  }
  if (options_.assigned_ids_from != 0 &&
      (options_.assigned_ids_from <= options_.first_actor_id ||
       options_.assigned_ids_from >= options_.actor_id_limit)) {
    options_.assigned_ids_from = 0;
  }
  next_id_.store(options_.first_actor_id, std::memory_order_relaxed);
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
  if (options.id != 0) TROUPE_RETURN_IF_ERROR(CheckAssignedId(options.id));
  return CreateInternal(actor_class, options.parent.get(), ForClassCheck(options.requirements),
                        options.global_name, options.id);
}

absl::Status ActorSystem::CheckAssignedId(uint64_t id) const {
  if (options_.assigned_ids_from == 0 || id < options_.assigned_ids_from ||
      id >= options_.actor_id_limit) {
    return absl::InvalidArgumentError(troupe::StrCat("actor id ", id,
                                                     " is not in this system's assigned range"));
  }
  const Shard& shard = ShardFor(id);
  troupe::MutexLock lock(&shard.mu);
  if (shard.cells.contains(id)) {
    return absl::AlreadyExistsError(troupe::StrCat("actor id ", id, " is taken"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ActorRef> ActorSystem::CreateChild(Cell* parent, std::string_view class_name,
                                                  const ActorRequirements& requirements,
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
      CreateInternal(actor_class, parent, requirements, global_name);
  if (child.ok() || child.status().code() != absl::StatusCode::kFailedPrecondition ||
      parent->state() != CellState::kRunning) {
    return child;
  }
  // Another daemon may fit it: the cluster places it (placement.cc).
  return PlaceChild(parent, actor_class, requirements, global_name, child.status());
}

absl::StatusOr<ActorRef> ActorSystem::CreateInternal(const ActorClass* actor_class, Cell* parent,
                                                     const ActorRequirements& requirements,
                                                     std::string_view global_name, uint64_t id) {
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
  if (absl::Status fits = FitsHere(actor_class, requirements); !fits.ok()) {
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
    auto* cell = new Cell(this, id != 0 ? id : NextId(), actor_class, parent);  // self reference
    NoteRequirements(cell, requirements);  // re-checked after capability changes
    live_actors_.fetch_add(1, std::memory_order_relaxed);
    return cell;
  };

  Cell* cell = nullptr;
  if (!global_name.empty()) {
    troupe::MutexLock lock(&names_mu_);
    auto it = names_.find(ToAbsl(global_name));
    if (it != names_.end() && CanHoldName(it->second)) {
      ReleaseLibrary(library);  // no cell made
      if (id != 0) {
        // The caller promised this id to someone: it cannot be another actor.
        return absl::AlreadyExistsError(troupe::StrCat(
            "global name ", Quoted(global_name), " is held by ", FormatAddress(it->second)));
      }
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

const ActorClass* ActorSystem::NativeClassNamed(std::string_view class_name) {
  troupe::MutexLock lock(&classes_->mu);
  auto& native = classes_->natives[std::string(class_name)];
  if (native == nullptr) native = std::make_unique<NativeClass>(std::string(class_name));
  return native.get();
}

ActorRef ActorSystem::SpawnNative(NativeHandler handler, std::string_view class_name) {
  const ActorClass* actor_class = NativeClassNamed(class_name);
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
      // A remote cell's mailbox is always closed, so the local path pays
      // nothing for it: what reaches one travels to its node (all kinds).
      // Any other closed mailbox is an actor that has exited.
      if (target->state() == CellState::kRemote) {
        ForwardToNode(target, Message::Adopt(e));
      } else if (target->is_reply_slot()) {
        AnswerReplySlot(target, Message::Adopt(e));
      } else {
        DeadLetter(target, Message::Adopt(e));
      }
      return;
  }
}

void ActorSystem::DeadLetter(Cell* target, Message message) {
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
    std::optional<absl::StatusOr<Message>> reply ABSL_GUARDED_BY(mu);
  };
  auto pending = std::make_shared<Pending>();
  ActorRef reply_to = OpenReplySlot(
      [pending](absl::StatusOr<Message> reply) {
        troupe::MutexLock lock(&pending->mu);
        pending->reply = std::move(reply);
        pending->cv.Signal();
      },
      timeout);
  message.SetSender(reply_to.get());
  Deliver(target.get(), std::move(message));

  if (deterministic_ != nullptr) {
    for (;;) {
      {
        troupe::MutexLock lock(&pending->mu);
        if (pending->reply.has_value()) break;
      }
      if (!RunOne()) break;
    }
  } else {
    // The slot's deadline runs on the system's clock; a manual one may not
    // move, so the wall clock bounds the wait as well.
    const absl::Time deadline = absl::Now() + timeout;
    troupe::MutexLock lock(&pending->mu);
    while (!pending->reply.has_value() && !pending->cv.WaitWithDeadline(&pending->mu, deadline)) {
    }
  }
  (void)CloseReplySlot(reply_to.get());  // a deterministic system ran out of turns
  troupe::MutexLock lock(&pending->mu);
  if (!pending->reply.has_value() || absl::IsDeadlineExceeded(pending->reply->status())) {
    return absl::DeadlineExceededError(troupe::StrCat("no reply from ", FormatAddress(target.get()),
                                                      " within ", absl::FormatDuration(timeout)));
  }
  return *std::move(pending->reply);
}

// ---------------------------------------------------------------------------
// Wakeups

void ActorSystem::AddWakeup(Cell* cell, absl::Duration delay, std::string_view payload) {
  if (delay < absl::ZeroDuration()) delay = absl::ZeroDuration();
  std::string body;
  wire::AppendU64(&body, static_cast<uint64_t>(absl::ToInt64Nanoseconds(delay)));
  body.append(payload);
  cell->pending_wakeups_.fetch_add(1, std::memory_order_relaxed);
  AddTimer(clock_->Now() + delay, cell, Message::Make(TROUPE_MSG_WAKEUP, body, cell));
}

void ActorSystem::AddTimer(absl::Time at, Cell* cell, Message message) {
  if (timers_.Add(at, cell, std::move(message)) && deterministic_ == nullptr) {
    troupe::MutexLock lock(&timer_mu_);
    timer_cv_.Signal();
  }
}

void ActorSystem::FireDueTimers() {
  timers_.FireDue(clock_->Now(), [this](Cell* cell, Message m) {
    if (cell->is_reply_slot()) {
      EndReplySlot(cell, absl::DeadlineExceededError("no reply in time"),
                   /*deadline_queued=*/false);
    } else if (cell->state() != CellState::kExited) {
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
  // Reply slots opened while draining end with Cancelled, not finalized: they
  // are no actors, and another thread may answer one meanwhile (hence the
  // references).
  std::vector<Cell*> rest;
  std::vector<ActorRef> open_slots;
  for (Shard& shard : shards_) {
    troupe::MutexLock lock(&shard.mu);
    for (const auto& [id, cell] : shard.cells) {
      if (cell->is_reply_slot()) {
        open_slots.push_back(ActorRef::Share(cell));
      } else {
        rest.push_back(cell);
      }
    }
  }
  for (const ActorRef& slot : open_slots) {
    EndReplySlot(slot.get(), absl::CancelledError("the actor system is shutting down"),
                 /*deadline_queued=*/true);
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
