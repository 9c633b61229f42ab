// isolated_host.cc - spawning, watching and talking to one isolated host
// (isolated_host.h).
#include "daemon/isolation/isolated_host.h"

#include "daemon/isolation/local_members.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "daemon/common/child_process.h"
#include "daemon/common/logging.h"
#include "daemon/common/posix_io.h"
#include "daemon/common/small_file.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/addresses.h"
#include "daemon/runtime/cell.h"
#include "daemon/runtime/envelope.h"
#include "troupe/abi.h"
#include "troupe/wire.h"

extern char** environ;

namespace troupe::isolation {
namespace {

// Descriptors of the host: 0 /dev/null, 1 and 2 the stderr pipe, 3 the link,
// then the libraries from 4 on.
constexpr int kLinkFd = 3;
constexpr int kFirstLibraryFd = 4;
// Sources are copied this high first, so no dup2 target clobbers a source.
constexpr int kHighFd = 100;
// How long a host that closed its link may take to exit before it is killed.
constexpr absl::Duration kExitGrace = absl::Seconds(2);

absl::Status CheckOptions(const IsolatedHostOptions& options) {
  if (options.first_actor_id == 0 || options.actor_id_limit <= options.first_actor_id) {
    return absl::InvalidArgumentError(troupe::StrCat(options.name, ": bad actor id range ",
                                                     options.first_actor_id, " .. ",
                                                     options.actor_id_limit));
  }
  bool any = false;
  for (const HostLibraryFile& library : options.libraries) {
    if (library.fd < 0) {
      return absl::InvalidArgumentError(troupe::StrCat(options.name, ": library ",
                                                       Quoted(library.name), " is not open"));
    }
    any |= !library.dependency;
  }
  if (!any) return absl::InvalidArgumentError(troupe::StrCat(options.name, ": no actor library"));
  return absl::OkStatus();
}

// The host's environment: `given`, and the sanitizers' options of troupd's.
std::vector<std::string> HostEnvironment(const std::vector<std::string>& given) {
  std::vector<std::string> out = given;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    for (std::string_view name : {"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "TSAN_OPTIONS=",
                                  "LSAN_OPTIONS="}) {
      if (text.substr(0, name.size()) == name) out.emplace_back(text);
    }
  }
  return out;
}

// "host process killed by signal 11 (SIGSEGV)", "host process exited with code 1".
std::string EndText(int wait_status) {
  std::string text = WaitStatusText(wait_status);
  if (text.rfind("was ", 0) == 0) text.erase(0, 4);
  return troupe::StrCat("host process ", text);
}

}  // namespace

absl::StatusOr<std::unique_ptr<IsolatedHost>> IsolatedHost::Spawn(runtime::ActorSystem* system,
                                                                  IsolatedHostOptions options,
                                                                  EndedFn ended) {
  TROUPE_RETURN_IF_ERROR(CheckOptions(options));
  std::unique_ptr<IsolatedHost> host(new IsolatedHost(system, std::move(options), std::move(ended)));
  TROUPE_RETURN_IF_ERROR(host->Start());
  return host;
}

absl::Status IsolatedHost::Start() {
  int link[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) != 0) {
    return ErrnoError(errno, options_.name, "cannot make the host's socket pair");
  }
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(link[0]);
    ::close(link[1]);
    return ErrnoError(e, options_.name, "cannot make the host's stderr pipe");
  }
  std::vector<int> sources;  // high copies, closed after the spawn
  const auto high_copy = [&sources](int fd) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, kHighFd);
    sources.push_back(copy);
    return copy;
  };
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  const int err_copy = high_copy(err[1]);
  posix_spawn_file_actions_adddup2(&actions, err_copy, 1);
  posix_spawn_file_actions_adddup2(&actions, err_copy, 2);
  posix_spawn_file_actions_adddup2(&actions, high_copy(link[1]), kLinkFd);
  troupe::v1::HostFrame start_frame;
  troupe::v1::HostStart* start = start_frame.mutable_start();
  int next_fd = kFirstLibraryFd;
  for (const HostLibraryFile& library : options_.libraries) {
    posix_spawn_file_actions_adddup2(&actions, high_copy(library.fd), next_fd);
    troupe::v1::HostLibrary* entry = start->add_libraries();
    entry->set_name(library.name);
    entry->set_fd(next_fd++);
    entry->set_dependency(library.dependency);
  }
  posix_spawn_file_actions_addclosefrom_np(&actions, next_fd);
  posix_spawnattr_t attr;
  InitChildSpawnAttributes(&attr);
  std::string link_fd_text = std::to_string(kLinkFd);
  std::vector<char*> argv = {const_cast<char*>(options_.program.c_str()),
                             const_cast<char*>("--link-fd"), link_fd_text.data(), nullptr};
  std::vector<std::string> environment = HostEnvironment(options_.environment);
  std::vector<char*> envp;
  for (std::string& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  bool copies_ok = true;
  for (int fd : sources) copies_ok &= fd >= 0;
  const int rc = copies_ok ? ::posix_spawn(&pid_, options_.program.c_str(), &actions, &attr,
                                           argv.data(), envp.data())
                           : EMFILE;
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  for (int fd : sources) {
    if (fd >= 0) ::close(fd);
  }
  ::close(link[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(link[0]);
    ::close(err[0]);
    pid_ = -1;
    return ErrnoError(rc, options_.program, "cannot start the isolated host program");
  }
  pidfd_ = PidfdOpen(pid_);
  if (pidfd_ < 0) {
    const int e = errno;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ::close(link[0]);
    ::close(err[0]);
    return ErrnoError(e, options_.name, "cannot watch the host process (pidfd_open)");
  }
  stderr_fd_ = err[0];
  ::fcntl(stderr_fd_, F_SETFL, O_NONBLOCK);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    const int e = errno;
    Kill();
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ::close(link[0]);
    return ErrnoError(e, options_.name, "cannot make the watcher's eventfd");
  }

  start->set_node_name(system_->options().node_name);
  start->set_first_actor_id(options_.first_actor_id);
  start->set_actor_id_limit(options_.actor_id_limit);
  start->set_bundle_hash(options_.bundle_hash);
  start->set_group(options_.group);
  start->set_version(options_.version);
  start->set_worker_threads(options_.worker_threads);
  start->set_throughput_quota(options_.throughput_quota);
  start->set_actor_log_lines(options_.actor_log_lines);
  start->set_capabilities_json(options_.capabilities_json);
  *start->mutable_confinement() = options_.confinement;
  start->mutable_confinement()->set_parent_pid(static_cast<uint32_t>(::getpid()));
  const uint64_t assigned_from =
      options_.first_actor_id + (options_.actor_id_limit - options_.first_actor_id) / 2;
  start->set_assigned_ids_from(assigned_from);
  start->set_handler_timeout_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.handler_timeout)));
  {
    troupe::MutexLock lock(&mu_);
    next_assigned_id_ = assigned_from;
  }

  const std::string node = system_->options().node_name;
  HostLinkOptions link_options;
  link_options.max_frame_bytes = options_.max_frame_bytes;
  // Reports only of what troupd sent the host: its own actors.
  link_options.accept_report = [this](const troupe::v1::Envelope& e) {
    return e.to_node().empty() && e.to() >= options_.first_actor_id &&
           e.to() < options_.actor_id_limit;
  };
  link_ = std::make_unique<HostLink>(
      link[0], system_, options_.name,
      [this, node](const troupe::v1::Envelope& e) -> absl::Status {
        TROUPE_RETURN_IF_ERROR(CheckFromHost(e));
        return system_->RelayFromLocalMember(e.to_node().empty() ? node : e.to_node(), e.to(),
                                             e.from(), e.type(), e.payload());
      },
      [this](troupe::v1::HostFrame& frame) { return OnFrame(frame); },
      [this](const absl::Status& why) { OnLinkClosed(why); }, link_options);
  link_->SendFrame(std::move(start_frame));
  link_->Start();
  if (options_.members != nullptr) options_.members->Add(this);
  watcher_ = std::thread([this] { Watch(); });
  return absl::OkStatus();
}

IsolatedHost::~IsolatedHost() {
  if (options_.members != nullptr) options_.members->Remove(this);
  if (pid_ > 0) {
    Kill();
    if (watcher_.joinable()) watcher_.join();
  }
  link_.reset();
  if (pidfd_ >= 0) ::close(pidfd_);
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void IsolatedHost::Create(std::string_view class_name, std::string_view parent,
                          CreatedFn created) {
  uint64_t request = 0;
  {
    troupe::MutexLock lock(&mu_);
    if (!ended_) {
      request = next_request_++;
      creates_.emplace(request, std::move(created));
    }
  }
  if (request == 0) {
    created(absl::UnavailableError(troupe::StrCat(options_.name, " is not running")));
    return;
  }
  troupe::v1::HostFrame frame;
  troupe::v1::HostCreate* create = frame.mutable_create();
  create->set_request(request);
  create->set_class_name(std::string(class_name));
  create->set_parent(std::string(parent));
  link_->SendFrame(std::move(frame));
}

absl::StatusOr<runtime::ActorRef> IsolatedHost::CreateNow(std::string_view class_name,
                                                          const runtime::ActorRef& parent,
                                                          std::string_view global_name) {
  uint64_t id;
  uint64_t request;
  {
    troupe::MutexLock lock(&mu_);
    if (ended_) return absl::UnavailableError(troupe::StrCat(options_.name, " is not running"));
    if (ready_ && std::find(classes_.begin(), classes_.end(), class_name) == classes_.end()) {
      return absl::NotFoundError(troupe::StrCat(options_.name, " has no actor class ",
                                                Quoted(class_name)));
    }
    if (next_assigned_id_ >= options_.actor_id_limit) {
      return absl::ResourceExhaustedError(troupe::StrCat(options_.name, " has used all its ids"));
    }
    id = next_assigned_id_++;
    request = next_request_++;
  }
  TROUPE_ASSIGN_OR_RETURN(
      runtime::ActorRef actor,
      system_->ParseAddress(troupe::StrCat("troupe://", system_->options().node_name, "/", id)));
  // A parent of this daemon adopts it (it hears of the host's end); one on
  // another daemon (convention placement) hears of its exit from the host.
  if (parent && (parent->remote() == nullptr ||
                 parent->remote()->node == system_->options().node_name)) {
    TROUPE_RETURN_IF_ERROR(system_->AdoptRemoteChild(parent, actor));
  }
  const std::string expected = system_->FormatAddress(actor.get());
  std::string ended_with;
  {
    troupe::MutexLock lock(&mu_);
    if (ended_) {
      ended_with = end_reason_;  // the watcher's report may have missed it
    } else {
      // If the host cannot make it (or answers with another actor), it is
      // gone: its parent hears why.
      creates_.emplace(request, [this, id, expected](absl::StatusOr<std::string> address) {
        if (address.ok() && *address == expected) return;
        system_->LocalMemberLost(
            id, id + 1,
            troupe::StrCat("could not be created: ",
                           address.ok() ? troupe::StrCat("the host made ", *address, " instead")
                                        : std::string(address.status().message())));
      });
    }
  }
  if (!ended_with.empty()) {
    system_->LocalMemberLost(id, id + 1, ended_with);
    return actor;  // gone already, as a create whose actor fails at once
  }
  troupe::v1::HostFrame frame;
  troupe::v1::HostCreate* create = frame.mutable_create();
  create->set_request(request);
  create->set_class_name(std::string(class_name));
  if (parent) create->set_parent(system_->FormatAddress(parent.get()));
  create->set_global_name(std::string(global_name));
  create->set_id(id);
  link_->SendFrame(std::move(frame));
  return actor;
}

absl::Status IsolatedHost::CheckFromHost(const troupe::v1::Envelope& e) const {
  // A host speaks only for its own actors.
  if (!e.from().empty() && !IsOwnAddress(e.from())) {
    return absl::PermissionDeniedError(
        troupe::StrCat("sender ", Quoted(e.from()), " is not an actor of this host"));
  }
  if (!runtime::IsReservedType(e.type())) return absl::OkStatus();
  // Of the runtime's own messages a host sends only its actors' exit notices
  // (each about its sender) and answers to troupd's barriers.
  if (e.type() == runtime::kSyncReplyType) return absl::OkStatus();
  if (e.type() == TROUPE_MSG_CHILD_EXITED) {
    std::string_view payload = e.payload();
    std::string_view child;
    if (!e.from().empty() && wire::ReadField(&payload, &child) && child == e.from()) {
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError(troupe::StrCat(
        "an exit notice from ", Quoted(e.from()), " about another actor"));
  }
  return absl::PermissionDeniedError(
      troupe::StrCat("message type ", Quoted(e.type()), " is reserved to the runtime"));
}

bool IsolatedHost::IsOwnAddress(std::string_view address) const {
  absl::StatusOr<runtime::AddressParts> parts = runtime::SplitAddress(address);
  return parts.ok() && parts->node == system_->options().node_name &&
         parts->id >= options_.first_actor_id && parts->id < options_.actor_id_limit;
}

absl::Status IsolatedHost::OnFrame(troupe::v1::HostFrame& frame) {
  if (frame.has_name_released()) {
    const troupe::v1::HostNameReleased& released = frame.name_released();
    if (!IsOwnAddress(released.address())) {
      return absl::InvalidArgumentError(troupe::StrCat(
          "the host released a name of ", Quoted(released.address()), ", not an actor of its own"));
    }
    system_->LocalMemberNameReleased(released.name(), released.address());
    return absl::OkStatus();
  }
  if (frame.has_ready()) {
    troupe::MutexLock lock(&mu_);
    ready_ = true;
    classes_.assign(frame.ready().classes().begin(), frame.ready().classes().end());
    cv_.SignalAll();
    return absl::OkStatus();
  }
  if (frame.has_created()) return OnCreated(frame.created());
  if (frame.has_overrun() && options_.handler_timeout > absl::ZeroDuration()) {
    {
      troupe::MutexLock lock(&mu_);
      if (kill_reason_.empty()) {
        kill_reason_ = troupe::StrCat("handler ran over ",
                                      absl::ToInt64Milliseconds(options_.handler_timeout),
                                      " ms on message ", Quoted(frame.overrun().type()),
                                      "; the host was killed");
      }
    }
    Kill();
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(troupe::StrCat(
      "unexpected frame ", static_cast<int>(frame.frame_case()), " from the host"));
}

absl::Status IsolatedHost::OnCreated(const troupe::v1::HostCreated& created) {
  {
    CreatedFn done;
    {
      troupe::MutexLock lock(&mu_);
      auto it = creates_.find(created.request());
      if (it == creates_.end()) {
        return absl::InvalidArgumentError(
            troupe::StrCat("the host answered create request ", created.request(),
                           " that was not made"));
      }
      done = std::move(it->second);
      creates_.erase(it);
    }
    if (created.code() != 0) {
      const int code = created.code();
      done(absl::Status(code > 0 && code <= 16 ? static_cast<absl::StatusCode>(code)
                                               : absl::StatusCode::kUnknown,
                        created.error()));
      return absl::OkStatus();
    }
    if (!IsOwnAddress(created.address())) {
      done(absl::InternalError(troupe::StrCat(options_.name, " answered a create with ",
                                              Quoted(created.address()),
                                              ", not an address of its own")));
      return absl::InvalidArgumentError("the host answered a create with a foreign address");
    }
    done(created.address());
    return absl::OkStatus();
  }
}

void IsolatedHost::OnLinkClosed(const absl::Status& why) {
  {
    troupe::MutexLock lock(&mu_);
    if (ended_) return;
    if (absl::IsUnavailable(why)) {
      // The host closed it: it is exiting (or is killed after kExitGrace).
      link_ended_ = true;
      const uint64_t one = 1;
      (void)!::write(wake_fd_, &one, sizeof one);
      return;
    }
    link_problem_ = std::string(why.message());
  }
  // A host that broke its link is of no use: it ends now (the watcher reports).
  Kill();
}

void IsolatedHost::Kill() {
  // Through the pidfd: never another process that took the pid after a reap.
  ::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
}

bool IsolatedHost::WaitEnded(absl::Duration timeout) {
  const absl::Time deadline =
      timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
  troupe::MutexLock lock(&mu_);
  while (!ended_) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return ended_;
}

void IsolatedHost::Stop(absl::Duration drain, absl::Duration grace) {
  stop_requested_.store(true, std::memory_order_release);
  troupe::v1::HostFrame frame;
  frame.mutable_shutdown()->set_drain_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(drain)));
  link_->SendFrame(std::move(frame));
  if (!WaitEnded(drain + grace)) Kill();
  WaitEnded(absl::InfiniteDuration());
}

absl::Status IsolatedHost::WaitReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  troupe::MutexLock lock(&mu_);
  while (!ready_ && !ended_) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  if (ready_) return absl::OkStatus();
  if (ended_) {
    std::string why = troupe::StrCat(options_.name, ": ", end_reason_);
    if (!stderr_lines_.empty()) troupe::StrAppend(&why, " (it wrote: ", stderr_lines_.back(), ")");
    return absl::UnavailableError(why);
  }
  return absl::DeadlineExceededError(troupe::StrCat(options_.name, " did not start within ",
                                                    absl::FormatDuration(timeout)));
}

bool IsolatedHost::ended() const {
  troupe::MutexLock lock(&mu_);
  return ended_;
}

bool IsolatedHost::ready() const {
  troupe::MutexLock lock(&mu_);
  return ready_;
}

std::vector<std::string> IsolatedHost::classes() const {
  troupe::MutexLock lock(&mu_);
  return classes_;
}

std::vector<std::string> IsolatedHost::last_stderr() const {
  troupe::MutexLock lock(&mu_);
  return {stderr_lines_.begin(), stderr_lines_.end()};
}

uint64_t IsolatedHost::ResidentBytes() const {
  if (ended()) return 0;  // reaped: the pid may be another process's now
  absl::StatusOr<std::string> statm =
      ReadSmallFile(troupe::StrCat("/proc/", pid_, "/statm"), 4096, {});
  if (!statm.ok()) return 0;
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(statm->c_str(), "%llu %llu", &size, &resident) != 2) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

void IsolatedHost::KeepStderr(std::string_view bytes) {
  std::vector<std::string> complete;
  {
    troupe::MutexLock lock(&mu_);
    stderr_partial_.append(bytes.data(), bytes.size());
    size_t newline;
    while ((newline = stderr_partial_.find('\n')) != std::string::npos ||
           stderr_partial_.size() >= 4096) {
      const size_t end = newline == std::string::npos ? stderr_partial_.size() : newline;
      complete.push_back(stderr_partial_.substr(0, end));
      stderr_partial_.erase(0, newline == std::string::npos ? end : end + 1);
    }
    for (const std::string& line : complete) {
      stderr_lines_.push_back(line);
      if (stderr_lines_.size() > options_.stderr_lines_kept) stderr_lines_.pop_front();
    }
  }
  for (const std::string& line : complete) LogInfo(options_.name, " (pid ", pid_, "): ", line);
}

void IsolatedHost::Watch() {
  char buffer[4096];
  bool reading = true;
  int wait_status = 0;
  absl::Time kill_at = absl::InfiniteFuture();
  for (;;) {
    pollfd fds[3] = {{pidfd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
    const absl::Duration timeout = kill_at == absl::InfiniteFuture()
                                       ? absl::InfiniteDuration()
                                       : std::max(kill_at - absl::Now(), absl::ZeroDuration());
    const int ready = PollFor(fds, reading ? 3 : 2, timeout);
    if (ready < 0) {
      // Cannot watch any more: end it, and wait for that.
      LogError(options_.name, ": poll failed (", ErrnoText(errno), "); killing the host");
      Kill();
      ::waitpid(pid_, &wait_status, 0);
      break;
    }
    if (ready == 0 && kill_at != absl::InfiniteFuture()) {
      {
        troupe::MutexLock lock(&mu_);
        link_problem_ = troupe::StrCat("it closed its link but did not exit within ",
                                       absl::FormatDuration(kExitGrace));
      }
      Kill();
      kill_at = absl::InfiniteFuture();
    }
    if ((fds[1].revents & POLLIN) != 0) {
      uint64_t count;
      (void)!::read(wake_fd_, &count, sizeof count);
      troupe::MutexLock lock(&mu_);
      if (link_ended_ && kill_at == absl::InfiniteFuture()) kill_at = absl::Now() + kExitGrace;
    }
    if (reading && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::read(stderr_fd_, buffer, sizeof buffer);
      if (n > 0) {
        KeepStderr(std::string_view(buffer, static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        reading = false;
      }
    }
    if ((fds[0].revents & POLLIN) != 0) {
      ::waitpid(pid_, &wait_status, 0);
      break;
    }
  }
  // What the host wrote last is still in the pipe.
  for (ssize_t n; (n = ::read(stderr_fd_, buffer, sizeof buffer)) > 0;) {
    KeepStderr(std::string_view(buffer, static_cast<size_t>(n)));
  }
  {
    troupe::MutexLock lock(&mu_);
    if (!stderr_partial_.empty()) {
      stderr_lines_.push_back(std::exchange(stderr_partial_, {}));
      if (stderr_lines_.size() > options_.stderr_lines_kept) stderr_lines_.pop_front();
    }
  }
  std::string reason;
  {
    troupe::MutexLock lock(&mu_);
    reason = !kill_reason_.empty() ? kill_reason_
             : link_problem_.empty()
                 ? EndText(wait_status)
                 : troupe::StrCat("host process broke its link (", link_problem_,
                                  ") and was killed");
  }
  link_->Close(absl::UnavailableError(reason));
  absl::flat_hash_map<uint64_t, CreatedFn> creates;
  std::vector<std::string> lines;
  {
    troupe::MutexLock lock(&mu_);
    ended_ = true;
    end_reason_ = reason;
    creates.swap(creates_);
    lines.assign(stderr_lines_.begin(), stderr_lines_.end());
    cv_.SignalAll();
  }
  if (options_.members != nullptr) options_.members->Remove(this);
  // The owner first: its report of the host's end (LocalMemberLost) gives
  // each of its actors the host's reason, which the creates' failures below
  // then do not repeat.
  if (ended_fn_) ended_fn_(this, reason, lines);
  for (auto& [request, done] : creates) {
    done(absl::UnavailableError(troupe::StrCat(options_.name, ": ", reason)));
  }
  finished_.store(true, std::memory_order_release);
}

}  // namespace troupe::isolation
