// leader.cc - see leader.h.
#include "daemon/convention/leader.h"

#include <utility>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "proto/grpc_status.h"

namespace troupe::convention {

// One member's stream. Writes come from the serving thread (welcome, acks)
// and from whoever dispatches a change, so they are serialized by write_mu.
struct Leader::Session {
  std::string address;
  uint64_t incarnation = 0;
  grpc::ServerContext* context = nullptr;
  grpc::ServerReaderWriter<v1::RosterNews, v1::MemberReport>* stream = nullptr;
  troupe::Mutex write_mu;
  bool open ABSL_GUARDED_BY(write_mu) = true;
  // False once the serving thread is leaving: context and stream are gone.
  bool serving ABSL_GUARDED_BY(write_mu) = true;

  // False when the stream is gone (the member will be expired or has left).
  bool Write(const v1::RosterNews& news) {
    troupe::MutexLock lock(&write_mu);
    if (!open) return false;
    if (!stream->Write(news)) open = false;
    return open;
  }
  void Close() {
    troupe::MutexLock lock(&write_mu);
    open = false;
  }
  // Ends the stream (the serving thread sees its Read fail).
  void Cancel() {
    troupe::MutexLock lock(&write_mu);
    open = false;
    if (serving) context->TryCancel();
  }
  // Called by the serving thread last: nobody touches the call afterwards.
  void Leave() {
    troupe::MutexLock lock(&write_mu);
    open = false;
    serving = false;
  }
};

Leader::Leader(LeaderOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock::Get()),
      roster_(options_.self_info(), options_.checkin_interval, options_.missed_checkins) {}

Leader::~Leader() { Stop(); }

void Leader::Start() {
  expiry_thread_ = std::thread([this] {
    troupe::MutexLock lock(&mu_);
    while (!stopping_) {
      if (!self_changed_) stop_cv_.WaitWithTimeout(&mu_, options_.checkin_interval / 4);
      if (stopping_) break;
      self_changed_ = false;
      mu_.Unlock();
      ExpireNow();
      mu_.Lock();
    }
  });
}

void Leader::Stop() {
  std::vector<std::shared_ptr<Session>> sessions;
  {
    troupe::MutexLock lock(&mu_);
    if (stopping_ && !expiry_thread_.joinable()) return;
    stopping_ = true;
    stop_cv_.SignalAll();
    for (auto& [address, session] : sessions_) sessions.push_back(session);
  }
  if (expiry_thread_.joinable()) expiry_thread_.join();
  for (auto& session : sessions) session->Cancel();
}

std::vector<std::shared_ptr<Leader::Session>> Leader::SessionsSnapshot() const {
  troupe::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Session>> out;
  out.reserve(sessions_.size());
  for (const auto& [address, session] : sessions_) out.push_back(session);
  return out;
}

void Leader::Dispatch(const std::vector<RosterEvent>& events) {
  if (events.empty()) return;
  std::vector<std::shared_ptr<Session>> sessions = SessionsSnapshot();
  for (const RosterEvent& event : events) {
    LogInfo("convention: ", event.member.address(), " ",
            v1::RosterChangeKind_Name(event.kind), event.reason.empty() ? "" : ": ",
            event.reason);
    v1::RosterNews news;
    v1::RosterChange* change = news.mutable_change();
    change->set_kind(event.kind);
    *change->mutable_member() = event.member;
    change->set_reason(event.reason);
    for (const auto& session : sessions) session->Write(news);
    if (options_.on_event) options_.on_event(event);
  }
}

void Leader::ExpireNow() {
  // The leader's own entry (load, bundles) is refreshed here too, so that
  // status and members' placement see current figures.
  v1::MemberInfo self = options_.self_info();
  troupe::MutexLock dispatch(&dispatch_mu_);
  std::vector<RosterEvent> events;
  std::vector<std::shared_ptr<Session>> gone;
  {
    troupe::MutexLock lock(&mu_);
    events = roster_.UpdateLeader(std::move(self));
    for (RosterEvent& e : roster_.Expire(clock_->Now())) events.push_back(std::move(e));
    for (const RosterEvent& event : events) {
      auto it = sessions_.find(event.member.address());
      if (it == sessions_.end()) continue;
      gone.push_back(it->second);
      sessions_.erase(it);
    }
  }
  for (const auto& session : gone) session->Cancel();
  Dispatch(events);
}

void Leader::SelfChanged() {
  troupe::MutexLock lock(&mu_);
  self_changed_ = true;
  stop_cv_.SignalAll();
}

void Leader::PushSelfNow() {
  v1::MemberInfo self = options_.self_info();
  troupe::MutexLock dispatch(&dispatch_mu_);
  std::vector<RosterEvent> events;
  {
    troupe::MutexLock lock(&mu_);
    events = roster_.UpdateLeader(std::move(self));
  }
  Dispatch(events);
}

std::vector<v1::MemberInfo> Leader::Members() const {
  troupe::MutexLock lock(&mu_);
  return roster_.Members();
}

grpc::Status Leader::ServeSession(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::RosterNews, v1::MemberReport>* stream,
    std::shared_ptr<Session>* out) {
  v1::MemberReport report;
  if (!stream->Read(&report)) return grpc::Status::OK;
  if (!report.has_register_()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first report on a Join stream must be a registration");
  }
  auto session = std::make_shared<Session>();
  *out = session;
  session->address = report.register_().address();
  session->incarnation = report.register_().incarnation();
  session->context = context;
  session->stream = stream;
  {
    troupe::MutexLock dispatch(&dispatch_mu_);
    std::vector<RosterEvent> events;
    std::shared_ptr<Session> replaced;
    v1::RosterNews welcome;
    {
      troupe::MutexLock lock(&mu_);
      if (stopping_) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the leader is shutting down");
      }
      absl::StatusOr<std::vector<RosterEvent>> registered =
          roster_.Register(report.register_(), clock_->Now());
      if (!registered.ok()) {
        return ToGrpcStatus(registered.status());
      }
      events = *std::move(registered);
      auto [it, inserted] = sessions_.try_emplace(session->address, session);
      if (!inserted) {
        replaced = std::move(it->second);
        it->second = session;
      }
      v1::Roster* roster = welcome.mutable_welcome();
      for (v1::MemberInfo& m : roster_.Members()) *roster->add_members() = std::move(m);
      roster->set_checkin_interval_ms(absl::ToInt64Milliseconds(options_.checkin_interval));
      roster->set_missed_checkins(options_.missed_checkins);
    }
    if (replaced != nullptr) replaced->Cancel();
    // The welcome first, so the new member sees its own JOINED after it.
    session->Write(welcome);
    Dispatch(events);
  }
  while (stream->Read(&report)) {
    if (report.has_leave()) {
      troupe::MutexLock dispatch(&dispatch_mu_);
      std::vector<RosterEvent> events;
      {
        troupe::MutexLock lock(&mu_);
        auto it = sessions_.find(session->address);
        if (it != sessions_.end() && it->second == session) {
          sessions_.erase(it);
          events = roster_.Leave(session->address, report.leave().reason());
        }
      }
      session->Close();
      Dispatch(events);
      return grpc::Status::OK;
    }
    if (!report.has_checkin()) continue;
    if (report.checkin().address() != session->address ||
        report.checkin().incarnation() != session->incarnation) {
      session->Close();
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a check-in names another member than the registration");
    }
    v1::RosterNews ack;
    {
      troupe::MutexLock dispatch(&dispatch_mu_);
      std::vector<RosterEvent> events;
      {
        troupe::MutexLock lock(&mu_);
        auto it = sessions_.find(session->address);
        if (it == sessions_.end() || it->second != session) break;  // expired or replaced
        absl::StatusOr<std::vector<RosterEvent>> checked =
            roster_.CheckIn(report.checkin(), clock_->Now());
        if (!checked.ok()) break;
        events = *std::move(checked);
        v1::CheckinAck* a = ack.mutable_ack();
        a->set_leader_unix_ms(ToUnixMs(clock_->Now()));
        for (const v1::MemberInfo& m : roster_.Members()) {
          v1::MemberInfo* load = a->add_loads();
          load->set_address(m.address());
          *load->mutable_load() = m.load();
          *load->mutable_bundles() = m.bundles();
          load->set_last_checkin_unix_ms(m.last_checkin_unix_ms());
        }
      }
      Dispatch(events);
    }
    if (!session->Write(ack)) break;
  }
  // A broken stream without a leave: the member is expired when its
  // check-ins stay away (it may be back on a new stream before that).
  troupe::MutexLock lock(&mu_);
  if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the leader is shutting down");
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      troupe::StrCat(session->address, " is no longer a member; register again"));
}

grpc::Status Leader::Serve(grpc::ServerContext* context,
                           grpc::ServerReaderWriter<v1::RosterNews, v1::MemberReport>* stream) {
  std::shared_ptr<Session> session;
  grpc::Status status = ServeSession(context, stream, &session);
  if (session != nullptr) {
    session->Leave();
    troupe::MutexLock lock(&mu_);
    auto it = sessions_.find(session->address);
    if (it != sessions_.end() && it->second == session) sessions_.erase(it);
  }
  return status;
}

}  // namespace troupe::convention
