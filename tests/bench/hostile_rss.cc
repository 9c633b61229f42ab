// hostile_rss.cc - the peak resident memory of a real troupd (a child
// process) while clients try to make it hold what they send:
//   unauthenticated TCP calls: one huge Messaging/Tell without the client
//     token, then concurrent huge Convention/FetchBundle calls without a
//     troupe-peer-auth proof; each must end UNAUTHENTICATED from its headers,
//     before the daemon reads the body (daemon/service/call_gate.h);
//   Connect batches over the unix socket: one 8 MB ClientBatch of 2 M frames
//     must end the stream RESOURCE_EXHAUSTED (more than 65536 frames); then a
//     client that never reads sends batches of 60000 frames with an empty
//     type (each answered with an ERROR frame) until its writes block, and
//     cancels (daemon/service/client_stream.h);
//   control: a 60 MiB Tell with the client token, whose body the daemon
//     reads before refusing the payload (RESOURCE_EXHAUSTED), to show what
//     the meter reports when a body is buffered.
// Requests are raw bytes through grpc::GenericStub, so this client never
// builds the frames as objects and controls when it reads.
//
// Memory comes from /proc/<pid>/status: VmRSS before each case (idle), the
// peak as VmHWM after resetting it (writing 5 to /proc/<pid>/clear_refs) and
// as the largest VmRSS a 2 ms sampler saw, and VmRSS after the case. Prints a
// table and "RESULT <name> <value> <unit>" lines; the goal for every case
// but the control is a peak under 64 MiB above idle (reported, not
// enforced). Exits non-zero only when a call does not end the expected way.
//
// Usage: hostile_rss [--quick]
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/free_port.h"
#include "daemon/peerauth/convention_key.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "troupe/v1/admin.grpc.pb.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr double kGoalMiB = 64;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "hostile_rss: %s\n", what.c_str());
  std::exit(1);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

// A TCP port free right now on 127.0.0.1.
int FreePort() {
  const int port = troupe::bench::FreeLoopbackPort();
  if (port == 0) Fail("cannot find a free port");
  return port;
}

// ---- Memory of the daemon ----

// A "Vm...:" line of /proc/<pid>/status in bytes, or -1.
int64_t ProcStatusBytes(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const size_t length = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, length, field) == 0 && line.size() > length && line[length] == ':') {
      return std::stoll(line.substr(length + 1)) * 1024;  // "  1234 kB"
    }
  }
  return -1;
}

int64_t Rss(pid_t pid) { return ProcStatusBytes(pid, "VmRSS"); }

// Samples VmRSS of one process every 2 ms on its own thread and keeps the
// largest value since the last Reset. Thread-safe.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), thread_([this] { Run(); }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  void Reset() { peak_ = Rss(pid_); }
  int64_t peak() const { return peak_; }

 private:
  void Run() {
    while (!stop_) {
      const int64_t now = Rss(pid_);
      int64_t seen = peak_;
      while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_{0};
  std::thread thread_;
};

// The peak of one case: VmHWM (when it could be reset) and the sampler.
class PeakMeter {
 public:
  PeakMeter(pid_t pid, RssSampler* sampler) : pid_(pid), sampler_(sampler) {}

  // Starts a case: the idle RSS, and both peaks reset to it.
  int64_t Start() {
    const int64_t idle = Rss(pid_);
    std::ofstream clear("/proc/" + std::to_string(pid_) + "/clear_refs");
    clear << "5";
    clear.flush();
    hwm_reset_ = clear.good();
    sampler_->Reset();
    return idle;
  }
  int64_t Peak() const {
    const int64_t sampled = sampler_->peak();
    return hwm_reset_ ? std::max(ProcStatusBytes(pid_, "VmHWM"), sampled) : sampled;
  }
  bool hwm_reset() const { return hwm_reset_; }

 private:
  const pid_t pid_;
  RssSampler* const sampler_;
  bool hwm_reset_ = false;
};

// ---- The daemon as a child process ----

struct Daemon {
  std::string dir;  // TROUPE_DIR
  std::string tcp;  // 127.0.0.1:port
  pid_t pid = -1;
  std::string socket() const { return dir + "/run/troupd.sock"; }
  std::string log() const { return dir + "/troupd.log"; }
};

// A TROUPE_DIR (0700) with a fixed TCP listener and a convention key, so the
// daemon leads a convention of one and serves troupe.v1.Convention on TCP.
Daemon Prepare(const std::string& root) {
  Daemon daemon;
  daemon.dir = root + "/troupe";
  daemon.tcp = "127.0.0.1:" + std::to_string(FreePort());
  std::filesystem::create_directory(daemon.dir);
  ::chmod(daemon.dir.c_str(), 0700);
  WriteFile(daemon.dir + "/config/listen_tcp", daemon.tcp + "\n");
  WriteFile(daemon.dir + "/config/drain_timeout_seconds", "2\n");
  if (auto key = troupe::peerauth::ConventionKey::Create(daemon.dir + "/keys/convention.key",
                                                         /*force=*/false);
      !key.ok()) {
    Fail("cannot make a convention key: " + std::string(key.status().message()));
  }
  return daemon;
}

void Spawn(Daemon& daemon) {
  std::vector<std::string> argv = {TROUPD_PATH, "--dir", daemon.dir};
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  const std::string log = daemon.log();
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (::posix_spawn(&daemon.pid, c_argv[0], &actions, nullptr, c_argv.data(), environ) != 0) {
    Fail("cannot start " + std::string(TROUPD_PATH));
  }
  posix_spawn_file_actions_destroy(&actions);
}

std::string Log(const Daemon& daemon) {
  std::ifstream in(daemon.log());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Waits until Admin.Status answers on the unix socket and the TCP listener
// accepts connections.
void WaitUntilServing(const Daemon& daemon) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    int status = 0;
    if (::waitpid(daemon.pid, &status, WNOHANG) == daemon.pid) {
      Fail("troupd exited before answering. Its log:\n" + Log(daemon));
    }
    if (Clock::now() > deadline) {
      Fail("troupd did not answer within 30 s. Its log:\n" + Log(daemon));
    }
    // A new channel each time: one made before the socket existed backs off.
    auto admin = troupe::v1::Admin::NewStub(
        grpc::CreateChannel("unix:" + daemon.socket(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    troupe::v1::StatusResponse response;
    if (admin->Status(&context, troupe::v1::StatusRequest(), &response).ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto tcp = grpc::CreateChannel(daemon.tcp, grpc::InsecureChannelCredentials());
  if (!tcp->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    Fail("troupd does not accept connections on " + daemon.tcp);
  }
}

// The client token the daemon made (keys/client.token), trimmed.
std::string ClientToken(const Daemon& daemon) {
  std::ifstream in(daemon.dir + "/keys/client.token");
  std::string token;
  in >> token;
  if (token.empty()) Fail("no client token in " + daemon.dir + "/keys/client.token");
  return token;
}

// The daemon's count of connected message streams (Admin.Status), or -1.
int OpenStreams(const Daemon& daemon) {
  auto admin = troupe::v1::Admin::NewStub(
      grpc::CreateChannel("unix:" + daemon.socket(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  troupe::v1::StatusResponse response;
  if (!admin->Status(&context, troupe::v1::StatusRequest(), &response).ok()) return -1;
  return static_cast<int>(response.system().clients());
}

// SIGTERM, then waits (SIGKILL after 30 s). The exit status as text.
std::string Stop(Daemon& daemon) {
  ::kill(daemon.pid, SIGTERM);
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, daemon.pid, 0));
  bool exited = fd < 0;
  if (fd >= 0) {
    pollfd p{fd, POLLIN, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, 30000);
    } while (rc < 0 && errno == EINTR);
    ::close(fd);
    exited = rc > 0;
  }
  if (!exited) ::kill(daemon.pid, SIGKILL);
  int status = 0;
  ::waitpid(daemon.pid, &status, 0);
  daemon.pid = -1;
  if (!exited) return "killed after 30 s";
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  return "wait status " + std::to_string(status);
}

// ---- Requests as raw protobuf bytes ----

void AppendVarint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// A length-delimited field `field` of `size` bytes of `fill`.
void AppendBytesField(std::string* out, int field, size_t size, char fill) {
  out->push_back(static_cast<char>(field << 3 | 2));
  AppendVarint(out, size);
  out->append(size, fill);
}

// A TellRequest {to: "x", type: "t", payload: <payload_bytes>}.
std::string TellBytes(size_t payload_bytes) {
  std::string out;
  AppendBytesField(&out, 1, 1, 'x');
  AppendBytesField(&out, 2, 1, 't');
  AppendBytesField(&out, 3, payload_bytes, 'p');
  return out;
}

// A FetchBundleRequest whose hash is `bytes` of junk.
std::string FetchBytes(size_t bytes) {
  std::string out;
  AppendBytesField(&out, 1, bytes, 'h');
  return out;
}

// A ClientBatch of `frames` ClientFrames {id: 1}: 4 bytes each, no type, so
// the daemon answers every one with an ERROR frame.
std::string BatchBytes(size_t frames) {
  std::string out;
  out.reserve(frames * 4);
  for (size_t i = 0; i < frames; ++i) out.append("\x0a\x02\x08\x01", 4);
  return out;
}

// A ByteBuffer over `bytes` without a copy; `bytes` must outlive it.
grpc::ByteBuffer View(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size(), grpc::Slice::STATIC_SLICE);
  return grpc::ByteBuffer(&slice, 1);
}

std::shared_ptr<grpc::Channel> Channel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(INT_MAX);
  args.SetMaxReceiveMessageSize(INT_MAX);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

std::string StatusText(const grpc::Status& status) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int code = static_cast<int>(status.error_code());
  std::string text = code >= 0 && code <= 16 ? kNames[code] : std::to_string(code);
  if (!status.error_message().empty()) text += ": " + status.error_message();
  return text;
}

struct Outcome {
  grpc::Status status;
  double seconds = 0;  // from the start of all calls to this one's end
};

// `count` concurrent unary calls of `method` on `channel`, each sending
// `request` (shared bytes), with `token` as "authorization: Bearer" unless
// it is empty. How each ended.
std::vector<Outcome> UnaryCalls(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& method, const std::string& request, int count,
                                const std::string& token) {
  grpc::GenericStub stub(channel);
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    std::promise<Outcome> done;
  };
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < count; ++i) {
    auto call = std::make_unique<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    call->request = View(request);
    if (!token.empty()) call->context.AddMetadata("authorization", "Bearer " + token);
    calls.push_back(std::move(call));
  }
  const auto start = Clock::now();
  for (auto& call : calls) {
    Call* c = call.get();
    stub.UnaryCall(
        &c->context, method, grpc::StubOptions(), &c->request, &c->response,
        [c, start](grpc::Status status) {
          c->done.set_value(Outcome{std::move(status),
                                    std::chrono::duration<double>(Clock::now() - start).count()});
        });
  }
  std::vector<Outcome> outcomes;
  for (auto& call : calls) outcomes.push_back(call->done.get_future().get());
  return outcomes;
}

// One Messaging/Connect stream driven by hand on a completion queue: one
// operation at a time, each awaited with a bound. Not thread-safe.
class RawConnect {
 public:
  explicit RawConnect(const std::string& socket)
      : channel_(Channel("unix:" + socket)), stub_(channel_) {
    call_ = stub_.PrepareCall(&context_, "/troupe.v1.Messaging/Connect", &cq_);
    call_->StartCall(this);
    if (Await(std::chrono::seconds(10)) != Event::kOk) Fail("the Connect stream did not start");
  }
  ~RawConnect() {
    call_.reset();
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  RawConnect(const RawConnect&) = delete;
  RawConnect& operator=(const RawConnect&) = delete;

  enum class Event { kOk, kFailed, kTimedOut };

  // Writes `bytes` (which must outlive the write) and waits at most `bound`.
  // kTimedOut leaves the write pending: Cancel and Finish collect it.
  Event Write(const std::string& bytes, std::chrono::milliseconds bound) {
    request_ = View(bytes);
    call_->Write(request_, this);
    return Await(bound);
  }

  // Reads until the stream ends (at most `bound`). Messages read.
  int ReadAll(std::chrono::milliseconds bound) {
    const auto deadline = Clock::now() + bound;
    int messages = 0;
    for (;;) {
      grpc::ByteBuffer reply;
      call_->Read(&reply, this);
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (Await(std::max(left, std::chrono::milliseconds(1))) != Event::kOk) return messages;
      ++messages;
    }
  }

  void Cancel() { context_.TryCancel(); }

  // The stream's status; cancels it first if it has not ended within 30 s.
  grpc::Status Finish() {
    grpc::Status status;
    int finished_tag = 0;
    call_->Finish(&status, &finished_tag);
    for (auto deadline = Clock::now() + std::chrono::seconds(30);;) {
      void* tag;
      bool ok;
      const auto next = cq_.AsyncNext(
          &tag, &ok, std::chrono::system_clock::now() + std::chrono::milliseconds(100));
      if (next == grpc::CompletionQueue::SHUTDOWN) Fail("completion queue shut down");
      // A write left pending (tag this) ends here too.
      if (next == grpc::CompletionQueue::GOT_EVENT && tag == &finished_tag) return status;
      if (Clock::now() > deadline) context_.TryCancel();
    }
  }

 private:
  // Waits for the one pending operation (tag `this`).
  Event Await(std::chrono::milliseconds bound) {
    void* tag;
    bool ok;
    const auto next = cq_.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + bound);
    if (next == grpc::CompletionQueue::TIMEOUT) return Event::kTimedOut;
    if (next == grpc::CompletionQueue::SHUTDOWN || tag != this) Fail("unexpected queue event");
    return ok ? Event::kOk : Event::kFailed;
  }

  grpc::CompletionQueue cq_;
  grpc::ClientContext context_;
  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::ByteBuffer request_;
};

// ---- Cases ----

double MiB(int64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(kMiB); }

struct Row {
  std::string name;
  std::string outcome;  // the status(es) seen
  bool as_expected = false;
  int64_t idle = 0;
  int64_t peak = 0;
  int64_t after = 0;
  std::string note;
  double seconds = 0;    // the whole case, with building its requests
  bool control = false;  // no goal: shows what buffering a body looks like
};

// Lets the daemon finish what it was doing (freeing, logging) before "after".
void Settle() { std::this_thread::sleep_for(std::chrono::milliseconds(500)); }

// `channel` (to the TCP listener) is the caller's to keep: destroying a
// channel whose huge requests were refused sometimes blocks the client for
// ~9.5 s (also after the daemon exited), which is not the daemon's time.
// With a `token` the calls are the control: authenticated, so the daemon
// reads the body before it refuses the payload as too large
// (RESOURCE_EXHAUSTED); this shows that the meter sees a body buffered.
Row UnauthenticatedCalls(const Daemon& daemon, PeakMeter& meter,
                         const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                         const std::string& method, const std::string& request, int count,
                         const std::string& token = "") {
  const grpc::StatusCode expected =
      token.empty() ? grpc::StatusCode::UNAUTHENTICATED : grpc::StatusCode::RESOURCE_EXHAUSTED;
  const char* const expected_name = token.empty() ? "UNAUTHENTICATED" : "RESOURCE_EXHAUSTED";
  Row row;
  row.name = name;
  row.idle = meter.Start();
  std::vector<Outcome> outcomes = UnaryCalls(channel, method, request, count, token);
  Settle();
  row.peak = meter.Peak();
  row.after = Rss(daemon.pid);
  row.as_expected = true;
  double slowest = 0;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    std::printf("  %s call %zu after %.3f s: %s\n", name.c_str(), i + 1, outcomes[i].seconds,
                StatusText(outcomes[i].status).c_str());
    if (outcomes[i].status.error_code() != expected) {
      row.as_expected = false;
    }
    slowest = std::max(slowest, outcomes[i].seconds);
  }
  row.outcome = std::to_string(count) + "x " +
                (row.as_expected ? std::string(expected_name)
                                 : "NOT all " + std::string(expected_name) + " (" +
                                       StatusText(outcomes.front().status).substr(0, 40) + ")");
  row.control = !token.empty();
  char note[64];
  std::snprintf(note, sizeof note, "all ended after %.2f s", slowest);
  row.note = note;
  return row;
}

Row OversizedBatch(const Daemon& daemon, PeakMeter& meter, size_t frames) {
  Row row;
  row.name = "connect: 1 batch of " + std::to_string(frames) + " frames";
  const std::string batch = BatchBytes(frames);
  row.idle = meter.Start();
  grpc::Status status;
  {
    RawConnect stream(daemon.socket());
    (void)stream.Write(batch, std::chrono::seconds(30));
    (void)stream.ReadAll(std::chrono::seconds(30));  // the hello, then the end
    status = stream.Finish();
  }
  Settle();
  row.peak = meter.Peak();
  row.after = Rss(daemon.pid);
  std::printf("  oversized batch (%.1f MB): %s\n", static_cast<double>(batch.size()) / 1e6,
              StatusText(status).c_str());
  row.as_expected = status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
  row.outcome = row.as_expected
                    ? "RESOURCE_EXHAUSTED"
                    : "NOT RESOURCE_EXHAUSTED (" + StatusText(status).substr(0, 40) + ")";
  return row;
}

// Batches of `frames` until a write blocks (no progress within 3 s) or all
// `batches` are sent, without ever reading; then the RSS while stalled, a
// cancel, and the RSS after it.
Row NeverReadingClient(const Daemon& daemon, PeakMeter& meter, size_t frames, int batches) {
  Row row;
  row.name = "connect: " + std::to_string(batches) + " batches of " + std::to_string(frames) +
             ", never read";
  const std::string batch = BatchBytes(frames);
  row.idle = meter.Start();
  int sent = 0;
  bool blocked = false;
  bool broke = false;
  grpc::Status status;
  int64_t stalled = 0;
  {
    RawConnect stream(daemon.socket());
    for (; sent < batches; ++sent) {
      const RawConnect::Event written = stream.Write(batch, std::chrono::seconds(3));
      if (written == RawConnect::Event::kTimedOut) {
        blocked = true;
        break;
      }
      if (written == RawConnect::Event::kFailed) {
        broke = true;
        break;
      }
    }
    Settle();
    stalled = Rss(daemon.pid);
    row.peak = meter.Peak();
    stream.Cancel();
    status = stream.Finish();
  }
  Settle();
  int streams = OpenStreams(daemon);
  for (auto deadline = Clock::now() + std::chrono::seconds(5);
       streams != 0 && Clock::now() < deadline; streams = OpenStreams(daemon)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  row.peak = std::max(row.peak, meter.Peak());
  row.after = Rss(daemon.pid);
  std::printf(
      "  never-reading client: %d of %d batches written, %s; RSS while stalled %.1f MiB; "
      "after cancel: %s, %d streams open\n",
      sent, batches,
      blocked ? "then writes blocked"
      : broke ? "then the stream broke"
              : "none blocked",
      MiB(stalled), StatusText(status).c_str(), streams);
  // Expected: the daemon keeps the stream open (it pauses, it does not end
  // it), so only the client's cancel ends it.
  row.as_expected = !broke && status.error_code() == grpc::StatusCode::CANCELLED && streams == 0;
  row.outcome = row.as_expected ? "CANCELLED by client"
                                : "NOT cancelled by client (" + StatusText(status).substr(0, 40) +
                                      ", " + std::to_string(streams) + " streams open)";
  char note[96];
  std::snprintf(note, sizeof note, "%d/%d sent%s; stalled %.1f MiB; %d streams after", sent,
                batches, blocked ? ", blocked" : "", MiB(stalled), streams);
  row.note = note;
  return row;
}

void PrintTable(const std::vector<Row>& rows, bool hwm_reset) {
  std::printf("\npeak = max(VmHWM after clear_refs%s, VmRSS sampled every 2 ms); MiB\n",
              hwm_reset ? "" : " [reset refused: sampled only]");
  std::printf("%-44s %-26s %8s %8s %8s %10s %-9s %7s  %s\n", "case", "outcome", "idle", "peak",
              "after", "peak-idle", "goal <64", "time", "note");
  for (const Row& row : rows) {
    const double above = MiB(row.peak - row.idle);
    std::printf("%-44s %-26s %8.1f %8.1f %8.1f %10.1f %-9s %6.1fs  %s\n", row.name.c_str(),
                row.outcome.c_str(), MiB(row.idle), MiB(row.peak), MiB(row.after), above,
                row.control        ? "control"
                : above < kGoalMiB ? "met"
                                   : "MISSED",
                row.seconds, row.note.c_str());
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const size_t tell_bytes = (quick ? 64 : 512) * kMiB;
  const int fetches = quick ? 2 : 4;
  const size_t fetch_bytes = (quick ? 32 : 256) * kMiB;
  const size_t oversized_frames = 2'000'000;  // 8 MB: cheap, kept in --quick
  const size_t frames_per_batch = 60'000;
  const int batches = quick ? 8 : 40;
  // Under the gRPC message limit (max(max_message_bytes + 1 MiB, 64 MiB) +
  // 4 MiB), above max_message_bytes (4 MiB by default).
  const size_t control_tell_bytes = 60 * kMiB;

  char root_template[] = "/tmp/troupe_hostile_rss.XXXXXX";
  if (::mkdtemp(root_template) == nullptr) Fail("mkdtemp failed");
  const std::string root = root_template;
  Daemon daemon = Prepare(root);
  Spawn(daemon);
  WaitUntilServing(daemon);
  std::printf("troupd pid %d, TROUPE_DIR %s, tcp %s%s\n", daemon.pid, daemon.dir.c_str(),
              daemon.tcp.c_str(), quick ? " (--quick)" : "");

  std::vector<Row> rows;
  // Never destroyed (see UnauthenticatedCalls): the process ends with
  // _exit, so neither their destructors nor the leak checker run.
  const std::shared_ptr<grpc::Channel> tell_channel = Channel(daemon.tcp);
  const std::shared_ptr<grpc::Channel> fetch_channel = Channel(daemon.tcp);
  auto timed = [&rows](const std::function<Row()>& run) {
    const auto start = Clock::now();
    Row row = run();
    row.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    rows.push_back(std::move(row));
  };
  bool hwm_reset = false;
  {
    RssSampler sampler(daemon.pid);
    PeakMeter meter(daemon.pid, &sampler);
    timed([&] {
      const std::string tell = TellBytes(tell_bytes);
      return UnauthenticatedCalls(
          daemon, meter, tell_channel,
          "tcp: 1 Tell of " + std::to_string(tell_bytes / kMiB) + " MiB, no token",
          "/troupe.v1.Messaging/Tell", tell, 1);
    });
    hwm_reset = meter.hwm_reset();
    timed([&] {
      const std::string fetch = FetchBytes(fetch_bytes);
      return UnauthenticatedCalls(daemon, meter, fetch_channel,
                                  "tcp: " + std::to_string(fetches) + " FetchBundle of " +
                                      std::to_string(fetch_bytes / kMiB) + " MiB, no proof",
                                  "/troupe.v1.Convention/FetchBundle", fetch, fetches);
    });
    timed([&] { return OversizedBatch(daemon, meter, oversized_frames); });
    timed([&] { return NeverReadingClient(daemon, meter, frames_per_batch, batches); });
    timed([&] {
      const std::string tell = TellBytes(control_tell_bytes);
      return UnauthenticatedCalls(
          daemon, meter, tell_channel,
          "control: 1 Tell of " + std::to_string(control_tell_bytes / kMiB) + " MiB WITH token",
          "/troupe.v1.Messaging/Tell", tell, 1, ClientToken(daemon));
    });
  }
  PrintTable(rows, hwm_reset);

  const char* const kResultNames[] = {"tell_unauthenticated", "fetchbundle_unauthenticated",
                                      "connect_oversized_batch", "connect_never_reading",
                                      "control_tell_with_token"};
  bool all_expected = true;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::printf("RESULT hostile_rss_%s_peak_above_idle %.2f MiB\n", kResultNames[i],
                MiB(rows[i].peak - rows[i].idle));
    all_expected = all_expected && rows[i].as_expected;
  }
  const auto stopping = Clock::now();
  const std::string stopped = Stop(daemon);
  std::printf("troupd stopped (SIGTERM) in %.1f s: %s\n",
              std::chrono::duration<double>(Clock::now() - stopping).count(), stopped.c_str());
  if (!all_expected) {
    std::fprintf(stderr, "hostile_rss: a call did not end the expected way; troupd log in %s\n",
                 daemon.log().c_str());
    std::fflush(nullptr);
    ::_exit(1);
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  std::fflush(nullptr);
  ::_exit(0);
}
