// member.cc - see member.h.
#include "daemon/convention/member.h"

#include <utility>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"

namespace troupe::convention {

namespace {
constexpr std::string_view kJoinMethod = "/troupe.v1.Convention/Join";

// gRPC's codes are the canonical ones, with the same numbers.
absl::Status ToStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

void Warn(const std::optional<std::string>& warning) {
  if (warning.has_value()) LogWarning("convention: ", *warning);
}
}  // namespace

Member::Member(MemberOptions options, Directory* directory)
    : options_(std::move(options)),
      directory_(directory),
      state_(options_.leader, options_.checkin_interval, options_.missed_checkins,
             RealClock::Get()) {}

Member::~Member() { Stop(false); }

void Member::Start() { thread_ = std::thread([this] { Run(); }); }

void Member::Stop(bool deregister) {
  {
    troupe::MutexLock lock(&mu_);
    if (state_.Stopping() && !thread_.joinable()) return;
    const bool cancel_now = state_.Stop(deregister);
    cv_.SignalAll();
    if (cancel_now && current_ != nullptr) current_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void Member::CheckInNow() {
  troupe::MutexLock lock(&mu_);
  state_.RequestCheckIn();
  cv_.SignalAll();
}

bool Member::CheckInAndWait(absl::Time deadline) {
  troupe::MutexLock lock(&mu_);
  const std::optional<uint64_t> wanted = state_.BeginCheckInWait();
  if (!wanted.has_value()) return false;
  cv_.SignalAll();
  while (!state_.CheckInWaitOver(*wanted)) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return state_.CheckInConfirmed(*wanted);
}

void Member::SetLeader(std::string leader) {
  troupe::MutexLock lock(&mu_);
  if (!state_.SetLeader(std::move(leader))) return;
  if (current_ != nullptr) current_->TryCancel();  // register with the new one
  cv_.SignalAll();
}

std::string Member::leader() const {
  troupe::MutexLock lock(&mu_);
  return state_.leader();
}

bool Member::joined() const {
  troupe::MutexLock lock(&mu_);
  return state_.joined();
}

std::string Member::problem() const {
  troupe::MutexLock lock(&mu_);
  return state_.problem();
}

void Member::Emit(const RosterEvent& event) const {
  if (options_.on_event) options_.on_event(event);
}

void Member::Run() {
  for (;;) {
    std::string leader;
    {
      troupe::MutexLock lock(&mu_);
      std::optional<std::string> next = state_.BeginAttempt();
      if (!next.has_value()) return;
      leader = *std::move(next);
    }
    Session(leader);
    {
      // Leaving (Stop) is not losing the leader: the convention's own stop
      // tells the runtime about every member once the links are closed.
      troupe::MutexLock lock(&mu_);
      if (state_.Stopping()) return;
    }
    // The leader is gone for now (its actors with it, if it died). The other
    // members stay reachable over their links; the next welcome says who is
    // still there.
    for (const RosterEvent& event : ForgetLeader(directory_, leader)) Emit(event);
    troupe::MutexLock lock(&mu_);
    const absl::Time next = state_.OnLeaderLost();
    while (!state_.RetryWaitOver(next)) cv_.WaitWithDeadline(&mu_, next);
  }
}

void Member::Session(const std::string& leader) {
  // A channel of its own for every attempt (no subchannel shared with earlier
  // attempts, whose connection back-off would delay this one).
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.checkin_interval)));
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(leader, options_.guard->ChannelCredentials(), args);
  auto stub = v1::Convention::NewStub(channel);
  grpc::ClientContext context;
  const peerauth::CallSignature signature = options_.guard->Sign(&context, kJoinMethod);
  {
    troupe::MutexLock lock(&mu_);
    if (!state_.MayStartSession(leader)) return;
    current_ = &context;
  }
  std::unique_ptr<grpc::ClientReaderWriter<v1::MemberReport, v1::RosterNews>> stream =
      stub->Join(&context);
  // The leader proves the convention key before this daemon tells it
  // anything (its capabilities and bundles are for members only).
  stream->WaitForInitialMetadata();
  absl::Status proof = options_.guard->CheckAnswer(context, signature);
  v1::RosterNews news;
  bool welcomed = false;
  if (proof.ok()) {
    v1::MemberReport report;
    *report.mutable_register_() = options_.self_info();
    if (stream->Write(report) && stream->Read(&news)) {
      if (news.has_welcome()) {
        welcomed = true;
      } else {
        troupe::MutexLock lock(&mu_);
        Warn(state_.OnNoWelcome(leader));
      }
    }
  }
  if (!welcomed) {
    {
      troupe::MutexLock lock(&mu_);
      current_ = nullptr;
    }
    // A leader that refused has ended the call with its reason; one that
    // proved nothing is cut off here.
    if (!proof.ok()) context.TryCancel();
    const absl::Status call = ToStatus(stream->Finish());
    troupe::MutexLock lock(&mu_);
    Warn(state_.OnJoinFailed(leader, proof, call));
    return;
  }
  LogInfo("convention: joined leader ", leader, " (", news.welcome().members_size(),
          " members)");
  {
    troupe::MutexLock lock(&mu_);
    state_.OnWelcome();
  }
  for (const RosterEvent& event : ApplyWelcome(directory_, news.welcome())) Emit(event);
  if (options_.on_welcome) options_.on_welcome();

  // Reads on a thread of their own; this thread writes the check-ins.
  bool reader_done = false;  // under mu_
  {
    troupe::MutexLock lock(&mu_);
    state_.StartCheckIns();
  }
  std::thread reader([&] {
    v1::RosterNews incoming;
    while (stream->Read(&incoming)) {
      bool ack = false;
      std::vector<RosterEvent> events = ApplyPush(directory_, incoming, &ack);
      if (ack) {
        troupe::MutexLock lock(&mu_);
        state_.OnAck();
        cv_.SignalAll();
      }
      for (const RosterEvent& event : events) Emit(event);
    }
    troupe::MutexLock lock(&mu_);
    reader_done = true;
    cv_.SignalAll();
  });

  bool leave = false;
  {
    troupe::MutexLock lock(&mu_);
    for (;;) {
      const SessionStep step = state_.NextStep(leader, reader_done);
      if (step.action == SessionStep::kWait) {
        cv_.WaitWithDeadline(&mu_, step.until);
        continue;
      }
      if (step.action != SessionStep::kCheckIn) {
        if (step.action == SessionStep::kSilent) LogWarning("convention: ", step.warning);
        leave = step.action == SessionStep::kLeave;
        break;
      }
      mu_.Unlock();
      v1::MemberReport checkin;
      *checkin.mutable_checkin() = options_.self_info();
      const bool written = stream->Write(checkin);
      mu_.Lock();
      if (!written) break;
    }
    current_ = nullptr;
  }
  if (leave) {
    v1::MemberReport bye;
    bye.mutable_leave()->set_reason("shutting down");
    stream->Write(bye);
    stream->WritesDone();
    // The leader ends the stream once it has the leave; one that does not
    // within a check-in period is cut off (shutdown must not hang on it).
    troupe::MutexLock lock(&mu_);
    const absl::Time deadline = state_.LeaveDeadline();
    while (!reader_done) {
      if (cv_.WaitWithDeadline(&mu_, deadline)) break;
    }
    if (!reader_done) context.TryCancel();
  } else {
    context.TryCancel();
  }
  reader.join();
  const absl::Status call = ToStatus(stream->Finish());
  troupe::MutexLock lock(&mu_);
  Warn(state_.OnSessionEnded(leader, leave, call));
}

}  // namespace troupe::convention
