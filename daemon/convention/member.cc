// member.cc - see member.h.
#include "daemon/convention/member.h"

#include <utility>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"

namespace troupe::convention {

namespace {
constexpr std::string_view kJoinMethod = "/troupe.v1.Convention/Join";
}  // namespace

Member::Member(MemberOptions options, Directory* directory)
    : options_(std::move(options)), directory_(directory), leader_(options_.leader) {}

Member::~Member() { Stop(false); }

void Member::Start() { thread_ = std::thread([this] { Run(); }); }

void Member::Stop(bool deregister) {
  {
    troupe::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    deregister_ = deregister;
    cv_.SignalAll();
    // Without a leave to send, end the stream now; with one, the session
    // sends it and ends the stream itself.
    if (!deregister && current_ != nullptr) current_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void Member::CheckInNow() {
  troupe::MutexLock lock(&mu_);
  checkin_now_ = true;
  cv_.SignalAll();
}

bool Member::CheckInAndWait(absl::Time deadline) {
  troupe::MutexLock lock(&mu_);
  if (!joined_) return false;
  // A check-in sent before this call may carry the entry as it was.
  const uint64_t wanted = checkins_sent_ + 1;
  checkin_now_ = true;
  cv_.SignalAll();
  while (joined_ && !stopping_ && checkins_acked_ < wanted) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return joined_ && checkins_acked_ >= wanted;
}

void Member::SetLeader(std::string leader) {
  troupe::MutexLock lock(&mu_);
  if (leader == leader_) return;
  leader_ = std::move(leader);
  if (current_ != nullptr) current_->TryCancel();  // register with the new one
  cv_.SignalAll();
}

std::string Member::leader() const {
  troupe::MutexLock lock(&mu_);
  return leader_;
}

bool Member::joined() const {
  troupe::MutexLock lock(&mu_);
  return joined_;
}

std::string Member::problem() const {
  troupe::MutexLock lock(&mu_);
  return problem_;
}

void Member::Run() {
  for (;;) {
    std::string leader;
    {
      troupe::MutexLock lock(&mu_);
      if (stopping_) return;
      leader = leader_;
    }
    const absl::Time attempt = absl::Now();
    Session(leader);
    {
      // Leaving (Stop) is not losing the leader: the convention's own stop
      // tells the runtime about every member once the links are closed.
      troupe::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    // The leader is gone for now (its actors with it, if it died). The other
    // members stay reachable over their links; the next welcome says who is
    // still there.
    if (std::optional<v1::MemberInfo> gone = directory_->Find(leader); gone.has_value()) {
      RosterEvent event{v1::ROSTER_CHANGE_LEFT, *gone, "the leader is unreachable"};
      if (directory_->Apply(event) && options_.on_event) options_.on_event(event);
    }
    troupe::MutexLock lock(&mu_);
    joined_ = false;
    // Try again one check-in period after the last attempt began, so a
    // restarted leader is rejoined within a period of coming back.
    const absl::Time next = attempt + options_.checkin_interval;
    while (!stopping_ && absl::Now() < next) cv_.WaitWithDeadline(&mu_, next);
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
    if (stopping_ || leader != leader_) return;
    current_ = &context;
  }
  auto note_problem = [&](std::string text) {
    troupe::MutexLock lock(&mu_);
    if (problem_ != text) LogWarning("convention: ", text);
    problem_ = std::move(text);
  };
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
        note_problem(troupe::StrCat("leader ", leader, " did not answer with a welcome"));
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
    grpc::Status status = stream->Finish();
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      note_problem(troupe::StrCat("cannot join leader ", leader, ": ", status.error_message()));
    } else if (!proof.ok()) {
      note_problem(troupe::StrCat("cannot join leader ", leader, ": ", proof.message()));
    }
    return;
  }
  LogInfo("convention: joined leader ", leader, " (", news.welcome().members_size(),
          " members)");
  {
    troupe::MutexLock lock(&mu_);
    joined_ = true;
    problem_.clear();
    checkins_sent_ = 0;
    checkins_acked_ = 0;
  }
  for (const RosterEvent& event : directory_->Replace(
           {news.welcome().members().begin(), news.welcome().members().end()})) {
    if (options_.on_event) options_.on_event(event);
  }
  if (options_.on_welcome) options_.on_welcome();

  // Reads on a thread of their own; this thread writes the check-ins.
  troupe::Mutex ack_mu;
  absl::Time last_ack = absl::Now();
  bool reader_done = false;
  std::thread reader([&] {
    v1::RosterNews incoming;
    while (stream->Read(&incoming)) {
      if (incoming.has_ack()) {
        directory_->UpdateLoads({incoming.ack().loads().begin(), incoming.ack().loads().end()});
        {
          troupe::MutexLock lock(&ack_mu);
          last_ack = absl::Now();
        }
        troupe::MutexLock lock(&mu_);
        ++checkins_acked_;
        cv_.SignalAll();
      } else if (incoming.has_change()) {
        RosterEvent event{incoming.change().kind(), incoming.change().member(),
                          incoming.change().reason()};
        if (directory_->Apply(event) && options_.on_event) options_.on_event(event);
      }
    }
    troupe::MutexLock lock(&mu_);
    reader_done = true;
    cv_.SignalAll();
  });

  const absl::Duration expiry = options_.checkin_interval * options_.missed_checkins;
  bool leave = false;
  {
    troupe::MutexLock lock(&mu_);
    absl::Time next = absl::Now() + options_.checkin_interval;
    for (;;) {
      while (!stopping_ && !reader_done && !checkin_now_ && absl::Now() < next &&
             leader == leader_) {
        cv_.WaitWithDeadline(&mu_, next);
      }
      if (stopping_) {
        leave = deregister_;
        break;
      }
      if (reader_done || leader != leader_) break;
      checkin_now_ = false;
      next = absl::Now() + options_.checkin_interval;
      ++checkins_sent_;
      mu_.Unlock();
      bool silent;
      {
        troupe::MutexLock lock2(&ack_mu);
        silent = absl::Now() - last_ack > expiry;
      }
      v1::MemberReport checkin;
      *checkin.mutable_checkin() = options_.self_info();
      const bool written = !silent && stream->Write(checkin);
      mu_.Lock();
      if (!written) {
        if (silent) LogWarning("convention: leader ", leader, " stopped answering check-ins");
        break;
      }
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
    const absl::Time deadline = absl::Now() + options_.checkin_interval;
    while (!reader_done && absl::Now() < deadline) cv_.WaitWithDeadline(&mu_, deadline);
    if (!reader_done) context.TryCancel();
  } else {
    context.TryCancel();
  }
  reader.join();
  grpc::Status status = stream->Finish();
  if (!leave && !status.ok()) {
    note_problem(troupe::StrCat("lost leader ", leader, ": ", status.error_message()));
  }
}

}  // namespace troupe::convention
