// example_common.h - what the client examples share: connecting to the daemon
// named on the command line, with the token from the environment.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "troupe/client.h"

namespace troupe::examples {

// TROUPE_TOKEN, else the first line of the file TROUPE_TOKEN_FILE, else empty.
// Only TCP targets (host:port) send it.
inline std::string TokenFromEnvironment() {
  if (const char* token = std::getenv("TROUPE_TOKEN"); token != nullptr) return token;
  if (const char* path = std::getenv("TROUPE_TOKEN_FILE"); path != nullptr) {
    std::ifstream in(path);
    std::string token;
    std::getline(in, token);
    return token;
  }
  return "";
}

// Connects to `target` or prints why not (exit code 1 then).
inline std::unique_ptr<Client> ConnectOrExplain(const char* target) {
  Client::Options options;
  options.token = TokenFromEnvironment();
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(target, options);
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return nullptr;
  }
  return *std::move(client);
}

}  // namespace troupe::examples
