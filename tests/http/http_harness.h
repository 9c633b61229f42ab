// http_harness.h - a real troupd (DaemonHarness) with its HTTP API
// (troupe-http, started by troupd with --listen-http 127.0.0.1:0), an
// httplib client carrying the client token, and raw sockets for clients
// that misbehave. No sleeps: waits are bounded polls of the daemon's status
// and poll(2) on sockets.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "grpcpp/create_channel.h"
#include "httplib.h"
#include "tests/e2e/daemon_harness.h"
#include "troupe/v1/admin.grpc.pb.h"

namespace troupe::testing {

// Settings (config/<name> = value) a test daemon starts with.
using HttpSettings = std::map<std::string, std::string>;

class HttpHarness {
 public:
  // Writes each setting before the daemon starts.
  explicit HttpHarness(const HttpSettings& settings = HttpSettings()) {
    for (const auto& [name, value] : settings) {
      WriteFileForTest(daemon_.dir() + "/config/" + name, value + "\n");
    }
  }

  ::testing::AssertionResult Start() {
    ::testing::AssertionResult started = daemon_.StartDaemon({"--listen-http", "127.0.0.1:0"});
    if (!started) return started;
    token_ = ReadFileForTest(daemon_.dir() + "/keys/client.token");
    while (!token_.empty() && token_.back() == '\n') token_.pop_back();
    return WaitForHttp("");
  }

  // Waits (at most 30 s) until the daemon reports an HTTP listener other
  // than `old_address`, and points the client there.
  ::testing::AssertionResult WaitForHttp(const std::string& old_address) {
    auto channel =
        grpc::CreateChannel("unix:" + daemon_.socket(), grpc::InsecureChannelCredentials());
    auto admin = v1::Admin::NewStub(channel);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::StatusResponse status;
      if (!admin->Status(&context, v1::StatusRequest(), &status).ok()) continue;
      for (const std::string& listener : status.system().listeners()) {
        if (listener.rfind("http://", 0) != 0) continue;
        const std::string address = listener.substr(7, listener.find(' ') - 7);
        if (address == old_address) continue;
        address_ = address;
        port_ = std::stoi(address.substr(address.rfind(':') + 1));
        client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
        client_->set_bearer_token_auth(token_.c_str());
        client_->set_read_timeout(std::chrono::seconds(60));
        return ::testing::AssertionSuccess();
      }
    }
    return ::testing::AssertionFailure() << "no HTTP listener in the daemon's status. Log:\n"
                                         << daemon_.DaemonLog();
  }

  DaemonHarness& daemon() { return daemon_; }
  httplib::Client& client() { return *client_; }
  const std::string& token() const { return token_; }
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  std::string url() const { return "http://" + address_; }

  // A plain TCP connection to the HTTP API, or -1.
  int Connect() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

 private:
  DaemonHarness daemon_;
  std::string token_;
  std::string address_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

// `text` percent-encoded for a URL path segment.
inline std::string PathSegment(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

inline bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads one HTTP response (head and Content-Length body) within `timeout`;
// "" when none came.
inline std::string ReadResponse(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string in;
  char buffer[4096];
  for (;;) {
    const size_t head_end = in.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t length = 0;
      const size_t at = in.find("Content-Length: ");
      if (at != std::string::npos && at < head_end) length = std::stoul(in.substr(at + 16));
      if (in.size() >= head_end + 4 + length) return in.substr(0, head_end + 4 + length);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return "";
    in.append(buffer, static_cast<size_t>(n));
  }
}

// Reads until the peer closes the connection (returns true) or `timeout`
// passes (false); what was read goes to `out`.
inline bool ReadUntilClosed(int fd, std::chrono::milliseconds timeout, std::string* out) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return true;
    out->append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace troupe::testing
