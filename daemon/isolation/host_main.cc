// host_main.cc - troupe-host: one isolated host process (host_process.h).
// troupd starts it (isolated_host.h) with its end of the link on a
// descriptor: `troupe-host --link-fd N`. Exit status 0 after the daemon's
// HostShutdown, 1 when the link ended or failed (the reason on stderr), 2 for
// a bad command line.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/isolation/host_process.h"

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer's exit-time check needs ptrace, which the host's syscall
// filter refuses (daemon/confinement/syscall_filter.h).
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }
#endif

int main(int argc, char** argv) {
  int link_fd = -1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--link-fd") == 0 && i + 1 < argc) {
      char* end = nullptr;
      const long fd = std::strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || fd < 0 || fd > 65535) {
        std::fprintf(stderr, "troupe-host: bad --link-fd '%s'\n", argv[i]);
        return 2;
      }
      link_fd = static_cast<int>(fd);
    } else {
      std::fprintf(stderr, "troupe-host: unknown argument '%s' (usage: troupe-host --link-fd N)\n",
                   argv[i]);
      return 2;
    }
  }
  if (link_fd < 0) {
    std::fprintf(stderr, "troupe-host: --link-fd N is required\n");
    return 2;
  }
  const absl::Status end = troupe::isolation::RunHost(link_fd);
  if (end.ok()) return 0;
  const std::string text(end.message());
  std::fprintf(stderr, "troupe-host: %s\n", text.c_str());
  return 1;
}
