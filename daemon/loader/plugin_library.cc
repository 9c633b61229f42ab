#include "daemon/loader/plugin_library.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <set>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "daemon/common/status_macros.h"

namespace troupe::loader {
namespace {

// Debian's Abseil is built with its own absl::string_view (not std's), which
// StrCat needs.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The smallest tables any supported minor may return.
constexpr size_t kMinPluginSize = offsetof(troupe_plugin_v1_t, classes) + sizeof(void*);
constexpr size_t kPluginSizeWithSdkVersion =
    offsetof(troupe_plugin_v1_t, sdk_version) + sizeof(const char*);
constexpr size_t kMinClassSize =
    offsetof(troupe_actor_class_v1_t, pool_idle_count) + sizeof(uint32_t);
// Anything larger than this is garbage, not a table from a future minor.
constexpr size_t kMaxTableSize = 64 * 1024;
constexpr size_t kMaxNameSize = 256;
constexpr size_t kMaxClassCount = 100000;

// Validates a NUL-terminated STATIC string of at most `max_size` bytes.
absl::Status CheckName(const std::string& path, std::string_view what, const char* name) {
  if (name == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "' has a null ", AbslView(what)));
  }
  const size_t size = strnlen(name, kMaxNameSize + 1);
  if (size == 0 || size > kMaxNameSize) {
    return absl::FailedPreconditionError(absl::StrCat("library '", path, "' has a ", AbslView(what),
                                                      " that is empty or longer than ",
                                                      kMaxNameSize));
  }
  return absl::OkStatus();
}

bool IsValidClassName(absl::string_view name) {
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

absl::Status ValidateClass(const std::string& path, size_t index, const troupe_actor_class_v1_t* c,
                           std::set<std::string_view>* names) {
  if (c == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "': class ", index, " is null"));
  }
  if (c->struct_size < kMinClassSize || c->struct_size > kMaxTableSize) {
    return absl::FailedPreconditionError(absl::StrCat("library '", path, "': class ", index,
                                                      " has struct_size ", c->struct_size,
                                                      ", expected at least ", kMinClassSize));
  }
  TROUPE_RETURN_IF_ERROR(CheckName(path, absl::StrCat("name for class ", index), c->name));
  const absl::string_view name = c->name;
  if (!IsValidClassName(name)) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "': class name '", name,
                     "' may only hold letters, digits, '_', '.' and ':'"));
  }
  if (!names->insert(c->name).second) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "' defines class '", name, "' twice"));
  }
  if (c->create == nullptr || c->destroy == nullptr || c->receive == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "': class '", name, "' lacks create, destroy or receive"));
  }
  if (c->failure_policy != TROUPE_FAILURE_RESUME && c->failure_policy != TROUPE_FAILURE_RESTART) {
    return absl::FailedPreconditionError(absl::StrCat(
        "library '", path, "': class '", name, "' has unknown failure_policy ", c->failure_policy));
  }
  if (c->pool_idle_count > c->pool_max_count) {
    return absl::FailedPreconditionError(absl::StrCat("library '", path, "': class '", name,
                                                      "' has pool_idle_count ", c->pool_idle_count,
                                                      " above pool_max_count ", c->pool_max_count));
  }
  return absl::OkStatus();
}

// Validates everything but the classes; returns the SDK version (STATIC).
absl::StatusOr<std::string_view> ValidatePlugin(const std::string& path,
                                                const troupe_plugin_v1_t* plugin) {
  if (plugin == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "': ", TROUPE_PLUGIN_ENTRY_SYMBOL, "() returned null"));
  }
  // struct_size, abi_major and abi_minor are the stable header of every table.
  if (plugin->struct_size < kMinPluginSize || plugin->struct_size > kMaxTableSize) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "' has a table of ", plugin->struct_size,
                     " bytes, expected at least ", kMinPluginSize));
  }
  if (plugin->abi_major != TROUPE_ABI_MAJOR) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "' was built for ABI major ", plugin->abi_major,
                     ", this host supports ", TROUPE_ABI_MAJOR));
  }
  if (plugin->abi_minor > TROUPE_ABI_MINOR) {
    return absl::FailedPreconditionError(absl::StrCat(
        "library '", path, "' was built for ABI ", plugin->abi_major, ".", plugin->abi_minor,
        ", newer than this host's ", TROUPE_ABI_MAJOR, ".", TROUPE_ABI_MINOR));
  }
  TROUPE_RETURN_IF_ERROR(CheckName(path, "library_name", plugin->library_name));
  if (plugin->class_count == 0 || plugin->class_count > kMaxClassCount) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "' declares ", plugin->class_count, " actor classes"));
  }
  if (plugin->classes == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "' has a null class list"));
  }
  std::string_view sdk_version;
  if (plugin->struct_size >= kPluginSizeWithSdkVersion && plugin->sdk_version != nullptr) {
    sdk_version = std::string_view(plugin->sdk_version, strnlen(plugin->sdk_version, kMaxNameSize));
  }
  std::set<std::string_view> names;
  for (size_t i = 0; i < plugin->class_count; ++i) {
    TROUPE_RETURN_IF_ERROR(ValidateClass(path, i, plugin->classes[i], &names));
  }
  return sdk_version;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PluginLibrary>> PluginLibrary::Open(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("library '", path, "' does not exist"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("library '", path, "' cannot be read: ", std::strerror(error)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("library '", path, "' is not a regular file"));
  }
  // A name without '/' would make dlopen search the library path instead.
  const std::string dl_path = path.find('/') == std::string::npos ? "./" + path : path;
  dlerror();
  void* handle = dlopen(dl_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return absl::InvalidArgumentError(absl::StrCat(
        "library '", path, "' cannot be loaded: ", error != nullptr ? error : "unknown error"));
  }
  absl::Cleanup close_handle = [handle] { dlclose(handle); };

  dlerror();
  void* entry = dlsym(handle, TROUPE_PLUGIN_ENTRY_SYMBOL);
  if (entry == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("library '", path, "' does not export ", TROUPE_PLUGIN_ENTRY_SYMBOL, "()"));
  }
  const troupe_plugin_v1_t* plugin = reinterpret_cast<troupe_plugin_entry_fn>(entry)();
  TROUPE_ASSIGN_OR_RETURN(std::string_view sdk_version, ValidatePlugin(path, plugin));

  std::move(close_handle).Cancel();
  return std::unique_ptr<PluginLibrary>(new PluginLibrary(path, handle, plugin, sdk_version));
}

PluginLibrary::~PluginLibrary() { dlclose(handle_); }

const troupe_actor_class_v1_t* PluginLibrary::FindClass(std::string_view name) const {
  for (size_t i = 0; i < plugin_->class_count; ++i) {
    if (name == plugin_->classes[i]->name) return plugin_->classes[i];
  }
  return nullptr;
}

std::vector<std::string_view> PluginLibrary::ClassNames() const {
  std::vector<std::string_view> names;
  names.reserve(plugin_->class_count);
  for (size_t i = 0; i < plugin_->class_count; ++i) names.push_back(plugin_->classes[i]->name);
  return names;
}

}  // namespace troupe::loader
