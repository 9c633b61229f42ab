// ask_router.cc - asks on runtime reply slots, and the set of asks in flight
// (for FailAsksTo and Stop).
#include "daemon/service/ask_router.h"

#include <atomic>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "daemon/common/mutex.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/addresses.h"
#include "daemon/service/message_checks.h"

namespace troupe::service {

struct PendingAsk {
  std::atomic<bool> done{false};
  AskRouter::Done callback;
  std::string target;  // the resolved address or the name: for error texts
  // For an ask to a local global name: the address of its holder when the
  // ask was made (FailAsksToRange), else empty.
  std::string holder;
  absl::Duration timeout;
  troupe::Mutex mu;
  runtime::ActorRef slot ABSL_GUARDED_BY(mu);  // cleared when the ask ends

  // True for the one caller that may complete the ask.
  bool Claim() { return !done.exchange(true, std::memory_order_acq_rel); }
  runtime::ActorRef TakeSlot() {
    troupe::MutexLock lock(&mu);
    return std::exchange(slot, runtime::ActorRef());
  }
};

struct AskRouter::InFlight {
  runtime::ActorSystem* system;
  std::atomic<uint64_t> pending{0};
  troupe::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  absl::flat_hash_map<const PendingAsk*, std::shared_ptr<PendingAsk>> asks ABSL_GUARDED_BY(mu);

  // Ends `ask` with `result` unless it has ended: its slot closes unless the
  // slot itself is what answered.
  void End(const std::shared_ptr<PendingAsk>& ask, absl::StatusOr<AskReply> result,
           bool close_slot) {
    if (!ask->Claim()) return;
    pending.fetch_sub(1, std::memory_order_relaxed);
    {
      troupe::MutexLock lock(&mu);
      asks.erase(ask.get());
    }
    runtime::ActorRef slot = ask->TakeSlot();
    if (close_slot) (void)system->CloseReplySlot(slot.get());
    ask->callback(std::move(result));
  }

  // What the slot's handler does with what reached it.
  void Answer(const std::shared_ptr<PendingAsk>& ask, absl::StatusOr<runtime::Message> reply) {
    if (ask->done.load(std::memory_order_acquire)) return;
    if (!reply.ok()) {
      if (absl::IsDeadlineExceeded(reply.status())) {
        reply = absl::DeadlineExceededError(troupe::StrCat(
            "no reply from ", ask->target, " within ", absl::FormatDuration(ask->timeout),
            "; the actor may be busy, stuck or not answering this message type"));
      }
      End(ask, reply.status(), false);
    } else if (reply->type() == kAskUndeliverableType) {
      End(ask, absl::NotFoundError(std::string(reply->payload())), false);
    } else {
      std::string from = system->FormatAddress(reply->sender());
      End(ask, AskReply{*std::move(reply), std::move(from)}, false);
    }
  }

  // The asks whose target text starts with `prefix` (all for "").
  std::vector<std::shared_ptr<PendingAsk>> Matching(std::string_view prefix) {
    std::vector<std::shared_ptr<PendingAsk>> found;
    troupe::MutexLock lock(&mu);
    for (const auto& [key, ask] : asks) {
      if (ask->target.compare(0, prefix.size(), prefix) == 0) found.push_back(ask);
    }
    return found;
  }
};

AskRouter::AskRouter(runtime::ActorSystem* system)
    : system_(system), in_flight_(std::make_shared<InFlight>()) {
  in_flight_->system = system;
  // A message a reply slot sent (an ask) that another daemon could not
  // deliver: the ask ends now instead of at its deadline.
  system_->SetUndeliverableObserver(
      [system](runtime::Cell* sender, std::string_view target, std::string_view reason) {
        if (sender == nullptr || !sender->is_reply_slot()) return;
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
  FailAsksToRange(node, 0, UINT64_MAX, reason);
}

void AskRouter::FailAsksToRange(std::string_view node, uint64_t first, uint64_t limit,
                                std::string_view reason) {
  const auto in_range = [&](const std::string& address) {
    absl::StatusOr<runtime::AddressParts> parts = runtime::SplitAddress(address);
    return parts.ok() && parts->node == node && parts->id >= first && parts->id < limit;
  };
  for (const auto& ask : in_flight_->Matching("")) {
    if (!in_range(ask->target) && !in_range(ask->holder)) continue;
    in_flight_->End(ask,
                    absl::UnavailableError(
                        troupe::StrCat("no reply can come from ", ask->target, ": ", reason)),
                    true);
  }
}

void AskRouter::Stop() {
  {
    troupe::MutexLock lock(&in_flight_->mu);
    if (in_flight_->stopped) return;
    in_flight_->stopped = true;
  }
  for (const auto& ask : in_flight_->Matching("")) {
    in_flight_->End(ask, absl::CancelledError("the daemon is stopping"), true);
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
  if (!by_address) {
    // So that the loss of the holder's host ends the ask too: only a holder
    // in an isolated host (a remote cell of this node) can be lost that way,
    // so an inline holder costs no address text.
    if (absl::StatusOr<runtime::ActorRef> holder = system_->Lookup(to);
        holder.ok() && (*holder)->remote() != nullptr) {
      ask->holder = system_->FormatAddress(holder->get());
    }
  }
  // The slot's handler holds the ask until it runs or the slot closes; the
  // ask holds the slot until it ends. Either end breaks the cycle. The slot
  // is stored before the ask is in flight, so whoever ends it (Stop,
  // FailAsksTo, Cancel) finds the slot to close.
  in_flight_->pending.fetch_add(1, std::memory_order_relaxed);
  runtime::ActorRef slot = system_->OpenReplySlot(
      [in_flight = in_flight_, ask](absl::StatusOr<runtime::Message> reply) {
        in_flight->Answer(ask, std::move(reply));
      },
      timeout);
  {
    troupe::MutexLock lock(&ask->mu);
    ask->slot = slot;
  }
  bool stopped;
  {
    troupe::MutexLock lock(&in_flight_->mu);
    stopped = in_flight_->stopped;
    if (!stopped && !ask->done.load(std::memory_order_acquire)) {
      in_flight_->asks.emplace(ask.get(), ask);
    }
  }
  if (stopped) {
    in_flight_->End(ask, absl::UnavailableError("the daemon is stopping"), true);
    return {};
  }
  if (ask->done.load(std::memory_order_acquire)) return {};  // the slot ended it already
  absl::Status sent = by_address ? system_->Tell(by_address, std::move(message), slot)
                                 : SendTo(*system_, to, std::move(message), slot, names);
  if (!sent.ok()) in_flight_->End(ask, sent, true);
  Handle handle;
  handle.ask_ = ask;
  return handle;
}

void AskRouter::Cancel(const Handle& handle) {
  std::shared_ptr<PendingAsk> ask = handle.ask_.lock();
  if (ask != nullptr) in_flight_->End(ask, absl::CancelledError("the asker went away"), true);
}

uint64_t AskRouter::pending() const { return in_flight_->pending.load(std::memory_order_relaxed); }

}  // namespace troupe::service
