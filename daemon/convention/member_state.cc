// member_state.cc - see member_state.h.
#include "daemon/convention/member_state.h"

#include <utility>

#include "daemon/common/strings.h"

namespace troupe::convention {

namespace {
std::string_view Text(const absl::Status& status) {
  return {status.message().data(), status.message().size()};
}
}  // namespace

MemberState::MemberState(std::string leader, absl::Duration checkin_interval, int missed_checkins,
                         Clock* clock)
    : checkin_interval_(checkin_interval),
      missed_checkins_(missed_checkins),
      clock_(clock),
      leader_(std::move(leader)) {}

bool MemberState::Stop(bool deregister) {
  stopping_ = true;
  deregister_ = deregister;
  // With a leave to send, the session sends it and ends the stream itself.
  return !deregister;
}

void MemberState::RequestCheckIn() { checkin_now_ = true; }

bool MemberState::SetLeader(std::string leader) {
  if (leader == leader_) return false;
  leader_ = std::move(leader);
  return true;
}

std::optional<uint64_t> MemberState::BeginCheckInWait() {
  if (!joined_) return std::nullopt;
  checkin_now_ = true;
  return checkins_sent_ + 1;
}

bool MemberState::CheckInWaitOver(uint64_t wanted) const {
  return !joined_ || stopping_ || checkins_acked_ >= wanted;
}

bool MemberState::CheckInConfirmed(uint64_t wanted) const {
  return joined_ && checkins_acked_ >= wanted;
}

std::optional<std::string> MemberState::BeginAttempt() {
  if (stopping_) return std::nullopt;
  attempt_ = clock_->Now();
  return leader_;
}

bool MemberState::MayStartSession(const std::string& leader) const {
  return !stopping_ && leader == leader_;
}

void MemberState::OnWelcome() {
  joined_ = true;
  problem_.clear();
  checkins_sent_ = 0;
  checkins_acked_ = 0;
}

void MemberState::StartCheckIns() {
  const absl::Time now = clock_->Now();
  last_ack_ = now;
  next_checkin_ = now + checkin_interval_;
}

void MemberState::OnAck() {
  last_ack_ = clock_->Now();
  ++checkins_acked_;
}

SessionStep MemberState::NextStep(const std::string& leader, bool reader_done) {
  SessionStep step;
  const absl::Time now = clock_->Now();
  if (stopping_) {
    step.action = deregister_ ? SessionStep::kLeave : SessionStep::kEnd;
    return step;
  }
  if (reader_done || leader != leader_) {
    step.action = SessionStep::kEnd;
    return step;
  }
  if (!checkin_now_ && now < next_checkin_) {
    step.action = SessionStep::kWait;
    step.until = next_checkin_;
    return step;
  }
  checkin_now_ = false;
  next_checkin_ = now + checkin_interval_;
  ++checkins_sent_;
  if (now - last_ack_ > checkin_interval_ * missed_checkins_) {
    step.action = SessionStep::kSilent;
    step.warning = troupe::StrCat("leader ", leader, " stopped answering check-ins");
    return step;
  }
  step.action = SessionStep::kCheckIn;
  return step;
}

std::optional<std::string> MemberState::OnNoWelcome(const std::string& leader) {
  return NoteProblem(troupe::StrCat("leader ", leader, " did not answer with a welcome"));
}

std::optional<std::string> MemberState::OnJoinFailed(const std::string& leader,
                                                     const absl::Status& proof,
                                                     const absl::Status& call) {
  // A leader that refused has ended the call with its reason; one that
  // proved nothing was cut off (Cancelled), so the proof says why.
  if (!call.ok() && call.code() != absl::StatusCode::kCancelled) {
    return NoteProblem(troupe::StrCat("cannot join leader ", leader, ": ", Text(call)));
  }
  if (!proof.ok()) {
    return NoteProblem(troupe::StrCat("cannot join leader ", leader, ": ", Text(proof)));
  }
  return std::nullopt;
}

std::optional<std::string> MemberState::OnSessionEnded(const std::string& leader, bool left,
                                                       const absl::Status& call) {
  if (left || call.ok()) return std::nullopt;
  return NoteProblem(troupe::StrCat("lost leader ", leader, ": ", Text(call)));
}

absl::Time MemberState::OnLeaderLost() {
  joined_ = false;
  // One check-in period after the last attempt began, so a restarted leader
  // is rejoined within a period of coming back.
  return attempt_ + checkin_interval_;
}

std::optional<std::string> MemberState::NoteProblem(std::string text) {
  std::optional<std::string> warning;
  if (problem_ != text) warning = text;
  problem_ = std::move(text);
  return warning;
}

std::vector<RosterEvent> ApplyWelcome(Directory* directory, const v1::Roster& welcome) {
  return directory->Replace({welcome.members().begin(), welcome.members().end()});
}

std::vector<RosterEvent> ApplyPush(Directory* directory, const v1::RosterNews& news, bool* ack) {
  *ack = news.has_ack();
  std::vector<RosterEvent> events;
  if (news.has_ack()) {
    directory->UpdateLoads({news.ack().loads().begin(), news.ack().loads().end()});
  } else if (news.has_change()) {
    RosterEvent event{news.change().kind(), news.change().member(), news.change().reason()};
    if (directory->Apply(event)) events.push_back(std::move(event));
  }
  return events;
}

std::vector<RosterEvent> ForgetLeader(Directory* directory, const std::string& leader) {
  std::vector<RosterEvent> events;
  if (std::optional<v1::MemberInfo> gone = directory->Find(leader); gone.has_value()) {
    RosterEvent event{v1::ROSTER_CHANGE_LEFT, *gone, "the leader is unreachable"};
    if (directory->Apply(event)) events.push_back(std::move(event));
  }
  return events;
}

}  // namespace troupe::convention
