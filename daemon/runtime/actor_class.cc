#include "daemon/runtime/actor_class.h"

#include <cstddef>
#include <string>

#include "daemon/common/strings.h"
#include "daemon/runtime/cell.h"

namespace troupe::runtime {
namespace {

absl::Status ToStatus(troupe_result_t result, std::string_view what, const std::string& error) {
  std::string text = error.empty() ? troupe::StrCat(what, " failed with code ", result) : error;
  switch (result) {
    case TROUPE_OK:
      return absl::OkStatus();
    case TROUPE_ERROR_INVALID_ARGUMENT:
      return absl::InvalidArgumentError(text);
    case TROUPE_ERROR_NOT_FOUND:
      return absl::NotFoundError(text);
    case TROUPE_ERROR_FAILED_PRECONDITION:
      return absl::FailedPreconditionError(text);
    case TROUPE_ERROR_RESOURCE_EXHAUSTED:
      return absl::ResourceExhaustedError(text);
    case TROUPE_ERROR_UNAVAILABLE:
      return absl::UnavailableError(text);
    default:
      return absl::UnknownError(text);
  }
}

}  // namespace

absl::StatusOr<void*> PluginActorClass::Create(Cell* cell) const {
  void* instance = nullptr;
  cell->ClearError();
  troupe_result_t result = desc_->create(cell->context(), HostTable(), &instance);
  if (result != TROUPE_OK) return ToStatus(result, "create", cell->error());
  if (instance == nullptr) {
    return absl::InternalError(
        troupe::StrCat("create of '", desc_->name, "' returned OK but no instance"));
  }
  return instance;
}

absl::Status PluginActorClass::Receive(void* instance, Cell* cell, Message& message) const {
  troupe_message_t view;
  view.type = {message.type().data(), message.type().size()};
  view.payload = {message.payload().data(), message.payload().size()};
  view.sender = message.sender();
  troupe_result_t result = desc_->receive(instance, cell->context(), &view);
  if (result == TROUPE_OK) return absl::OkStatus();
  return ToStatus(result, "receive", cell->error());
}

bool PluginActorClass::ReadExitWhenUnfit(const troupe_plugin_v1_t* library,
                                         const troupe_actor_class_v1_t* desc) {
  return library != nullptr && library->abi_minor >= 2 &&
         desc->struct_size >= offsetof(troupe_actor_class_v1_t, exit_when_unfit) + sizeof(uint32_t) &&
         desc->exit_when_unfit != 0;
}

bool PluginActorClass::CapabilityCheck(std::string_view capabilities_json,
                                       std::string_view requirements_json) const {
  if (desc_->capability_check == nullptr) return true;
  return desc_->capability_check({capabilities_json.data(), capabilities_json.size()},
                                 {requirements_json.data(), requirements_json.size()}) != 0;
}

}  // namespace troupe::runtime
