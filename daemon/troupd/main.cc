// main.cc - troupd: the Troupe daemon. Signals, sd_notify and flags around
// Daemon (daemon.h). Logs go to stderr with systemd priority prefixes.
//
//   troupd [--dir DIR] [--socket PATH] [--listen HOST:PORT] [--listen-http HOST:PORT]
//          [--die-with-parent]
//
// Exit codes: 0 after a clean stop (SIGTERM, SIGINT or the Shutdown call),
// 1 when it cannot start (the reason is logged), 2 for a wrong flag.
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "daemon/common/logging.h"
#include "daemon/common/sd_notify.h"
#include "daemon/config/config.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/troupd/daemon.h"

int main(int argc, char** argv) {
  CLI::App app{
      "troupd: the Troupe daemon. Hosts actors from signed bundles and serves the admin and "
      "messaging gRPC API on a unix socket (and on TCP for clients with the token).\n"
      "Usually started by systemd (`director bootstart`) or by `director start`.",
      "troupd"};
  std::string dir;
  std::string socket_path;
  std::string listen_tcp;
  app.add_option("--dir", dir, "the Troupe directory (default: $TROUPE_DIR or /var/lib/troupe)");
  app.add_option("--socket", socket_path, "the unix socket (default: the `socket` setting)");
  app.add_option("--listen", listen_tcp,
                 "also serve TCP clients at HOST:PORT (default: the `listen_tcp` setting)");
  std::string listen_http;
  app.add_option("--listen-http", listen_http,
                 "run the HTTP API (troupe-http) at HOST:PORT, port 0 for any free port "
                 "(default: the `listen_http` setting)");
  bool die_with_parent = false;
  app.add_flag("--die-with-parent", die_with_parent,
               "end at once (SIGKILL) when the process that started troupd ends: for test "
               "harnesses and benchmarks, so no daemon outlives them");
  app.set_version_flag("--version", std::string(TROUPE_VERSION));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (die_with_parent) {
    const pid_t parent = ::getppid();
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) {
      std::fprintf(stderr, "troupd: --die-with-parent: the parent is gone already\n");
      return 1;
    }
  }

  // Signals are taken by one thread with sigwait; every other thread,
  // including those the runtime and gRPC start, inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A fatal signal in a bundle's code is recorded for crash-loop protection
  // (docs/daemon.md "Crash loops"), then kills the daemon as before.
  if (absl::Status installed = troupe::hosting::InstallFaultHandler(); !installed.ok()) {
    troupe::LogWarning("troupd: ", installed.message(), " (crash loops will not be detected)");
  }

  troupe::config::Config config = troupe::config::Config::Load(dir);
  troupe::troupd::DaemonOptions options;
  options.socket_path = socket_path;
  options.listen_tcp = listen_tcp;
  options.listen_http = listen_http;
  options.on_phase = [](std::string_view phase) { (void)troupe::SdNotifyStatus(phase); };
  // Restoring one bundle may take load_timeout (BundleHost's default) and,
  // when it fails, drain_timeout: systemd waits that long (and 10 s) more.
  absl::Duration drain_timeout = absl::Seconds(30);
  if (absl::StatusOr<troupe::config::DaemonSettings> settings = config.Daemon(); settings.ok()) {
    drain_timeout = settings->drain_timeout;
  }
  const absl::Duration per_bundle =
      troupe::hosting::HostOptions().load_timeout + drain_timeout + absl::Seconds(10);
  options.on_restore_progress = [per_bundle](std::string_view bundle) {
    (void)troupe::SdNotifyExtendTimeout(per_bundle);
    (void)troupe::SdNotifyStatus(troupe::StrCat("restoring ", bundle));
  };
  troupe::LogInfo("troupd ", TROUPE_VERSION, " starting in ", config.dir(), " (",
                  config.dir_source(), ")");
  auto daemon = troupe::troupd::Daemon::Start(config, options);
  if (!daemon.ok()) {
    troupe::LogError("troupd cannot start: ", daemon.status().message());
    (void)troupe::SdNotifyStatus(troupe::StrCat("cannot start: ", daemon.status().message()));
    return 1;
  }
  (void)troupe::SdNotifyReady();

  std::atomic<bool> stopped_by_call{false};
  std::thread signal_waiter([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (stopped_by_call.load()) return;  // woken below, after a Shutdown call
    troupe::LogInfo("received ", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    (*daemon)->RequestStop();
  });
  (*daemon)->WaitForStopRequest();
  (void)troupe::SdNotifyStopping();
  (*daemon)->Stop();
  // The waiter may still sit in sigwait (stop came from the Shutdown call):
  // wake it with the signal it waits for.
  stopped_by_call = true;
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  return 0;
}
