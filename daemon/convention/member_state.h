// member_state.h - a member's decisions, without threads, sockets or sleeps:
// which leader to register with and when to try again, what a registration's
// or a session's end says (the texts `director status` shows as the problem),
// when to check in, when the leader counts as silent, when to send a leave,
// what CheckInAndWait waits for; and what the leader's pushes do to the
// directory. Member (member.h) is the thin shell around it: it owns the
// threads and the Join stream, holds a MemberState under its mutex, feeds it
// what happened and does what it says. Time comes from an injected Clock.
// Private to daemon/convention; tests in tests/convention/member_state_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/common/clock.h"
#include "daemon/convention/directory.h"
#include "daemon/convention/roster.h"
#include "troupe/v1/convention.pb.h"

namespace troupe::convention {

// What the session thread does next while registered (MemberState::NextStep).
struct SessionStep {
  enum Action {
    kWait,     // nothing due: wait (for news, a request, Stop) until `until`
    kCheckIn,  // write a check-in with this daemon's current entry
    kLeave,    // Stop(true): write a leave, then end the session
    kEnd,      // end the session (stream over, Stop(false), another leader)
    kSilent,   // the leader acknowledged nothing for the expiry interval: end the session
  };
  Action action = kWait;
  absl::Time until;     // kWait only
  std::string warning;  // kSilent only: for the log
};

// Not thread-safe: Member serializes every call under its mutex. The clock is
// not owned and must outlive the state.
class MemberState {
 public:
  // A check-in every `checkin_interval`; the leader is silent once
  // `checkin_interval * missed_checkins` passed without an acknowledgement.
  MemberState(std::string leader, absl::Duration checkin_interval, int missed_checkins,
              Clock* clock);

  // ---- requests (Member's public calls, any thread)

  // Leaving: no more attempts, the session ends. With `deregister` the
  // session writes a leave first. True when the stream under way should be
  // cancelled now (no leave to send).
  bool Stop(bool deregister);
  // A check-in is due now rather than at the next period.
  void RequestCheckIn();
  // Another leader (an invitation). True when it differs from the current
  // one: the stream under way should be cancelled so the next attempt
  // registers with it.
  bool SetLeader(std::string leader);
  // CheckInAndWait: nullopt when not joined; else requests a check-in and
  // returns the acknowledgement count that confirms it (a check-in sent
  // before this call may carry the entry as it was).
  std::optional<uint64_t> BeginCheckInWait();
  // True once waiting for `wanted` is pointless or done (left the session,
  // stopping, or acknowledged).
  bool CheckInWaitOver(uint64_t wanted) const;
  // True when the leader acknowledged `wanted` check-ins while joined.
  bool CheckInConfirmed(uint64_t wanted) const;

  // ---- the session thread

  // Before each attempt: the leader to register with, nullopt once
  // stopping. The next attempt is due one check-in period after this one.
  std::optional<std::string> BeginAttempt();
  // Whether the call for `leader` may start (not stopping, leader unchanged).
  bool MayStartSession(const std::string& leader) const;
  // The leader welcomed this daemon: joined, no problem, counters reset.
  void OnWelcome();
  // Just before the reader starts: check-ins are due from now on, and the
  // leader's silence is counted from now.
  void StartCheckIns();
  // A check-in acknowledgement arrived.
  void OnAck();
  // What to do next in the session for `leader`; `reader_done` once the
  // stream has no more news. kCheckIn counts the check-in as sent.
  SessionStep NextStep(const std::string& leader, bool reader_done);
  // How long a leave waits for the leader to end the stream.
  absl::Time LeaveDeadline() const { return clock_->Now() + checkin_interval_; }

  // Registration failures. Each returns the warning to log when the problem
  // changed (nullopt when it is the one already noted, or there is none).
  //
  // The leader answered the registration with something other than a welcome.
  std::optional<std::string> OnNoWelcome(const std::string& leader);
  // A registration without a welcome ended: `proof` is the leader's proof
  // of the convention key, `call` how the call ended (Cancelled when this
  // daemon cut it off).
  std::optional<std::string> OnJoinFailed(const std::string& leader, const absl::Status& proof,
                                          const absl::Status& call);
  // A welcomed session ended: `left` when it sent a leave, `call` how the
  // call ended (the leader's reason, e.g. "... is no longer a member;
  // register again").
  std::optional<std::string> OnSessionEnded(const std::string& leader, bool left,
                                            const absl::Status& call);

  // After the session: true when stopping (no leader lost, no retry).
  bool Stopping() const { return stopping_; }
  // The leader is lost (after the directory heard so): not joined; returns
  // when the next attempt is due.
  absl::Time OnLeaderLost();
  // True once the wait for the next attempt is over (due, or stopping).
  bool RetryWaitOver(absl::Time next) const { return stopping_ || clock_->Now() >= next; }

  const std::string& leader() const { return leader_; }
  bool joined() const { return joined_; }
  // The last problem met while registering ("" when joined).
  const std::string& problem() const { return problem_; }
  uint64_t checkins_sent() const { return checkins_sent_; }
  uint64_t checkins_acked() const { return checkins_acked_; }

 private:
  std::optional<std::string> NoteProblem(std::string text);

  const absl::Duration checkin_interval_;
  const int missed_checkins_;
  Clock* const clock_;
  std::string leader_;
  bool stopping_ = false;
  bool deregister_ = false;
  bool joined_ = false;
  bool checkin_now_ = false;
  uint64_t checkins_sent_ = 0;  // on the current session
  uint64_t checkins_acked_ = 0;
  absl::Time attempt_;       // when the current attempt began
  absl::Time next_checkin_;  // while joined
  absl::Time last_ack_;      // while joined
  std::string problem_;
};

// The directory side of the leader's pushes. Each returns the changes for
// MemberOptions::on_event, in order; they lock only the directory.
//
// A welcome replaces the whole view.
std::vector<RosterEvent> ApplyWelcome(Directory* directory, const v1::Roster& welcome);
// A push after the welcome: a change is applied (its event when it changed
// anything: a JOINED, LEFT, EXPIRED, CAPABILITIES or BUNDLES push); an
// acknowledgement updates loads and bundle lists (no event). Sets `*ack`
// to whether `news` was an acknowledgement.
std::vector<RosterEvent> ApplyPush(Directory* directory, const v1::RosterNews& news, bool* ack);
// The leader was lost: it leaves the directory ("the leader is unreachable");
// the other members stay until the next welcome says who is still there.
std::vector<RosterEvent> ForgetLeader(Directory* directory, const std::string& leader);

}  // namespace troupe::convention
