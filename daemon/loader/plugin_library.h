// plugin_library.h - one opened actor library (.so) and its validated C ABI
// table (sdk/include/troupe/abi.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "troupe/abi.h"

namespace troupe::loader {

// PluginLibrary owns a dlopen handle (RTLD_NOW | RTLD_LOCAL) to an actor
// library whose troupe_plugin_v1 table passed validation: same ABI major as
// this host, a minor no newer than ours, at least one class, every class with
// a valid, unique name and create/destroy/receive set. The destructor
// dlcloses the handle, so no instance of its classes may outlive it (unload
// protocol: PLUGIN-LOADING.md section 3.6). Const methods may be called from
// any thread; Open and destruction need external synchronization.
class PluginLibrary {
 public:
  // Opens and validates the library at `path`. Errors name the file and the
  // reason: NotFound (no such file), InvalidArgument (not a loadable library,
  // no entry symbol), FailedPrecondition (another ABI major, a newer minor, a
  // malformed table).
  static absl::StatusOr<std::unique_ptr<PluginLibrary>> Open(const std::string& path);

  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;
  ~PluginLibrary();

  // The library's table. Only the first plugin().struct_size bytes may be
  // read; use sdk_version() rather than plugin().sdk_version.
  const troupe_plugin_v1_t& plugin() const { return *plugin_; }
  const std::string& path() const { return path_; }
  std::string_view library_name() const { return plugin_->library_name; }
  uint32_t abi_minor() const { return plugin_->abi_minor; }
  // The SDK version the library was built with; empty for minor 0 tables.
  std::string_view sdk_version() const { return sdk_version_; }

  size_t class_count() const { return plugin_->class_count; }
  const troupe_actor_class_v1_t& actor_class(size_t index) const {
    return *plugin_->classes[index];
  }
  // The class named `name`, or nullptr.
  const troupe_actor_class_v1_t* FindClass(std::string_view name) const;
  // Class names in table order.
  std::vector<std::string_view> ClassNames() const;

 private:
  PluginLibrary(std::string path, void* handle, const troupe_plugin_v1_t* plugin,
                std::string_view sdk_version)
      : path_(std::move(path)), handle_(handle), plugin_(plugin), sdk_version_(sdk_version) {}

  std::string path_;
  void* handle_;
  const troupe_plugin_v1_t* plugin_;
  std::string_view sdk_version_;  // STATIC in the library
};

}  // namespace troupe::loader
