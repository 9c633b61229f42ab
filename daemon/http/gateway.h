// gateway.h - the HTTP/JSON API of one troupd (daemon/http/README.md),
// served by the troupe-http program: each request becomes a gRPC call to the
// daemon over its unix socket (Admin and Messaging services), so no HTTP
// parser runs in the daemon's address space.
//
// Every route but /healthz and /readyz needs "Authorization: Bearer <client
// token>". Connections are served by a ConnectionPool (connection_pool.h);
// bodies are bounded (413), requests of message routes must say their
// Content-Length (411); a client that sends nothing for the read timeout is
// disconnected. Thread-safe; one per process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace troupe::http {

struct GatewayOptions {
  std::string socket_path;  // the daemon's unix socket
  std::string token;        // the client token clients must send
  uint64_t max_message_bytes = 4 << 20;
  uint64_t max_bundle_bytes = 1ull << 30;
  size_t max_connections = 64;
  absl::Duration read_timeout = absl::Seconds(10);
  absl::Duration execution_ttl = absl::Hours(1);
  uint64_t executions_kept = 10000;
  // Both set: HTTPS with this PEM certificate and key.
  std::string tls_cert_path;
  std::string tls_key_path;
};

class Gateway {
 public:
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(GatewayOptions options);
  ~Gateway();  // Stop()
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds `host`:`port` (0: any free port); returns the port bound.
  absl::StatusOr<int> Bind(const std::string& host, int port);
  // Serves until Stop. Call after Bind.
  void Serve();
  // Stops accepting, ends the open connections and waits for the
  // executions in flight to end (cancelled). Thread-safe, idempotent.
  void Stop();

 private:
  struct Impl;
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace troupe::http
