// main.cc - links Troupe::client from an installed Troupe and checks that
// connecting to a socket where no daemon listens fails the documented way:
// UNAVAILABLE, naming the socket. Exit 0 when it does.
#include <cstdio>
#include <string>

#include "troupe/client.h"

int main() {
  const std::string socket = "/nonexistent/troupe-client-project/troupd.sock";
  troupe::Client::Options options;
  options.connect_timeout = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<troupe::Client>> client = troupe::Client::Connect(socket, options);
  if (client.ok()) {
    std::fprintf(stderr, "connected to %s, which should not exist\n", socket.c_str());
    return 1;
  }
  const std::string message(client.status().message());
  if (client.status().code() != absl::StatusCode::kUnavailable ||
      message.find(socket) == std::string::npos) {
    std::fprintf(stderr, "unexpected status: %s\n", client.status().ToString().c_str());
    return 1;
  }
  std::printf("ok: %s\n", client.status().ToString().c_str());
  return 0;
}
