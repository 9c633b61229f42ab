// host_process.cc - RunHost: start, libraries, the uplink, creates, shutdown
// (host_process.h).
#include "daemon/isolation/host_process.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/common/json.h"
#include "daemon/confinement/confinement_policy.h"
#include "daemon/common/logging.h"
#include "daemon/common/mutex.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/isolation/frame_io.h"
#include "daemon/isolation/host_link.h"
#include "daemon/loader/plugin_library.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/cluster.h"

namespace troupe::isolation {
namespace {

using troupe::v1::HostFrame;

// Everything that is not an actor of this host goes to the daemon.
class Uplink final : public runtime::Cluster {
 public:
  void Attach(HostLink* link, std::string node) {
    link_ = link;
    node_ = std::move(node);
  }
  bool Forward(std::string_view node, uint64_t remote_id, runtime::Message message) override {
    return link_->Send(node == node_ ? std::string_view() : node, remote_id, std::move(message));
  }
  bool ResumeWhenRoom(std::string_view, std::function<void()> resume) override {
    return link_->ResumeWhenRoom(std::move(resume));
  }
  absl::Status Place(runtime::PlaceRequest, Placed) override {
    return absl::FailedPreconditionError(
        "an isolated host does not place children on other daemons");
  }
  std::vector<std::pair<std::string, std::string>> Members() override { return {}; }
  // The daemon holds names of the host's actors too (BindGlobalName there).
  void NameReleased(std::string_view name, std::string_view address) override {
    HostFrame frame;
    frame.mutable_name_released()->set_name(std::string(name));
    frame.mutable_name_released()->set_address(std::string(address));
    link_->SendFrame(std::move(frame));
  }
  void CapabilitiesChanged(const std::string&) override {}

 private:
  HostLink* link_ = nullptr;
  std::string node_;
};

std::string ProcFdPath(int fd) { return troupe::StrCat("/proc/self/fd/", fd); }

absl::Status CheckStart(const troupe::v1::HostStart& start) {
  if (start.node_name().empty()) return absl::InvalidArgumentError("host start: no node name");
  if (start.first_actor_id() == 0 || start.actor_id_limit() <= start.first_actor_id() ||
      start.actor_id_limit() > runtime::kActorIdLimit) {
    return absl::InvalidArgumentError(troupe::StrCat("host start: bad id range ",
                                                     start.first_actor_id(), " .. ",
                                                     start.actor_id_limit()));
  }
  bool any_actor_library = false;
  for (const troupe::v1::HostLibrary& library : start.libraries()) {
    if (library.fd() < 0) {
      return absl::InvalidArgumentError(
          troupe::StrCat("host start: library ", Quoted(library.name()), " has no descriptor"));
    }
    any_actor_library |= !library.dependency();
  }
  if (!any_actor_library) return absl::InvalidArgumentError("host start: no actor library");
  if (!start.has_confinement() || start.confinement().parent_pid() == 0) {
    return absl::InvalidArgumentError("host start: no confinement (a host never runs unconfined)");
  }
  return absl::OkStatus();
}

absl::Status Confine(const troupe::v1::HostConfinement& confinement) {
  confinement::ConfinementPolicy policy;
  policy.parent = static_cast<pid_t>(confinement.parent_pid());
  policy.limits.memory_bytes = confinement.memory_bytes();
  policy.limits.cpu_seconds = confinement.cpu_seconds();
  policy.limits.open_files = confinement.open_files();
  if (!confinement.user().empty()) policy.user = confinement.user();
  policy.files.read_only_paths.assign(confinement.read_only_paths().begin(),
                                      confinement.read_only_paths().end());
  policy.files.read_write_paths.assign(confinement.read_write_paths().begin(),
                                       confinement.read_write_paths().end());
  policy.require_landlock = confinement.require_landlock();
  policy.on_refused_syscall = confinement.kill_on_refused_syscall()
                                  ? confinement::RefusedSyscallAction::kKillProcess
                                  : confinement::RefusedSyscallAction::kFailWithEperm;
  absl::StatusOr<confinement::ConfinementReport> report = confinement::ApplyAll(policy);
  if (!report.ok()) {
    return absl::Status(report.status().code(),
                        troupe::StrCat("confinement failed: ", report.status().message()));
  }
  // Lines on stderr reach troupd's log (isolated_host.h).
  for (const std::string& skipped : report->skipped) {
    std::fprintf(stderr, "troupe-host: confinement step skipped: %s\n", skipped.c_str());
  }
  return absl::OkStatus();
}

// The host's state once started. Creates arrive on the link's reader thread.
class Host {
 public:
  explicit Host(const troupe::v1::HostStart& start) : start_(start) {
    runtime::SystemOptions options;
    options.worker_threads = static_cast<int>(start.worker_threads());
    if (start.throughput_quota() > 0) options.throughput_quota = static_cast<int>(start.throughput_quota());
    options.node_name = start.node_name();
    options.first_actor_id = start.first_actor_id();
    options.actor_id_limit = start.actor_id_limit();
    options.assigned_ids_from = start.assigned_ids_from();
    options.actor_log_lines = start.actor_log_lines();
    options.cluster = &uplink_;
    options.local_members = &uplink_;
    options.watch_handlers = start.handler_timeout_ms() > 0;
    system_ = std::make_unique<runtime::ActorSystem>(std::move(options));
  }
  ~Host() {
    if (watchdog_.joinable()) watchdog_.join();  // Finish ran: it has returned
    system_->Shutdown(absl::ZeroDuration());
    if (link_ != nullptr) link_->Close();
    link_.reset();
    system_.reset();
    libraries_.clear();
    for (auto it = dependencies_.rbegin(); it != dependencies_.rend(); ++it) dlclose(*it);
  }

  absl::Status OpenLibraries(std::vector<std::string>* classes) {
    for (const troupe::v1::HostLibrary& library : start_.libraries()) {
      const std::string path = ProcFdPath(library.fd());
      if (library.dependency()) {
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
          const char* error = dlerror();
          return absl::InvalidArgumentError(troupe::StrCat(
              "cannot load dependency ", Quoted(library.name()), ": ", error ? error : "?"));
        }
        dependencies_.push_back(handle);
        continue;
      }
      absl::StatusOr<std::unique_ptr<loader::PluginLibrary>> opened =
          loader::PluginLibrary::Open(path);
      if (!opened.ok()) {
        return absl::Status(opened.status().code(),
                            troupe::StrCat("library ", Quoted(library.name()), ": ",
                                           opened.status().message()));
      }
      TROUPE_RETURN_IF_ERROR(system_->RegisterLibrary(&(*opened)->plugin(), start_.bundle_hash()));
      for (std::string_view name : (*opened)->ClassNames()) classes->emplace_back(name);
      libraries_.push_back(*std::move(opened));
    }
    return SetCapabilities();
  }

  absl::Status SetCapabilities() {
    if (start_.capabilities_json().empty()) return absl::OkStatus();
    TROUPE_ASSIGN_OR_RETURN(nlohmann::json caps, ParseJson(start_.capabilities_json()));
    if (!caps.is_object()) return absl::InvalidArgumentError("host start: capabilities are not an object");
    for (const auto& [name, value] : caps.items()) {
      TROUPE_RETURN_IF_ERROR(system_->SetReadOnlyCapability(name, JsonText(value)).status());
    }
    return absl::OkStatus();
  }

  void Serve(int link_fd) {
    link_ = std::make_unique<HostLink>(
        link_fd, system_.get(), "troupd",
        [this](const troupe::v1::Envelope& e) {
          if (!e.to_node().empty()) {
            return absl::InvalidArgumentError("an envelope for another node reached a host");
          }
          return system_->DeliverFromRemote(e.to(), e.from(), e.type(), e.payload());
        },
        [this](HostFrame& frame) { return OnFrame(frame); },
        [this](const absl::Status& why) { Finish(absl::UnavailableError(why.message()), 0); });
    uplink_.Attach(link_.get(), start_.node_name());
  }

  void Start() {
    link_->Start();
    if (start_.handler_timeout_ms() > 0) watchdog_ = std::thread([this] { WatchHandlers(); });
  }
  HostLink& link() { return *link_; }

  // Waits for the end; returns its status and the drain asked for.
  std::pair<absl::Status, uint32_t> Wait() {
    troupe::MutexLock lock(&mu_);
    while (!finished_) cv_.Wait(&mu_);
    return {end_, drain_ms_};
  }
  runtime::ActorSystem& system() { return *system_; }

 private:
  absl::Status OnFrame(HostFrame& frame) {
    switch (frame.frame_case()) {
      case HostFrame::kCreate:
        Create(frame.create());
        return absl::OkStatus();
      case HostFrame::kShutdown:
        Finish(absl::OkStatus(), frame.shutdown().drain_ms());
        return absl::OkStatus();
      default:
        return absl::InvalidArgumentError(
            troupe::StrCat("unexpected frame ", static_cast<int>(frame.frame_case()),
                           " from the daemon"));
    }
  }

  void Create(const troupe::v1::HostCreate& create) {
    HostFrame reply;
    troupe::v1::HostCreated* created = reply.mutable_created();
    created->set_request(create.request());
    absl::StatusOr<runtime::ActorRef> actor = CreateActor(create);
    if (actor.ok()) {
      created->set_address(system_->FormatAddress(actor->get()));
    } else {
      created->set_code(static_cast<int>(actor.status().code()));
      created->set_error(std::string(actor.status().message()));
    }
    link_->SendFrame(std::move(reply));
  }

  absl::StatusOr<runtime::ActorRef> CreateActor(const troupe::v1::HostCreate& create) {
    runtime::CreateOptions options;
    if (!create.parent().empty()) {
      TROUPE_ASSIGN_OR_RETURN(options.parent, system_->ParseAddress(create.parent()));
    }
    options.id = create.id();
    options.global_name = create.global_name();
    return system_->CreateActor(create.class_name(), options);
  }

  // Looks at the running handlers a few times per timeout until the host
  // finishes; reports the first that ran over it (troupd then kills the
  // host) and stops looking.
  void WatchHandlers() {
    const absl::Duration timeout = absl::Milliseconds(start_.handler_timeout_ms());
    const absl::Duration period = std::min(timeout / 4, absl::Milliseconds(250));
    troupe::MutexLock lock(&mu_);
    while (!finished_) {
      cv_.WaitWithTimeout(&mu_, period);
      if (finished_) return;
      std::optional<runtime::HandlerWatch::Running> longest = system_->LongestRunningHandler();
      if (!longest.has_value() || longest->running < timeout) continue;
      std::fprintf(stderr, "troupe-host: a handler has run %lld ms on message '%s'\n",
                   static_cast<long long>(absl::ToInt64Milliseconds(longest->running)),
                   longest->type.c_str());
      HostFrame overrun;
      overrun.mutable_overrun()->set_type(longest->type);
      overrun.mutable_overrun()->set_running_ms(
          static_cast<uint64_t>(absl::ToInt64Milliseconds(longest->running)));
      link_->SendFrame(std::move(overrun));
      return;
    }
  }

  void Finish(absl::Status end, uint32_t drain_ms) {
    troupe::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    end_ = std::move(end);
    drain_ms_ = drain_ms;
    cv_.SignalAll();
  }

  const troupe::v1::HostStart start_;
  Uplink uplink_;
  std::vector<void*> dependencies_;
  std::vector<std::unique_ptr<loader::PluginLibrary>> libraries_;
  std::unique_ptr<runtime::ActorSystem> system_;
  std::unique_ptr<HostLink> link_;
  std::thread watchdog_;  // WatchHandlers, when handlers are watched
  troupe::Mutex mu_;
  troupe::CondVar cv_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_ ABSL_GUARDED_BY(mu_);
  uint32_t drain_ms_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::Status RunHost(int link_fd) {
  HostFrame first;
  std::string buffer;
  if (absl::Status s = ReadFrame(link_fd, &first, &buffer); !s.ok()) {
    return absl::Status(s.code(), troupe::StrCat("reading the host start: ", s.message()));
  }
  if (!first.has_start()) {
    return absl::InvalidArgumentError("the first frame from the daemon is not a host start");
  }
  TROUPE_RETURN_IF_ERROR(CheckStart(first.start()));
  // Still one thread: confinement comes before any thread or bundle code.
  TROUPE_RETURN_IF_ERROR(Confine(first.start().confinement()));
  Host host(first.start());
  host.Serve(link_fd);
  std::vector<std::string> classes;
  absl::Status opened = host.OpenLibraries(&classes);
  HostFrame ready;
  if (!opened.ok()) return opened;
  ready.mutable_ready()->set_pid(static_cast<uint32_t>(getpid()));
  for (std::string& name : classes) ready.mutable_ready()->add_classes(std::move(name));
  host.link().SendFrame(std::move(ready));
  host.Start();
  auto [end, drain_ms] = host.Wait();
  if (end.ok()) {
    host.system().Shutdown(absl::Milliseconds(drain_ms));
    // The exit notices of the actors go out before the host does.
    (void)host.link().Flush(absl::Seconds(5));
  }
  return end;
}

}  // namespace troupe::isolation
