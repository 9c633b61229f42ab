// isolated_host.h - troupd's side of one isolated host process: spawns
// troupe-host (posix_spawn, never fork) with its end of a socketpair and the
// bundle's libraries as descriptors, sends HostStart, carries messages to
// and from the host's actors (host_link.h), creates actors there, keeps the
// last lines the host wrote to stderr, and notices its end — a crash, an
// exit, a kill from outside, or garbage on the link (then the daemon kills
// it) — exactly once, with the reason ("host process was killed by signal 11
// (SIGSEGV)"). It does not restart anything: that is the owner's decision
// (local_members.h, hosting). Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/common/mutex.h"
#include "daemon/isolation/host_link.h"
#include "daemon/runtime/actor_ref.h"

namespace troupe::runtime {
class ActorSystem;
}

namespace troupe::isolation {

class LocalMembers;

struct HostLibraryFile {
  std::string name;  // the path inside the bundle, for messages
  int fd = -1;       // readable; the caller keeps (and closes) it
  bool dependency = false;
};

struct IsolatedHostOptions {
  std::string program;  // the troupe-host executable
  std::string name;     // for logs and reasons, e.g. "bundle 'echo' version '1.0'"
  uint64_t first_actor_id = 0;  // the host's part of the node's id space
  uint64_t actor_id_limit = 0;  // (its upper half is for CreateNow's ids)
  std::vector<HostLibraryFile> libraries;  // dependencies first, in load order
  std::string bundle_hash;
  std::string group;
  std::string version;
  uint32_t worker_threads = 1;
  uint32_t throughput_quota = 64;
  uint32_t actor_log_lines = 1000;
  std::string capabilities_json;
  size_t stderr_lines_kept = 20;
  // What the host applies to itself before it opens a library (its
  // parent_pid is set here: troupd).
  troupe::v1::HostConfinement confinement;
  // A handler running longer is reported by the host, which is then killed
  // with the reason "handler ran over N ms on message TYPE"; 0: not watched.
  absl::Duration handler_timeout = absl::ZeroDuration();
  // The longest frame the host may send: a batch and its largest message.
  uint32_t max_frame_bytes = 80 << 20;
  // The host's whole environment ("NAME=value"). Nothing of troupd's is
  // passed but the sanitizers' options (ASAN_OPTIONS, ...), for test builds.
  std::vector<std::string> environment;
  // When set, the host routes its id range there from Spawn until it has
  // ended (removed before EndedFn runs) or is destroyed.
  LocalMembers* members = nullptr;
};

class IsolatedHost {
 public:
  // Called once when the host has ended (after the process was reaped and
  // the link closed: messages still queued are undeliverable by then), from
  // the host's watcher thread, with why ("host process killed by signal 9
  // (SIGKILL)") and the last lines it wrote to stderr; before the creates
  // still waiting fail.
  using EndedFn = std::function<void(IsolatedHost* host, const std::string& reason,
                                     const std::vector<std::string>& last_stderr)>;
  using CreatedFn = std::function<void(absl::StatusOr<std::string> address)>;

  // Spawns the host and sends HostStart. Errors: the program cannot be
  // started, or the options are unusable (no actor library, a bad range).
  static absl::StatusOr<std::unique_ptr<IsolatedHost>> Spawn(runtime::ActorSystem* system,
                                                             IsolatedHostOptions options,
                                                             EndedFn ended);
  ~IsolatedHost();  // Kill(), then waits for the end
  IsolatedHost(const IsolatedHost&) = delete;
  IsolatedHost& operator=(const IsolatedHost&) = delete;

  // Creates an actor of `class_name` in the host with `parent` (an address,
  // empty: none) as its parent; `created` runs once, from the link's reader
  // thread (or at once when the host has ended), with the new actor's
  // address or why not.
  void Create(std::string_view class_name, std::string_view parent, CreatedFn created);
  // Creates an actor as the runtime's CreateActor does: the address at once
  // (an id of the host's assigned range, chosen here), the actor made in the
  // host after everything queued for it before. NotFound for a class the
  // host said it does not have (HostReady), Unavailable once the host has
  // ended. When the host then cannot make it, the actor is reported gone
  // (LocalMemberLost for its id: its parent hears ChildActorExited with why,
  // and mail to it becomes dead letters). `global_name` is the host's name
  // of it, so that its exit releases the daemon's binding (bind it there with
  // BindGlobalName).
  absl::StatusOr<runtime::ActorRef> CreateNow(std::string_view class_name,
                                              const runtime::ActorRef& parent,
                                              std::string_view global_name = {});
  // A message for actor `id` of the host (Cluster::Forward's contract).
  bool Forward(uint64_t id, runtime::Message message) {
    return link_->Send({}, id, std::move(message));
  }
  bool ResumeWhenRoom(std::function<void()> resume) {
    return link_->ResumeWhenRoom(std::move(resume));
  }
  // Asks the host to let its actors exit for up to `drain` and to exit; kills
  // it when it has not exited `grace` later. Returns once it has ended.
  void Stop(absl::Duration drain, absl::Duration grace = absl::Seconds(5));
  // SIGKILL (the end is reported as usual).
  void Kill();
  // Waits until the host has ended or `timeout` passed; true when ended.
  bool WaitEnded(absl::Duration timeout);
  // Waits until the host said HostReady (OK), ended (Unavailable with the
  // reason and its last stderr line) or `timeout` passed (DeadlineExceeded).
  absl::Status WaitReady(absl::Duration timeout);

  pid_t pid() const { return pid_; }
  const IsolatedHostOptions& options() const { return options_; }
  bool ended() const;
  // True once the end was reported (EndedFn returned): destroying the host
  // then waits for nothing, wherever it happens.
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // True once Stop was called: an end the owner asked for.
  bool stop_requested() const { return stop_requested_.load(std::memory_order_acquire); }
  // Set once the host said HostReady: the classes it can create.
  bool ready() const;
  std::vector<std::string> classes() const;
  std::vector<std::string> last_stderr() const;
  // The host's resident set size in bytes from /proc, 0 when unknown.
  uint64_t ResidentBytes() const;

 private:
  IsolatedHost(runtime::ActorSystem* system, IsolatedHostOptions options, EndedFn ended)
      : system_(system), options_(std::move(options)), ended_fn_(std::move(ended)) {}
  absl::Status Start();
  absl::Status OnFrame(troupe::v1::HostFrame& frame);
  absl::Status OnCreated(const troupe::v1::HostCreated& created);
  // True when `address` is one of this host's actors (node and id range).
  bool IsOwnAddress(std::string_view address) const;
  // What troupd takes from a host (it runs untrusted code): senders of its
  // own, and of the reserved types only exit notices about the sender and
  // barrier answers. PermissionDenied otherwise (logged, dropped).
  absl::Status CheckFromHost(const troupe::v1::Envelope& envelope) const;
  void OnLinkClosed(const absl::Status& why);
  void Watch();
  void KeepStderr(std::string_view bytes);

  runtime::ActorSystem* const system_;
  const IsolatedHostOptions options_;
  const EndedFn ended_fn_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stderr_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: wakes the watcher when the link ended
  std::unique_ptr<HostLink> link_;
  std::thread watcher_;
  std::atomic<bool> finished_{false};
  std::atomic<bool> stop_requested_{false};

  mutable troupe::Mutex mu_;
  troupe::CondVar cv_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> classes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_request_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_assigned_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, CreatedFn> creates_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> stderr_lines_ ABSL_GUARDED_BY(mu_);
  std::string stderr_partial_ ABSL_GUARDED_BY(mu_);
  std::string link_problem_ ABSL_GUARDED_BY(mu_);  // why the link broke first, if it did
  std::string kill_reason_ ABSL_GUARDED_BY(mu_);   // why troupd killed it, if it did (first)
  // The link ended cleanly: the host is exiting, or is killed after kExitGrace.
  bool link_ended_ ABSL_GUARDED_BY(mu_) = false;
  std::string end_reason_ ABSL_GUARDED_BY(mu_);  // set with ended_
};

}  // namespace troupe::isolation
