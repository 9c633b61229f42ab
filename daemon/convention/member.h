// member.h - a member's side of membership: registers with the leader over a
// Join stream, checks in every period, applies the leader's pushes to the
// directory, and registers again at once whenever the stream ends (a leader
// restart is noticed when its stream breaks or its acknowledgements stay away
// for the expiry interval; a new attempt is made every check-in period).
// The decisions are MemberState's (member_state.h, tested without processes);
// Member is the shell: its threads, the gRPC stream, waiting.
// Private to daemon/convention.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/common/mutex.h"
#include "daemon/convention/directory.h"
#include "daemon/convention/member_state.h"
#include "daemon/convention/peer_guard.h"
#include "troupe/v1/convention.grpc.pb.h"

namespace troupe::convention {

struct MemberOptions {
  std::string leader;  // host:port
  absl::Duration checkin_interval = absl::Seconds(1);
  int missed_checkins = 3;
  PeerGuard* guard = nullptr;  // not owned
  // This daemon's own entry, asked for at each registration and check-in.
  std::function<v1::MemberInfo()> self_info;
  // Every change of the directory, in order; called from the member's thread.
  std::function<void(const RosterEvent&)> on_event;
  // After each welcome (a registration stands, again), once its changes went
  // to on_event; called from the member's thread.
  std::function<void()> on_welcome;
};

// Thread-safe.
class Member {
 public:
  Member(MemberOptions options, Directory* directory);
  ~Member();  // Stop(false)

  // Starts registering (a thread of its own).
  void Start();
  // Leaves the convention: with `deregister`, tells the leader (graceful
  // shutdown); then stops the thread.
  void Stop(bool deregister);
  // Checks in now rather than at the next period (capabilities changed).
  void CheckInNow();
  // Checks in now and waits (up to `deadline`) until the leader has
  // acknowledged a check-in that carries this daemon's current entry, so it
  // has pushed any change in it to the other members. False when not joined
  // or the deadline passed. For threads that may wait (not workers).
  bool CheckInAndWait(absl::Time deadline);
  // Another leader (an invitation). Takes effect at the next registration.
  void SetLeader(std::string leader);

  std::string leader() const;
  bool joined() const;
  // The last problem met while registering ("" when joined).
  std::string problem() const;

 private:
  void Run();
  // One registration and its check-ins, until the stream ends or Stop.
  void Session(const std::string& leader);

  // Hands one change of the directory to options_.on_event.
  void Emit(const RosterEvent& event) const;

  MemberOptions options_;
  Directory* const directory_;
  mutable troupe::Mutex mu_;
  troupe::CondVar cv_;  // signalled whenever state_ changes
  MemberState state_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace troupe::convention
