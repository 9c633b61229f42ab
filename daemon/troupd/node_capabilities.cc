#include "daemon/troupd/node_capabilities.h"

#include <sched.h>
#include <unistd.h>

#include <thread>

#include "daemon/common/json.h"
#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/config/capabilities.h"
#include "daemon/runtime/actor_system.h"
#include "troupe/abi.h"

namespace troupe::troupd {
namespace {

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// The cores this process may run on (its affinity mask), else all online.
long UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  const unsigned all = std::thread::hardware_concurrency();
  return all > 0 ? static_cast<long>(all) : 1;
}

unsigned long long MemoryBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<unsigned long long>(pages) * static_cast<unsigned long long>(page_size);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> NodeFacts(std::string_view troupe_version) {
  const auto quote = [](std::string_view text) {
    return JsonText(nlohmann::json(std::string(text)));
  };
  return {
      {"troupe.host", quote(HostName())},
      {"troupe.cores", troupe::StrCat(UsableCores())},
      {"troupe.memory_bytes", troupe::StrCat(MemoryBytes())},
      {"troupe.version", quote(troupe_version)},
      {"troupe.abi_version", quote(troupe::StrCat(TROUPE_ABI_MAJOR, ".", TROUPE_ABI_MINOR))},
  };
}

absl::Status InstallCapabilities(std::string_view troupe_dir, std::string_view troupe_version,
                                 runtime::ActorSystem* system) {
  for (const auto& [name, value] : NodeFacts(troupe_version)) {
    absl::StatusOr<bool> set = system->SetReadOnlyCapability(name, value);
    if (!set.ok()) return set.status();
  }
  absl::StatusOr<std::vector<config::CapabilityValue>> values =
      config::LoadCapabilities(troupe_dir);
  if (!values.ok()) {
    return absl::FailedPreconditionError(
        troupe::StrCat("the capability files in ", troupe_dir, " are invalid:\n",
                       values.status().message()));
  }
  for (const config::CapabilityValue& value : *values) {
    absl::StatusOr<bool> set = system->UpdateCapability(value.name, value.value_json);
    if (!set.ok()) {
      return absl::FailedPreconditionError(
          troupe::StrCat(value.source, ": ", set.status().message()));
    }
  }
  if (!values->empty()) {
    LogInfo("capabilities: ", values->size(), " from files in ", troupe_dir, ", ",
            NodeFacts(troupe_version).size(), " read-only");
  }
  return absl::OkStatus();
}

}  // namespace troupe::troupd
