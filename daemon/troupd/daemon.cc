// daemon.cc - builds and tears down the parts of troupd.
#include "daemon/troupd/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "absl/strings/str_join.h"
#include "daemon/common/logging.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/convention/convention.h"
#include "daemon/convention/peer_guard.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/isolation/local_members.h"
#include "daemon/peerauth/convention_key.h"
#include "daemon/peerauth/tls.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/service/admin_service.h"
#include "daemon/service/ask_router.h"
#include "daemon/service/blocking_calls.h"
#include "daemon/service/call_gate.h"
#include "daemon/service/client_auth.h"
#include "daemon/service/messaging_service.h"
#include "daemon/troupd/http_supervisor.h"
#include "daemon/troupd/node_capabilities.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace troupe::troupd {
namespace {

constexpr std::string_view kTroupeVersion = TROUPE_VERSION;
// Room for framing around the largest allowed payload in one gRPC message.
constexpr int kGrpcMessageSlack = 4 << 20;
// What a client's batch may add to its largest message (the SDK's batches
// hold at most 1 MiB), and the largest batch a peer's link sends
// (convention::ConventionOptions::max_message_bytes).
constexpr uint64_t kBatchBytes = 1 << 20;
constexpr uint64_t kMaxPeerBatchBytes = 64 << 20;

// True when something accepts connections on the unix socket at `path`.
bool SocketAnswers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool answers = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return answers;
}

// Takes <socket>.lock (flock, held until the daemon exits: the kernel drops
// it even after kill -9), so two daemons can never serve one socket path.
// Returns the lock's descriptor.
absl::StatusOr<int> LockSocketPath(const std::string& path) {
  const std::string lock_path = path + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        troupe::StrCat("cannot open ", lock_path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(troupe::StrCat("another troupd already serves ", path,
                                                        " (it holds ", lock_path,
                                                        "); stop it first (`director shutdown`)"));
  }
  return fd;
}

// Removes a stale socket file (left by a daemon that died). Call with the
// socket's lock held.
absl::Status ClaimSocket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          troupe::StrCat(path, " exists and is not a socket; remove it or set another `socket`"));
    }
    if (SocketAnswers(path)) {
      return absl::FailedPreconditionError(troupe::StrCat("another troupd already serves ", path,
                                                          "; stop it first (`director shutdown`)"));
    }
    ::unlink(path.c_str());  // left by a daemon that died
  }
  return absl::OkStatus();
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

struct Daemon::Parts {
  ~Parts() {
    // (Also when Start failed half-way.) The isolated hosts end before what
    // their ends reach: the ask router and the local members.
    if (host != nullptr) {
      host->SetHostLostObserver(nullptr);
      host->Shutdown();
    }
    if (system != nullptr) system->SetLocalMembers(nullptr);
    if (socket_lock_fd >= 0) ::close(socket_lock_fd);
  }
  int socket_lock_fd = -1;
  ino_t socket_inode = 0;  // of the socket we bound: only that one is removed at stop
  config::DaemonSettings settings;
  std::function<void(std::string_view)> on_phase;
  std::unique_ptr<runtime::ActorSystem> system;
  // The isolated hosts' slots of the node's ids (the system's local
  // members); outlives the bundle host, which owns the hosts.
  std::unique_ptr<isolation::LocalMembers> members;
  std::unique_ptr<hosting::BundleHost> host;
  std::unique_ptr<service::AskRouter> asks;
  // Where the services make calls that wait for a peer or the leader;
  // declared before them: they use it until the server has shut down.
  std::unique_ptr<service::BlockingCalls> blocking;
  service::ClientAuth auth;
  service::DaemonFacts facts;
  std::unique_ptr<service::AdminService> admin;
  std::unique_ptr<service::MessagingService> messaging;
  // Declared before the server: its service must outlive the server.
  std::unique_ptr<convention::PeerGuard> guard;
  std::unique_ptr<convention::Convention> convention;
  std::unique_ptr<service::CallGate> gate;  // the TCP listener's; outlives the server
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<HttpSupervisor> http;  // when listen_http is set
  std::vector<std::string> restore_problems;
  int tcp_port = 0;

  troupe::Mutex mu;
  troupe::CondVar cv;
  bool stop_requested ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;

  void Phase(std::string_view text) {
    LogInfo(text);
    if (on_phase) on_phase(text);
  }
};

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const config::Config& config,
                                                      DaemonOptions options) {
  if (absl::Status ok = config.Check(); !ok.ok()) {
    return absl::FailedPreconditionError(troupe::StrCat(
        "the configuration in ", config.config_dir(), " is invalid:\n", ok.message()));
  }
  auto parts = std::make_unique<Parts>();
  TROUPE_ASSIGN_OR_RETURN(parts->settings, config.Daemon());
  config::DaemonSettings& settings = parts->settings;
  if (!options.socket_path.empty()) settings.socket_path = options.socket_path;
  if (!options.listen_tcp.empty()) settings.listen_tcp = options.listen_tcp;
  if (!options.listen_http.empty()) settings.listen_http = options.listen_http;
  parts->on_phase = std::move(options.on_phase);

  {
    // The directory first: the lock file lives next to the socket. Created
    // 0700 when missing; refused when others could swap the socket (also one
    // --socket placed, which Config::Check did not see).
    const std::string dir = std::filesystem::path(settings.socket_path).parent_path().string();
    TROUPE_RETURN_IF_ERROR(config::EnsurePrivateDirectory("socket directory", dir, ::geteuid()));
  }
  TROUPE_ASSIGN_OR_RETURN(parts->socket_lock_fd, LockSocketPath(settings.socket_path));
  TROUPE_RETURN_IF_ERROR(ClaimSocket(settings.socket_path));
  if (!settings.listen_tcp.empty() || !settings.listen_http.empty()) {
    // keys/ holds the client token (TCP and HTTP clients send it): created
    // 0700 (whatever the umask).
    TROUPE_RETURN_IF_ERROR(
        config::EnsurePrivateDirectory("keys directory", config.keys_dir(), ::geteuid()));
    TROUPE_ASSIGN_OR_RETURN(parts->auth,
                            service::ClientAuth::FromTokenFile(settings.client_token_path));
  }

  runtime::SystemOptions system_options;
  system_options.worker_threads = settings.worker_threads;
  system_options.actor_log_lines = settings.actor_log_lines;
  // Addresses name the node by its TCP listener when it has a fixed one
  // (remote peers reach it there), else by host name. A port chosen by the
  // kernel (":0") is not known yet: the host name it is.
  const bool fixed_port = !settings.listen_tcp.empty() &&
                          settings.listen_tcp.substr(settings.listen_tcp.rfind(':')) != ":0";
  system_options.node_name = fixed_port ? settings.listen_tcp : HostName();
  // The daemon's own actors take the first slot of ids; isolated hosts the
  // others (daemon/isolation/local_members.h).
  system_options.actor_id_limit = isolation::kDaemonIdLimit;
  parts->system = std::make_unique<runtime::ActorSystem>(system_options);
  parts->members = std::make_unique<isolation::LocalMembers>(parts->system.get());
  parts->system->SetLocalMembers(parts->members.get());
  // Before the restore: a bundle's requirements may need them.
  TROUPE_RETURN_IF_ERROR(InstallCapabilities(config.dir(), kTroupeVersion, parts->system.get()));

  TROUPE_ASSIGN_OR_RETURN(bundle::Limits limits, config.BundleLimits());
  hosting::HostOptions host_options;
  host_options.troupe_dir = config.dir();
  host_options.limits = limits;  // max_entries, max_entry_bytes, ...: what loads may hold
  // Libraries go under TROUPE_DIR (BundleHost's default), not next to the
  // socket: /run is mounted noexec on Debian.
  host_options.restart_limit = settings.restart_limit;
  host_options.restart_window = settings.restart_window;
  host_options.drain_timeout = settings.drain_timeout;
  host_options.isolation_default = settings.isolation_default;
  host_options.isolated_hosts = settings.isolated_hosts;
  host_options.local_members = parts->members.get();
  host_options.host_program =
      options.host_program.empty() ? ProgramBesideSelf("troupe-host") : options.host_program;
  host_options.on_restore_progress = options.on_restore_progress;
  parts->host = std::make_unique<hosting::BundleHost>(parts->system.get(), host_options);
  parts->Phase("restoring the loaded bundles");
  parts->restore_problems = parts->host->Restore();
  for (const std::string& problem : parts->restore_problems) {
    LogError("could not restore a bundle: ", problem);
  }

  parts->asks = std::make_unique<service::AskRouter>(parts->system.get());
  {
    // Asks waiting on the actors of an isolated host that ended fail now.
    service::AskRouter* asks = parts->asks.get();
    const std::string node = system_options.node_name;
    parts->host->SetHostLostObserver(
        [asks, node](uint64_t first, uint64_t limit, const std::string& reason) {
          asks->FailAsksToRange(node, first, limit, reason);
        });
  }
  parts->blocking = std::make_unique<service::BlockingCalls>();
  parts->messaging = std::make_unique<service::MessagingService>(
      parts->system.get(), parts->host.get(), parts->asks.get(), parts->blocking.get(),
      &parts->auth, settings.max_message_bytes);
  Parts* raw = parts.get();
  parts->admin = std::make_unique<service::AdminService>(
      parts->system.get(), parts->host.get(), &parts->auth, &parts->facts, parts->blocking.get(),
      [raw] {
        troupe::MutexLock lock(&raw->mu);
        raw->stop_requested = true;
        raw->cv.SignalAll();
      },
      /*max_upload_bytes=*/limits.max_file_bytes);

  // A convention needs a fixed TCP listener (the node name peers dial) and
  // the convention key; without convleader this daemon leads.
  std::shared_ptr<grpc::ServerCredentials> tcp_credentials = grpc::InsecureServerCredentials();
  if (peerauth::TlsConfigured(settings)) {
    TROUPE_ASSIGN_OR_RETURN(tcp_credentials, peerauth::MakeServerCredentials(settings));
  }
  const bool key_present = std::filesystem::exists(settings.convention_key_path);
  if (!settings.convention_leader.empty() || key_present) {
    if (!fixed_port) {
      if (!settings.convention_leader.empty()) {
        return absl::FailedPreconditionError(troupe::StrCat(
            "convleader is set (", settings.convention_leader,
            "), so this daemon joins a convention: it needs listen_tcp with a fixed port (its "
            "address in the convention)"));
      }
      LogInfo("convention key present but no fixed listen_tcp: taking part in no convention");
    } else {
      TROUPE_ASSIGN_OR_RETURN(peerauth::ConventionKey key,
                              peerauth::ConventionKey::Load(settings.convention_key_path));
      std::shared_ptr<grpc::ChannelCredentials> channel_credentials =
          grpc::InsecureChannelCredentials();
      peerauth::PeerVerifierOptions verifier_options;
      verifier_options.tcp_calls_admitted_by_gate = true;  // see the TCP listener below
      if (peerauth::TlsConfigured(settings)) {
        TROUPE_ASSIGN_OR_RETURN(channel_credentials, peerauth::MakeChannelCredentials(settings));
        verifier_options.require_client_certificate = true;
      }
      parts->guard = std::make_unique<convention::PeerGuard>(
          key, system_options.node_name, channel_credentials, verifier_options);
      convention::ConventionOptions convention_options;
      convention_options.self = system_options.node_name;
      convention_options.leader = settings.convention_leader;
      convention_options.checkin_interval = settings.checkin_interval;
      convention_options.missed_checkins = settings.missed_checkins;
      convention_options.allow_remote_sources = settings.allow_remote_actor_sources;
      convention_options.troupe_version = std::string(kTroupeVersion);
      convention_options.guard = parts->guard.get();
      service::AskRouter* asks = parts->asks.get();
      convention_options.on_node_lost = [asks](const std::string& node, const std::string& reason) {
        asks->FailAsksTo(node, reason);
      };
      service::ConventionWatch* watch = &parts->admin->convention_watch();
      convention_options.on_change = [watch] { watch->Changed(); };
      parts->convention = std::make_unique<convention::Convention>(
          std::move(convention_options), parts->system.get(), parts->host.get());
      convention::Convention* conv = parts->convention.get();
      parts->messaging->SetPlaceElsewhere(
          [conv](const v1::CreateActorRequest& request, const absl::Status& local_problem) {
            return conv->PlaceElsewhere(request, local_problem);
          });
      // Names given through CreateActor are convention-wide; names a lookup
      // does not find here are asked of the leader (docs/convention.md).
      service::ConventionNames names;
      names.find = [conv](const std::string& name) { return conv->FindName(name); };
      names.create = [conv](const std::string& name,
                            const std::function<absl::StatusOr<std::string>()>& create) {
        return conv->CreateNamed(name, create);
      };
      parts->messaging->SetConventionNames(std::move(names));
      parts->facts.convention_status = [conv] { return conv->Status(); };
      parts->facts.invite_member = [conv](const std::string& address) {
        return conv->Invite(address);
      };
    }
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default: a second troupd given the same
  // listen_tcp would then share the port (peers reaching either daemon at
  // random) instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort("unix:" + settings.socket_path, grpc::InsecureServerCredentials());
  if (!settings.listen_tcp.empty()) {
    // Every TCP call proves who sends it in its headers, before any body is
    // read (call_gate.h). Every TCP listener must have the gate: the peer
    // verifier counts on it for the nonces of TCP calls
    // (tcp_calls_admitted_by_gate, above).
    service::CallGate::PeerCheck peer_check;
    if (convention::PeerGuard* guard = parts->guard.get()) {
      peer_check = [guard](std::optional<std::string_view> value, std::string_view method) {
        return guard->Admit(value, method);
      };
    }
    parts->gate = std::make_unique<service::CallGate>(&parts->auth, std::move(peer_check));
    builder.AddListeningPort(
        settings.listen_tcp,
        parts->gate->Guard(peerauth::TlsConfigured(settings) ? tcp_credentials : nullptr),
        &parts->tcp_port);
  }
  // One gRPC message carries at most a client message (with its batch), or a
  // peer's batch of envelopes; bundles travel in chunks (Admin.LoadUpload).
  const uint64_t max_grpc =
      std::max<uint64_t>(settings.max_message_bytes + kBatchBytes, kMaxPeerBatchBytes) +
      kGrpcMessageSlack;
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<uint64_t>(max_grpc, std::numeric_limits<int>::max())));
  // Answers may be larger: a whole bundle to a peer (Convention.FetchBundle).
  const uint64_t max_send =
      std::max<uint64_t>(max_grpc, limits.max_total_bytes + kGrpcMessageSlack);
  builder.SetMaxSendMessageSize(
      static_cast<int>(std::min<uint64_t>(max_send, std::numeric_limits<int>::max())));
  builder.RegisterService(parts->admin.get());
  builder.RegisterService(parts->messaging.get());
  if (parts->convention != nullptr) builder.RegisterService(parts->convention->service());
  const mode_t old_umask = ::umask(0177);  // the socket is born 0600
  if (!settings.listen_http.empty()) {
    // Made (not started) before the server runs: Status reads its address.
    parts->http = std::make_unique<HttpSupervisor>(
        ProgramBesideSelf("troupe-http"),
        std::vector<std::string>{"--dir", config.dir(), "--socket", settings.socket_path,
                                 "--listen", settings.listen_http});
    HttpSupervisor* http = parts->http.get();
    parts->facts.http_listener = [http] { return http->address(); };
  }
  parts->server = builder.BuildAndStart();
  ::umask(old_umask);
  if (parts->server == nullptr) {
    return absl::UnavailableError(troupe::StrCat(
        "cannot listen on unix:", settings.socket_path,
        settings.listen_tcp.empty() ? "" : troupe::StrCat(" and ", settings.listen_tcp),
        " (see the gRPC messages above)"));
  }
  if (!settings.listen_tcp.empty() && parts->tcp_port == 0) {
    parts->server->Shutdown();
    return absl::UnavailableError(troupe::StrCat("cannot listen on ", settings.listen_tcp));
  }
  ::chmod(settings.socket_path.c_str(), 0600);
  if (struct stat st; ::lstat(settings.socket_path.c_str(), &st) == 0) {
    parts->socket_inode = st.st_ino;
  }

  parts->facts.node = system_options.node_name;
  parts->facts.version = std::string(kTroupeVersion);
  parts->facts.started_at = absl::Now();
  parts->facts.worker_threads = settings.worker_threads > 0
                                    ? settings.worker_threads
                                    : static_cast<int>(std::thread::hardware_concurrency());
  parts->facts.listeners.push_back("unix:" + settings.socket_path);
  if (!settings.listen_tcp.empty()) {
    std::string host = settings.listen_tcp.substr(0, settings.listen_tcp.rfind(':'));
    parts->facts.listeners.push_back(troupe::StrCat(host, ":", parts->tcp_port, " (token)"));
  }
  service::MessagingService* messaging = parts->messaging.get();
  parts->facts.open_streams = [messaging] { return messaging->open_streams(); };
  if (parts->convention != nullptr) {
    parts->convention->Start();
    parts->facts.listeners.back() += settings.convention_leader.empty()
                                         ? " (convention leader)"
                                         : troupe::StrCat(" (convention member of ",
                                                          settings.convention_leader, ")");
  }
  // Started last: its readiness (GET /readyz) means "restored and serving".
  if (parts->http != nullptr) parts->http->Start();
  parts->Phase(troupe::StrCat("serving ", parts->host->List().size(), " bundles on ",
                              absl::StrJoin(parts->facts.listeners, ", "),
                              settings.listen_http.empty()
                                  ? ""
                                  : troupe::StrCat(", HTTP on ", settings.listen_http)));
  return std::unique_ptr<Daemon>(new Daemon(std::move(parts)));
}

Daemon::Daemon(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Daemon::~Daemon() { Stop(); }

void Daemon::RequestStop() {
  troupe::MutexLock lock(&parts_->mu);
  parts_->stop_requested = true;
  parts_->cv.SignalAll();
}

void Daemon::WaitForStopRequest() {
  troupe::MutexLock lock(&parts_->mu);
  while (!parts_->stop_requested) parts_->cv.Wait(&parts_->mu);
}

void Daemon::Stop() {
  {
    troupe::MutexLock lock(&parts_->mu);
    if (parts_->stopped) return;
    parts_->stopped = true;
    parts_->stop_requested = true;
    parts_->cv.SignalAll();
  }
  parts_->Phase("stopping: no new calls, draining actors");
  // The HTTP API first: its requests are calls on the socket.
  if (parts_->http != nullptr) parts_->http->Stop();
  if (grpc::HealthCheckServiceInterface* health = parts_->server->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  // Convention watchers end now (UNAVAILABLE) so that no stream holds the
  // server open.
  parts_->admin->convention_watch().Stop();
  // Members hear of the leave at once; links close.
  if (parts_->convention != nullptr) parts_->convention->Stop(/*graceful=*/true);
  // Pending asks end now (Cancelled) so that no call holds the server open.
  parts_->asks->Stop();
  // Calls waiting for a peer or the leader: the queued ones are answered
  // UNAVAILABLE now, those under way are waited for (each is bounded by the
  // convention's own timeouts), later ones are refused. Before the server's
  // shutdown, which waits for every unary call to be finished.
  parts_->blocking->Stop();
  parts_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  parts_->server->Wait();
  // gRPC may still run the reactors' last reactions: nothing below may go
  // before they are done with the services and the actor system.
  if (!parts_->messaging->WaitForCallsToEnd(absl::Now() + absl::Seconds(10)) ||
      !parts_->admin->convention_watch().WaitForCallsToEnd(absl::Now() + absl::Seconds(10))) {
    LogWarning("client calls still running 10 s after the server stopped; stopping anyway");
  }
  if (parts_->convention != nullptr &&
      !parts_->convention->WaitForCallsToEnd(absl::Now() + absl::Seconds(10))) {
    LogWarning("peer links still running 10 s after the server stopped; stopping anyway");
  }
  parts_->host->Shutdown();
  parts_->host->SetHostLostObserver(nullptr);  // before the asks go
  parts_->system->Shutdown(parts_->settings.drain_timeout);
  parts_->system->SetLocalMembers(nullptr);  // no host runs any more
  parts_->asks.reset();
  // Remove the socket we bound, never one a later daemon made at the same path.
  if (struct stat st; ::lstat(parts_->settings.socket_path.c_str(), &st) == 0 &&
                      st.st_ino == parts_->socket_inode) {
    ::unlink(parts_->settings.socket_path.c_str());
  }
  LogInfo("stopped");
}

const std::string& Daemon::socket_path() const { return parts_->settings.socket_path; }
int Daemon::tcp_port() const { return parts_->tcp_port; }
std::string Daemon::http_address() const {
  return parts_->http != nullptr ? parts_->http->address() : "";
}
const std::vector<std::string>& Daemon::restore_problems() const {
  return parts_->restore_problems;
}

}  // namespace troupe::troupd
