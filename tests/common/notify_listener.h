// notify_listener.h - NotifyListener: a unix datagram socket that stands in
// for systemd's notification socket in tests. Bind one, hand socket() to the
// code under test as NOTIFY_SOCKET (setenv, or the environment of a child
// troupd), then wait for a line:
//
//   troupe::testing::NotifyListener listener;
//   ASSERT_TRUE(listener.ok());
//   StartTroupd({"NOTIFY_SOCKET=" + listener.socket()});
//   ASSERT_TRUE(listener.WaitForLine("READY=1", absl::Seconds(30)));
//   // Order: every line received so far, in arrival order.
//   std::vector<std::string> lines = listener.Lines();
//
// Waiting uses poll() with a deadline, never sleeps. Not thread-safe: use it
// from the test's thread (the sender may be any thread or process).
#pragma once

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/common/temp_dir.h"

namespace troupe::testing {

class NotifyListener {
 public:
  enum class Namespace {
    kPath,      // a socket file in a fresh temporary directory
    kAbstract,  // an abstract-namespace name, written "@name" in NOTIFY_SOCKET
  };

  explicit NotifyListener(Namespace where = Namespace::kPath) {
    sockaddr_un address;
    std::memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    socklen_t length = 0;
    if (where == Namespace::kPath) {
      dir_.emplace("notify");
      socket_ = dir_->path() + "/notify.sock";
      if (socket_.size() >= sizeof(address.sun_path)) {
        ADD_FAILURE() << "notify socket path too long for sun_path: " << socket_;
        return;
      }
      std::memcpy(address.sun_path, socket_.data(), socket_.size());
      length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size() + 1);
    } else {
      static std::atomic<int> counter{0};
      const std::string name = "troupe-test-notify-" + std::to_string(::getpid()) + "-" +
                               std::to_string(counter++) + "-" + std::to_string(::random());
      socket_ = "@" + name;
      std::memcpy(address.sun_path + 1, name.data(), name.size());
      length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    }
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      ADD_FAILURE() << "socket: " << std::strerror(errno);
      return;
    }
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
      ADD_FAILURE() << "bind " << socket_ << ": " << std::strerror(errno);
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~NotifyListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  NotifyListener(const NotifyListener&) = delete;
  NotifyListener& operator=(const NotifyListener&) = delete;

  // True when the socket is bound.
  bool ok() const { return fd_ >= 0; }
  // The value for NOTIFY_SOCKET: the socket's path, or "@name".
  const std::string& socket() const { return socket_; }

  // The next datagram not yet returned by Next(), waiting up to `timeout`;
  // nullopt when none arrived in time. Also recorded for Datagrams().
  std::optional<std::string> Next(absl::Duration timeout) {
    if (next_ == datagrams_.size()) Receive(absl::Now() + timeout);
    if (next_ == datagrams_.size()) return std::nullopt;
    return datagrams_[next_++];
  }

  // True once a datagram with `line` as one of its lines has arrived (also
  // before this call); false when `timeout` passes first.
  bool WaitForLine(std::string_view line, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    size_t checked = 0;
    while (true) {
      for (; checked < datagrams_.size(); ++checked) {
        for (const std::string& l : SplitLines(datagrams_[checked])) {
          if (l == line) return true;
        }
      }
      if (!Receive(deadline)) return false;
    }
  }

  // Every datagram received so far (pending ones are read first, without
  // waiting), in arrival order.
  std::vector<std::string> Datagrams() {
    Receive(absl::InfinitePast());
    return datagrams_;
  }
  // The lines of Datagrams(), in order.
  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    for (const std::string& datagram : Datagrams()) {
      for (std::string& line : SplitLines(datagram)) lines.push_back(std::move(line));
    }
    return lines;
  }

 private:
  static std::vector<std::string> SplitLines(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
      const size_t end = text.find('\n');
      lines.emplace_back(text.substr(0, end));
      if (end == std::string_view::npos) break;
      text.remove_prefix(end + 1);
    }
    return lines;
  }

  // Reads every pending datagram; when there is none, waits for one until
  // `deadline`. True when at least one arrived.
  bool Receive(absl::Time deadline) {
    if (fd_ < 0) return false;
    bool received = false;
    while (true) {
      char buffer[64 * 1024];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n >= 0) {
        datagrams_.emplace_back(buffer, static_cast<size_t>(n));
        received = true;
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ADD_FAILURE() << "recv on " << socket_ << ": " << std::strerror(errno);
        return received;
      }
      if (received) return true;
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{fd_, POLLIN, 0};
      const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
      const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
      if (ready < 0 && errno != EINTR) {
        ADD_FAILURE() << "poll on " << socket_ << ": " << std::strerror(errno);
        return false;
      }
    }
  }

  std::optional<TempDir> dir_;
  std::string socket_;
  int fd_ = -1;
  std::vector<std::string> datagrams_;
  size_t next_ = 0;
};

}  // namespace troupe::testing
