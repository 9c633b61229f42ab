// scripted_host.cc - a misbehaving stand-in for troupe-host, for the tests of
// the daemon's side (isolated_host_test.cc). Started as troupe-host is
// (`--link-fd N`); what it does comes from TROUPE_TEST_HOST_MODE:
//   garbage  writes bytes that are no frame, then waits for the link to end;
//   forged   reads HostStart, says HostReady, then sends to the actor id in
//            TROUPE_TEST_HOST_TARGET (a daemon actor) what troupd must refuse:
//            a message with a sender outside its range, a reserved type, an
//            exit notice about another actor, a report of an envelope troupd
//            never sent it; then a "genuine" message from an actor of its
//            own; then waits for the link to end;
//   hangup   closes its end of the link and waits, without exiting, until
//            it is killed.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/isolation/frame_io.h"
#include "troupe/wire.h"

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
    const std::string prefix = "troupe://" + start.node_name() + "/";
    const std::string own = prefix + std::to_string(start.first_actor_id() + 7);
    const auto envelope = [&](troupe::v1::HostFrame* frame, const std::string& from,
                              const std::string& type, const std::string& payload) {
      troupe::v1::Envelope* e = frame->mutable_envelopes()->add_envelopes();
      e->set_to(target);
      e->set_from(from);
      e->set_type(type);
      e->set_payload(payload);
    };
    troupe::v1::HostFrame refused;
    envelope(&refused, prefix + "1", "forged", "");
    envelope(&refused, own, "troupe.CapabilitiesChanged", "");
    // An exit notice (wire fields: child address, reason) about a daemon actor.
    const std::string other = prefix + "1";
    std::string notice;
    troupe::wire::AppendField(&notice, other);
    troupe::wire::AppendField(&notice, "");
    envelope(&refused, own, "troupe.ChildActorExited", notice);
    if (!troupe::isolation::WriteFrame(fd, refused).ok()) return 1;
    troupe::v1::HostFrame report;
    troupe::v1::Envelope* reported = report.mutable_undeliverable()->add_undeliverable();
    reported->set_to(target);
    reported->set_from(prefix + std::to_string(target));
    reported->set_type("never sent");
    report.mutable_undeliverable()->set_reason("forged report");
    if (!troupe::isolation::WriteFrame(fd, report).ok()) return 1;
    troupe::v1::HostFrame genuine;
    envelope(&genuine, own, "genuine", "");
    if (!troupe::isolation::WriteFrame(fd, genuine).ok()) return 1;
  } else if (m == "hangup") {
    close(fd);
    for (;;) pause();
  } else {
    return 2;
  }
  WaitForEnd(fd);
  return 0;
}
