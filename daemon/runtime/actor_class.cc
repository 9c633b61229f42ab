#include "daemon/runtime/actor_class.h"

#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <string>

#include "daemon/common/strings.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/runtime/cell.h"

namespace troupe::runtime {
namespace {

// Which bundle's code this thread runs: one store before and one after each
// call into a library (the hot path), read by a fatal-signal handler.
constinit thread_local const char* current_bundle_code = nullptr;
constinit thread_local bool alt_stack_checked = false;

// An alternate signal stack for a thread that runs bundle code, so that the
// fault handler runs even when that code overflowed the thread's stack.
class AltStack {
 public:
  void Install() {
    size_ = std::max<size_t>(64 * 1024, SIGSTKSZ);
    void* memory = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
    if (memory == MAP_FAILED) return;  // the handler then runs on the thread's own stack
    stack_t stack{};
    stack.ss_sp = memory;
    stack.ss_size = size_;
    if (::sigaltstack(&stack, nullptr) != 0) {
      ::munmap(memory, size_);
      return;
    }
    memory_ = memory;
  }
  ~AltStack() {
    if (memory_ == nullptr) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    if (::sigaltstack(&off, nullptr) == 0) ::munmap(memory_, size_);
  }

 private:
  void* memory_ = nullptr;
  size_t size_ = 0;
};

[[gnu::noinline, gnu::cold]] void GiveThreadAltStack() {
  alt_stack_checked = true;  // once per thread, whatever happens
  stack_t current{};
  if (::sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0) {
    return;  // the thread has one (e.g. a sanitizer's)
  }
  static thread_local AltStack alt_stack;
  alt_stack.Install();
}

// BundleCodeScope without the out-of-line calls, for PluginActorClass.
class CodeMark {
 public:
  explicit CodeMark(const char* hash) : previous_(current_bundle_code) {
    if (hash != nullptr && !alt_stack_checked) [[unlikely]] GiveThreadAltStack();
    current_bundle_code = hash;
  }
  ~CodeMark() { current_bundle_code = previous_; }
  CodeMark(const CodeMark&) = delete;
  CodeMark& operator=(const CodeMark&) = delete;

 private:
  const char* const previous_;
};

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

const char* CurrentBundleCode() { return current_bundle_code; }

BundleCodeScope::BundleCodeScope(const char* hash) : previous_(current_bundle_code) {
  if (hash != nullptr && !alt_stack_checked) GiveThreadAltStack();
  current_bundle_code = hash;
}

BundleCodeScope::~BundleCodeScope() { current_bundle_code = previous_; }

PluginActorClass::PluginActorClass(const troupe_plugin_v1_t* library,
                                   const troupe_actor_class_v1_t* desc,
                                   std::string_view bundle_hash)
    : library_(library),
      desc_(desc),
      name_(desc->name),
      exit_when_unfit_(ReadExitWhenUnfit(library, desc)) {
  if (bundle_hash.size() == bundle_hash_.size() - 1) {
    std::copy(bundle_hash.begin(), bundle_hash.end(), bundle_hash_.begin());
    code_ = bundle_hash_.data();
  }
}

absl::StatusOr<void*> PluginActorClass::Create(Cell* cell) const {
  void* instance = nullptr;
  cell->ClearError();
  troupe_result_t result;
  {
    CodeMark mark(code_);
    result = desc_->create(cell->context(), HostTable(), &instance);
  }
  cell->EndCodeCall();
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
  troupe_result_t result;
  {
    CodeMark mark(code_);
    result = desc_->receive(instance, cell->context(), &view);
  }
  cell->EndCodeCall();
  if (result == TROUPE_OK) return absl::OkStatus();
  return ToStatus(result, "receive", cell->error());
}

void PluginActorClass::Destroy(void* instance) const {
  CodeMark mark(code_);
  desc_->destroy(instance);
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
  CodeMark mark(code_);
  return desc_->capability_check({capabilities_json.data(), capabilities_json.size()},
                                 {requirements_json.data(), requirements_json.size()}) != 0;
}

}  // namespace troupe::runtime
