// scripted_host.cc - a misbehaving stand-in for troupe-host, for the tests of
// the daemon's side (isolated_host_test.cc). Started as troupe-host is
// (`--link-fd N`); what it does comes from TROUPE_TEST_HOST_MODE:
//   garbage  writes bytes that are no frame, then waits for the link to end;
//   forged   reads HostStart, says HostReady, sends one envelope to the actor
//            id in TROUPE_TEST_HOST_TARGET with a sender outside its range,
//            then one with a sender of its own, then waits for the link to end;
//   hangup   closes its end of the link and waits, without exiting, until
//            it is killed.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/isolation/frame_io.h"

namespace {

void WaitForEnd(int fd) {
  char buffer[256];
  while (read(fd, buffer, sizeof buffer) > 0) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::strcmp(argv[1], "--link-fd") != 0) return 2;
  const int fd = std::atoi(argv[2]);
  const char* mode = std::getenv("TROUPE_TEST_HOST_MODE");
  const std::string m = mode != nullptr ? mode : "";
  if (m == "garbage") {
    const char junk[] = "\xff\xff\xff\x7fnot a frame";
    if (write(fd, junk, sizeof junk) < 0) return 1;
  } else if (m == "forged") {
    troupe::v1::HostFrame frame;
    std::string buffer;
    if (!troupe::isolation::ReadFrame(fd, &frame, &buffer).ok() || !frame.has_start()) return 1;
    const troupe::v1::HostStart start = frame.start();
    troupe::v1::HostFrame ready;
    ready.mutable_ready()->set_pid(static_cast<uint32_t>(getpid()));
    if (!troupe::isolation::WriteFrame(fd, ready).ok()) return 1;
    const uint64_t target = std::strtoull(std::getenv("TROUPE_TEST_HOST_TARGET"), nullptr, 10);
    troupe::v1::HostFrame batch;
    for (const uint64_t from : {uint64_t{1}, start.first_actor_id() + 7}) {
      troupe::v1::Envelope* e = batch.mutable_envelopes()->add_envelopes();
      e->set_to(target);
      e->set_from("troupe://" + start.node_name() + "/" + std::to_string(from));
      e->set_type(from == 1 ? "forged" : "genuine");
    }
    if (!troupe::isolation::WriteFrame(fd, batch).ok()) return 1;
  } else if (m == "hangup") {
    close(fd);
    for (;;) pause();
  } else {
    return 2;
  }
  WaitForEnd(fd);
  return 0;
}
