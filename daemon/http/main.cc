// main.cc - troupe-http: the HTTP/JSON API of one troupd (gateway.h). troupd
// starts it when the setting listen_http is set, and restarts it when it
// dies (daemon/troupd/http_supervisor.h); it can also run by hand.
//
//   troupe-http [--dir DIR] [--socket PATH] [--listen HOST:PORT]
//               [--report-fd N] [--parent-pid PID]
//
// Settings come from TROUPE_DIR as troupd's do; --socket and --listen
// override `socket` and `listen_http`. Once listening, it writes
// "HOST:PORT\n" (the port actually bound) to --report-fd and closes it. On
// SIGTERM or SIGINT it stops. Exit codes: 0 after a stop, 1 when it cannot
// start (the reason on stderr), 2 for a wrong flag.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "daemon/common/logging.h"
#include "daemon/common/small_file.h"
#include "daemon/common/strings.h"
#include "daemon/config/config.h"
#include "daemon/http/gateway.h"

namespace {

// The client token troupd created (keys/client.token), as ClientAuth reads it.
absl::StatusOr<std::string> ReadClientToken(const std::string& path) {
  troupe::SmallFileOptions secret;
  secret.follow_symlinks = false;
  secret.secret = true;
  absl::StatusOr<std::string> token = troupe::ReadSmallFile(path, 4096, secret);
  if (!token.ok()) {
    return absl::FailedPreconditionError(troupe::StrCat(
        "client token ", token.status().message(),
        " (troupd creates it at start when listen_http or listen_tcp is set)"));
  }
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r' ||
                             token->back() == ' ')) {
    token->pop_back();
  }
  return token;
}

absl::Status SplitHostPort(const std::string& listen, std::string* host, int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), port) ||
      *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(
        troupe::StrCat("listen address ", troupe::Quoted(listen), " is not HOST:PORT"));
  }
  *host = listen.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::OkStatus();
}

int Run(const std::string& dir, const std::string& socket_flag, const std::string& listen_flag,
        int report_fd) {
  const troupe::config::Config config = troupe::config::Config::Load(dir);
  absl::StatusOr<troupe::config::DaemonSettings> settings = config.Daemon();
  if (!settings.ok()) {
    troupe::LogError("troupe-http: ", settings.status().message());
    return 1;
  }
  absl::StatusOr<troupe::bundle::Limits> limits = config.BundleLimits();
  if (!limits.ok()) {
    troupe::LogError("troupe-http: ", limits.status().message());
    return 1;
  }
  const std::string listen = listen_flag.empty() ? settings->listen_http : listen_flag;
  if (listen.empty()) {
    troupe::LogError("troupe-http: nothing to listen on: set listen_http or pass --listen");
    return 1;
  }
  std::string host;
  int port = 0;
  if (absl::Status split = SplitHostPort(listen, &host, &port); !split.ok()) {
    troupe::LogError("troupe-http: ", split.message());
    return 1;
  }
  absl::StatusOr<std::string> token = ReadClientToken(settings->client_token_path);
  if (!token.ok()) {
    troupe::LogError("troupe-http: ", token.status().message());
    return 1;
  }
  troupe::http::GatewayOptions options;
  options.socket_path = socket_flag.empty() ? settings->socket_path : socket_flag;
  options.token = *std::move(token);
  options.max_message_bytes = settings->max_message_bytes;
  options.max_bundle_bytes = limits->max_total_bytes;
  options.max_connections = settings->http_max_connections;
  options.read_timeout = settings->http_read_timeout;
  options.execution_ttl = settings->execution_ttl;
  options.executions_kept = settings->executions_kept;
  options.tls_cert_path = settings->tls_cert_path;
  options.tls_key_path = settings->tls_key_path;
  absl::StatusOr<std::unique_ptr<troupe::http::Gateway>> gateway =
      troupe::http::Gateway::Create(options);
  if (!gateway.ok()) {
    troupe::LogError("troupe-http: ", gateway.status().message());
    return 1;
  }
  absl::StatusOr<int> bound = (*gateway)->Bind(host, port);
  if (!bound.ok()) {
    troupe::LogError("troupe-http: ", bound.status().message());
    return 1;
  }
  const std::string where = troupe::StrCat(listen.substr(0, listen.rfind(':')), ":", *bound);
  troupe::LogInfo("troupe-http: serving the HTTP API on ", where,
                  options.tls_cert_path.empty() ? "" : " (TLS)", " for ", options.socket_path);
  if (report_fd >= 0) {
    const std::string line = where + "\n";
    (void)!::write(report_fd, line.data(), line.size());
    ::close(report_fd);
  }
  // SIGTERM/SIGINT: a thread waits for them and stops the server.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    (*gateway)->Stop();
  });
  (*gateway)->Serve();
  (*gateway)->Stop();
  // Serve also returns when the server fails; the stopper then still waits
  // for a signal: send one to ourselves.
  ::kill(::getpid(), SIGTERM);
  stopper.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "troupe-http: the HTTP/JSON API of troupd (daemon/http/README.md). troupd starts it "
      "when listen_http is set.",
      "troupe-http"};
  std::string dir, socket, listen;
  int report_fd = -1;
  pid_t parent_pid = 0;
  app.add_option("--dir", dir, "the Troupe directory (default: $TROUPE_DIR, /var/lib/troupe)");
  app.add_option("--socket", socket, "troupd's unix socket (default: the `socket` setting)");
  app.add_option("--listen", listen, "HOST:PORT to serve (default: the `listen_http` setting)");
  app.add_option("--report-fd", report_fd,
                 "write HOST:PORT (the port bound) to this file descriptor once listening");
  app.add_option("--parent-pid", parent_pid,
                 "the parent process (troupd): exit when it ends, or at once if it has");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (parent_pid > 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent_pid) return 0;  // it ended before the prctl
  }
  // Block the stop signals in every thread; the stopper waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return Run(dir, socket, listen, report_fd);
}
