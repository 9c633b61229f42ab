// plugin_library_test.cc - PluginLibrary against real actor libraries: the
// compat libraries (oldest minor, newest minor, a future major) and
// troupe_examples, plus files that are not libraries at all.
#include "daemon/loader/plugin_library.h"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/common/status_matchers.h"

namespace troupe::loader {
namespace {

using ::testing::HasSubstr;

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "plugin_library_test.XXXXXX";
  char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return pattern;
}

TEST(PluginLibraryTest, LoadsALibraryBuiltForTheOldestMinor) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PluginLibrary> library,
                       PluginLibrary::Open(TROUPE_COMPAT_MINOR0_PATH));
  EXPECT_EQ(library->path(), TROUPE_COMPAT_MINOR0_PATH);
  EXPECT_EQ(library->abi_minor(), 0u);
  EXPECT_EQ(library->sdk_version(), "");
  EXPECT_EQ(library->library_name(), "troupe_compat_minor0");
  EXPECT_LT(library->plugin().struct_size, sizeof(troupe_plugin_v1_t));
  EXPECT_EQ(library->ClassNames(), std::vector<std::string_view>{"compat.Echo"});
}

TEST(PluginLibraryTest, LoadsALibraryBuiltForTheNewestMinor) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PluginLibrary> library,
                       PluginLibrary::Open(TROUPE_COMPAT_NEWEST_PATH));
  EXPECT_EQ(library->abi_minor(), static_cast<uint32_t>(TROUPE_ABI_MINOR));
  EXPECT_EQ(library->sdk_version(), TROUPE_SDK_VERSION_FOR_TEST);
  EXPECT_EQ(library->library_name(), "troupe_compat_newest");
  ASSERT_NE(library->FindClass("compat.Echo"), nullptr);
  EXPECT_EQ(library->FindClass("compat.Missing"), nullptr);
}

TEST(PluginLibraryTest, RejectsAnotherAbiMajorWithAClearMessage) {
  absl::StatusOr<std::unique_ptr<PluginLibrary>> library =
      PluginLibrary::Open(TROUPE_COMPAT_MAJOR2_PATH);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(library.status().message(), std::string("library '") + TROUPE_COMPAT_MAJOR2_PATH +
                                            "' was built for ABI major 2, this host supports 1");
}

TEST(PluginLibraryTest, RejectsAMissingFileNamingIt) {
  const std::string path = MakeTempDir() + "/missing.so";
  absl::StatusOr<std::unique_ptr<PluginLibrary>> library = PluginLibrary::Open(path);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(library.status().message()), HasSubstr(path));
}

TEST(PluginLibraryTest, RejectsAFileThatIsNotALibraryNamingIt) {
  const std::string path = MakeTempDir() + "/notes.so";
  std::ofstream(path) << "this is text, not an ELF file\n";
  absl::StatusOr<std::unique_ptr<PluginLibrary>> library = PluginLibrary::Open(path);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(library.status().message()), HasSubstr("library '" + path + "'"));
  EXPECT_THAT(std::string(library.status().message()), HasSubstr("cannot be loaded"));
}

TEST(PluginLibraryTest, RejectsADirectory) {
  const std::string path = MakeTempDir();
  absl::StatusOr<std::unique_ptr<PluginLibrary>> library = PluginLibrary::Open(path);
  ASSERT_FALSE(library.ok());
  EXPECT_THAT(std::string(library.status().message()), HasSubstr(path));
}

TEST(PluginLibraryTest, ListsTheExampleClasses) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PluginLibrary> library,
                       PluginLibrary::Open(TROUPE_EXAMPLES_PATH));
  EXPECT_EQ(library->library_name(), "troupe_examples");
  EXPECT_EQ(library->ClassNames(),
            (std::vector<std::string_view>{
                "examples.Echo", "examples.Counter", "examples.Pinger", "examples.Ponger",
                "examples.Failing", "examples.RestartingFailing", "examples.PooledEcho",
                "examples.Timer", "examples.Parent", "examples.BrokenConstructor"}));
  const troupe_actor_class_v1_t* restarting = library->FindClass("examples.RestartingFailing");
  ASSERT_NE(restarting, nullptr);
  EXPECT_EQ(restarting->failure_policy, TROUPE_FAILURE_RESTART);
  const troupe_actor_class_v1_t* pooled = library->FindClass("examples.PooledEcho");
  ASSERT_NE(pooled, nullptr);
  EXPECT_EQ(pooled->pool_max_count, 4u);
  EXPECT_EQ(pooled->pool_idle_count, 1u);
}

// A minimal host: records sends, errors and log lines; enough for Counter
// and BrokenConstructor, which use nothing else.
std::vector<std::string> sent;
std::vector<std::string> errors;
std::vector<std::string> logged;
void RecordLog(troupe_actor_ctx_t*, troupe_log_level_t, troupe_bytes_t text) {
  logged.push_back(std::string(text.data, text.size));
}
troupe_result_t RecordSend(troupe_actor_ctx_t*, troupe_address_t, troupe_bytes_t type,
                           troupe_bytes_t payload) {
  sent.push_back(std::string(type.data, type.size) + "=" + std::string(payload.data, payload.size));
  return TROUPE_OK;
}
void RecordError(troupe_actor_ctx_t*, troupe_bytes_t text) {
  errors.push_back(std::string(text.data, text.size));
}

TEST(PluginLibraryTest, ExampleClassesRunAcrossTheBoundary) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PluginLibrary> library,
                       PluginLibrary::Open(TROUPE_EXAMPLES_PATH));
  troupe_host_v1_t host{};
  host.struct_size = sizeof(host);
  host.abi_major = TROUPE_ABI_MAJOR;
  host.abi_minor = TROUPE_ABI_MINOR;
  host.send = &RecordSend;
  host.report_error = &RecordError;
  host.log = &RecordLog;
  sent.clear();
  errors.clear();
  logged.clear();

  const troupe_actor_class_v1_t* broken = library->FindClass("examples.BrokenConstructor");
  ASSERT_NE(broken, nullptr);
  void* instance = nullptr;
  EXPECT_NE(broken->create(nullptr, &host, &instance), TROUPE_OK);
  EXPECT_EQ(instance, nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("fails in its constructor"));

  const troupe_actor_class_v1_t* counter = library->FindClass("examples.Counter");
  ASSERT_NE(counter, nullptr);
  ASSERT_EQ(counter->create(nullptr, &host, &instance), TROUPE_OK);
  troupe_address_t fake_sender = reinterpret_cast<troupe_address_t>(0x10);
  troupe_message_t increment{{"increment", 9}, {"5", 1}, nullptr};
  troupe_message_t bad{{"increment", 9}, {"five", 4}, nullptr};
  troupe_message_t get{{"get", 3}, {nullptr, 0}, fake_sender};
  EXPECT_EQ(counter->receive(instance, nullptr, &increment), TROUPE_OK);
  EXPECT_EQ(counter->receive(instance, nullptr, &increment), TROUPE_OK);
  EXPECT_EQ(counter->receive(instance, nullptr, &bad), TROUPE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(counter->receive(instance, nullptr, &get), TROUPE_OK);
  counter->destroy(instance);
  EXPECT_EQ(sent, std::vector<std::string>{"count=10"});
  EXPECT_EQ(logged, (std::vector<std::string>{"count is now 5", "count is now 10"}));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[1], HasSubstr("'five'"));
}

TEST(PluginLibraryTest, ClosingTheLastHandleUnloadsTheLibrary) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<PluginLibrary> library,
                         PluginLibrary::Open(TROUPE_EXAMPLES_PATH));
    troupe_host_v1_t host{};
    host.struct_size = sizeof(host);
    host.send = &RecordSend;
    host.report_error = &RecordError;
    host.log = &RecordLog;
    // Run code that uses std::function, std::string and the SDK's
    // thread-local binding: none of it may pin the library.
    const troupe_actor_class_v1_t* counter = library->FindClass("examples.Counter");
    void* instance = nullptr;
    ASSERT_EQ(counter->create(nullptr, &host, &instance), TROUPE_OK);
    troupe_message_t increment{{"increment", 9}, {"5", 1}, nullptr};
    EXPECT_EQ(counter->receive(instance, nullptr, &increment), TROUPE_OK);
    counter->destroy(instance);
    void* probe = dlopen(TROUPE_EXAMPLES_PATH, RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(probe, nullptr) << "the library should be resident while open";
    dlclose(probe);  // drop the reference the probe added
  }
  EXPECT_EQ(dlopen(TROUPE_EXAMPLES_PATH, RTLD_NOW | RTLD_NOLOAD), nullptr)
      << "troupe_examples stayed resident after its last dlclose";
}

}  // namespace
}  // namespace troupe::loader
