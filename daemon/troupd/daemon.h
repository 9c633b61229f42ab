// daemon.h - troupd assembled: configuration, the actor system, the bundles it
// hosts and the gRPC server on a unix socket (and optionally TCP). main.cc
// adds signals and sd_notify around it; tests start one in-process.
//
// Start order: check the configuration, claim the socket (refusing when
// another troupd answers there), set the capabilities (node_capabilities.h),
// restore the loaded bundles, then bind the listeners. So once the socket
// accepts, the bundles are back. Stop order:
// stop accepting (1 s grace for open calls), send on_deactivate and drain the
// bundles' actors, stop the actor system.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/common/mutex.h"
#include "daemon/config/config.h"

namespace troupe::troupd {

struct DaemonOptions {
  std::string socket_path;  // overrides the config setting `socket` when set
  std::string listen_tcp;   // overrides `listen_tcp` when set
  std::string listen_http;  // overrides `listen_http` when set (port 0: any free port)
  // Called with each phase for STATUS= ("restoring 2 bundles", ...).
  std::function<void(std::string_view)> on_phase;
  // Called before each loaded bundle is restored, with its name (to extend
  // systemd's start-up timeout: EXTEND_TIMEOUT_USEC).
  std::function<void(std::string_view)> on_restore_progress;
  // The troupe-host program isolated bundles run in; empty: the one beside
  // the running program (troupd's). For daemons started inside tests.
  std::string host_program;
};

class Daemon {
 public:
  // Starts a daemon serving `config`'s TROUPE_DIR. FailedPrecondition for an
  // invalid configuration or a socket another daemon serves.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(const config::Config& config,
                                                       DaemonOptions options = {});
  ~Daemon();  // Stop() if not done
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Asks the daemon to stop; thread-safe, idempotent (the Shutdown RPC and
  // SIGTERM both land here).
  void RequestStop();
  // Blocks until RequestStop.
  void WaitForStopRequest();
  // Stops as described above. Idempotent.
  void Stop();

  const std::string& socket_path() const;
  // The TCP port actually bound (when listen_tcp asked for port 0), or 0.
  int tcp_port() const;
  // HOST:PORT where troupe-http serves the HTTP API (http_supervisor.h), ""
  // when listen_http is not set or it does not serve right now.
  std::string http_address() const;
  // Problems met while restoring the loaded bundles (each also logged).
  const std::vector<std::string>& restore_problems() const;

 private:
  struct Parts;
  explicit Daemon(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace troupe::troupd
