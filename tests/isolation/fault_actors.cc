// fault_actors.cc - the actor library "troupe_test_faults": one class,
// faults.Probe, that misbehaves on request, for the tests of isolated hosts
// (isolated_host_test.cc). Messages (the payload as noted):
//   ping         -> pong
//   segv         dereferences null          abort   calls abort()
//   exit         calls exit(0)              loop    spins forever
//   alloc <n>    allocates and touches n bytes -> allocated <n>
//   socket       socket(AF_INET, SOCK_STREAM) -> opened, or the handler fails
//   exec         execve("/bin/true")             (fails the handler when refused)
//   write-tmp    opens /tmp/troupe-fault-<pid> for writing -> wrote, or fails
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "troupe/actor.h"

namespace troupe::test_faults {
namespace {

[[noreturn]] void Refused(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

class Probe : public Actor {
 public:
  void Receive(const Message& message) override {
    const std::string type(message.type());
    if (type == "ping") {
      Reply(message, "pong", message.payload());
    } else if (type == "segv") {
      *static_cast<volatile int*>(nullptr) = 1;
    } else if (type == "abort") {
      std::abort();
    } else if (type == "exit") {
      std::exit(0);
    } else if (type == "loop") {
      std::atomic<uint64_t> spins{0};
      for (;;) spins.fetch_add(1, std::memory_order_relaxed);
    } else if (type == "alloc") {
      const size_t n = std::stoull(std::string(message.payload()));
      std::unique_ptr<char[]> block(new char[n]);
      for (size_t i = 0; i < n; i += 4096) block[i] = 1;
      Reply(message, "allocated", message.payload());
    } else if (type == "socket") {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) Refused("socket");
      ::close(fd);
      Reply(message, "opened", "");
    } else if (type == "exec") {
      char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
      ::execve("/bin/true", argv, nullptr);
      Refused("execve");
    } else if (type == "write-tmp") {
      const std::string path = "/tmp/troupe-fault-" + std::to_string(::getpid());
      const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0) Refused("open " + path);
      ::close(fd);
      ::unlink(path.c_str());
      Reply(message, "wrote", path);
    }
  }
};

}  // namespace
}  // namespace troupe::test_faults

TROUPE_EXPORT_ACTORS("troupe_test_faults",
                     troupe::ActorClass<troupe::test_faults::Probe>("faults.Probe"))
