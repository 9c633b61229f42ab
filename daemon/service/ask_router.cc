// ask_router.cc - reply actors and the deadline heap.
#include "daemon/service/ask_router.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "daemon/common/strings.h"
#include "daemon/service/message_checks.h"

namespace troupe::service {

struct PendingAsk {
  using Done = AskRouter::Done;
  std::atomic<bool> done{false};
  Done callback;
  std::string target;  // for the timeout message
  absl::Duration timeout;
  troupe::Mutex mu;
  runtime::ActorRef reply_to ABSL_GUARDED_BY(mu);  // cleared when the ask ends

  // True for the one caller that may complete the ask.
  bool Claim() { return !done.exchange(true, std::memory_order_acq_rel); }
  runtime::ActorRef TakeReplyTo() {
    troupe::MutexLock lock(&mu);
    return std::exchange(reply_to, runtime::ActorRef());
  }
};

namespace {
bool Later(const absl::Time& a, const absl::Time& b) { return a > b; }
}  // namespace

namespace {
constexpr std::string_view kReplyClass = "ask";
}  // namespace

AskRouter::AskRouter(runtime::ActorSystem* system) : system_(system) {
  timer_ = std::thread([this] { TimerLoop(); });
  // A message a reply actor sent (an ask) that another daemon could not
  // deliver: the ask ends now instead of at its deadline.
  system_->SetUndeliverableObserver(
      [system](runtime::Cell* sender, std::string_view target, std::string_view reason) {
        if (sender == nullptr || sender->actor_class() == nullptr ||
            sender->actor_class()->name() != kReplyClass) {
          return;
        }
        system->Deliver(sender, runtime::Message::Make(
                                    kAskUndeliverableType,
                                    troupe::StrCat("cannot deliver to ", target, ": ", reason)));
      });
}

AskRouter::~AskRouter() {
  system_->SetUndeliverableObserver(nullptr);
  Stop();
}

void AskRouter::FailAsksTo(std::string_view node, std::string_view reason) {
  const std::string prefix = troupe::StrCat("troupe://", node, "/");
  std::vector<std::shared_ptr<PendingAsk>> lost;
  {
    troupe::MutexLock lock(&mu_);
    for (const Deadline& d : heap_) {
      std::shared_ptr<PendingAsk> ask = d.ask.lock();
      if (ask != nullptr && ask->target.compare(0, prefix.size(), prefix) == 0) {
        lost.push_back(std::move(ask));
      }
    }
  }
  for (const auto& ask : lost) {
    if (!ask->Claim()) continue;
    pending_.fetch_sub(1, std::memory_order_relaxed);
    runtime::ActorRef reply_to = ask->TakeReplyTo();
    if (reply_to) (void)system_->RequestExit(reply_to);
    ask->callback(absl::UnavailableError(
        troupe::StrCat("no reply can come from ", ask->target, ": ", reason)));
  }
}

void AskRouter::Stop() {
  std::vector<Deadline> left;
  {
    troupe::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
    cv_.SignalAll();
    left.swap(heap_);
  }
  timer_.join();
  for (Deadline& d : left) {
    std::shared_ptr<PendingAsk> ask = d.ask.lock();
    if (ask == nullptr || !ask->Claim()) continue;
    pending_.fetch_sub(1, std::memory_order_relaxed);
    runtime::ActorRef reply_to = ask->TakeReplyTo();
    if (reply_to) (void)system_->RequestExit(reply_to);
    ask->callback(absl::CancelledError("the daemon is stopping"));
  }
}

AskRouter::Handle AskRouter::Ask(std::string_view to, runtime::Message message,
                                 absl::Duration timeout, Done done, const ConventionNames* names) {
  if (timeout > kMaxTimeout) timeout = kMaxTimeout;
  // An ask to an actor known to have exited fails now: no reply can come.
  // (A tell there becomes a dead letter, as inside the daemon.)
  // An address is resolved once, here, and so is a global name held on
  // another daemon (the ask then fails fast when that daemon is lost); a
  // local global name is resolved by SendTo, atomically with its delivery.
  runtime::ActorRef by_address;
  std::string resolved;  // the address a convention-wide name resolved to
  if (to.substr(0, 9) == "troupe://" || IsConventionName(*system_, to, names)) {
    absl::StatusOr<runtime::ActorRef> target = ResolveTarget(*system_, to, names);
    if (!target.ok()) {
      done(target.status());
      return {};
    }
    by_address = *std::move(target);
    if (to.substr(0, 9) != "troupe://") resolved = system_->FormatAddress(by_address.get());
    const runtime::CellState state = by_address->state();
    if (state == runtime::CellState::kExited || state == runtime::CellState::kTombstone) {
      done(absl::NotFoundError(
          troupe::StrCat("no live actor at ", to, ": it has exited or never existed here")));
      return {};
    }
  }
  auto ask = std::make_shared<PendingAsk>();
  ask->callback = std::move(done);
  ask->timeout = timeout;
  ask->target = resolved.empty() ? std::string(to) : resolved;
  runtime::ActorSystem* system = system_;
  std::atomic<uint64_t>* pending = &pending_;
  // The reply actor holds the ask until it exits; the ask holds the actor
  // until it ends. Either end breaks the cycle: a reply makes the actor exit,
  // a timeout asks it to exit.
  runtime::ActorRef reply_to = system_->SpawnNative(
      [ask, system, pending](runtime::Cell* self, runtime::Message& m) {
        self->RequestExitAfterTurn();
        if (!ask->Claim()) return;
        pending->fetch_sub(1, std::memory_order_relaxed);
        (void)ask->TakeReplyTo();
        if (m.type() == kAskUndeliverableType) {
          ask->callback(absl::NotFoundError(std::string(m.payload())));
          return;
        }
        std::string from = system->FormatAddress(m.sender());
        ask->callback(AskReply{std::move(m), std::move(from)});
      },
      kReplyClass);
  {
    troupe::MutexLock lock(&ask->mu);
    ask->reply_to = reply_to;
  }
  pending_.fetch_add(1, std::memory_order_relaxed);
  bool stopped = false;
  {
    troupe::MutexLock lock(&mu_);
    if (stop_) {
      stopped = true;
    } else {
      heap_.push_back(Deadline{absl::Now() + timeout, ask});
      std::push_heap(heap_.begin(), heap_.end(),
                     [](const Deadline& a, const Deadline& b) { return Later(a.at, b.at); });
      // Wake the timer thread only when it would sleep past this deadline: a
      // stream of asks must not cost a wake-up each.
      if (heap_.front().ask.lock() == ask && heap_.front().at < timer_wakes_at_) cv_.Signal();
      const uint64_t live = pending_.load(std::memory_order_relaxed);
      if (heap_.size() > 1024 && heap_.size() > 4 * live) CompactLocked();
    }
  }
  if (stopped) {
    // Never sent: the reply actor goes, the caller hears why.
    (void)ask->Claim();
    pending_.fetch_sub(1, std::memory_order_relaxed);
    runtime::ActorRef r = ask->TakeReplyTo();
    if (r) (void)system_->RequestExit(r);
    ask->callback(absl::UnavailableError("the daemon is stopping"));
    return {};
  }
  absl::Status sent = by_address ? system_->Tell(by_address, std::move(message), reply_to)
                                 : SendTo(*system_, to, std::move(message), reply_to, names);
  if (!sent.ok() && ask->Claim()) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    runtime::ActorRef r = ask->TakeReplyTo();
    if (r) (void)system_->RequestExit(r);
    ask->callback(sent);
  }
  Handle handle;
  handle.ask_ = ask;
  return handle;
}

void AskRouter::Cancel(const Handle& handle) {
  std::shared_ptr<PendingAsk> ask = handle.ask_.lock();
  if (ask == nullptr || !ask->Claim()) return;
  pending_.fetch_sub(1, std::memory_order_relaxed);
  runtime::ActorRef reply_to = ask->TakeReplyTo();
  if (reply_to) (void)system_->RequestExit(reply_to);
  ask->callback(absl::CancelledError("the asker went away"));
}

uint64_t AskRouter::pending() const { return pending_.load(std::memory_order_relaxed); }

void AskRouter::CompactLocked() {
  heap_.erase(std::remove_if(heap_.begin(), heap_.end(),
                             [](const Deadline& d) {
                               std::shared_ptr<PendingAsk> ask = d.ask.lock();
                               return ask == nullptr || ask->done.load(std::memory_order_acquire);
                             }),
              heap_.end());
  std::make_heap(heap_.begin(), heap_.end(),
                 [](const Deadline& a, const Deadline& b) { return Later(a.at, b.at); });
}

void AskRouter::TimerLoop() {
  const auto later = [](const Deadline& a, const Deadline& b) { return Later(a.at, b.at); };
  troupe::MutexLock lock(&mu_);
  while (!stop_) {
    // With nothing due soon, look again after kIdleTick anyway, so that asks
    // with later deadlines need not wake this thread (see Ask).
    const absl::Time now = absl::Now();
    if (heap_.empty() || heap_.front().at > now) {
      timer_wakes_at_ =
          heap_.empty() ? now + kIdleTick : std::min(now + kIdleTick, heap_.front().at);
      cv_.WaitWithDeadline(&mu_, timer_wakes_at_);
      continue;
    }
    std::pop_heap(heap_.begin(), heap_.end(), later);
    std::shared_ptr<PendingAsk> ask = heap_.back().ask.lock();
    heap_.pop_back();
    if (ask == nullptr || !ask->Claim()) continue;
    pending_.fetch_sub(1, std::memory_order_relaxed);
    mu_.Unlock();
    runtime::ActorRef reply_to = ask->TakeReplyTo();
    if (reply_to) (void)system_->RequestExit(reply_to);
    ask->callback(absl::DeadlineExceededError(troupe::StrCat(
        "no reply from ", ask->target, " within ", absl::FormatDuration(ask->timeout),
        "; the actor may be busy, stuck or not answering this message type")));
    mu_.Lock();
  }
}

}  // namespace troupe::service
