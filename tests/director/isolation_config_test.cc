// isolation_config_test.cc - the isolated-host settings of troupe_config:
// isolation_default, isolated_memory_bytes, isolated_cpu_seconds,
// isolated_open_files, isolated_user and isolated_handler_timeout_ms: their
// defaults, the forms each accepts, the problem each bad value makes (naming
// the file) and the typed accessors.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/common/strings.h"
#include "daemon/config/config.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::config {
namespace {

namespace fs = std::filesystem;
using ::troupe::testing::TempDir;

void WriteSetting(const std::string& dir, const std::string& name, const std::string& text) {
  fs::create_directories(dir + "/config");
  std::ofstream(dir + "/config/" + name) << text;
}

// A daemon user other than root, so that isolated_user is checked for syntax
// only: as root the files (root's) are accepted for any owner.
uid_t NotRoot() { return ::geteuid() == 0 ? 65534 : ::geteuid(); }

// The problems of `config` that mention `part`.
std::vector<std::string> ProblemsWith(const Config& config, const std::string& part) {
  std::vector<std::string> found;
  for (const std::string& problem : config.problems()) {
    if (problem.find(part) != std::string::npos) found.push_back(problem);
  }
  return found;
}

TEST(IsolationConfigTest, DefaultsAreInlineAndTheDocumentedLimits) {
  TempDir dir;
  const Config config = Config::LoadFrom(dir.path(), "--dir", NotRoot());
  EXPECT_OK(config.Check());
  EXPECT_EQ(config.Find("isolation_default")->value, "inline");
  EXPECT_EQ(config.Find("isolated_memory_bytes")->value, "4294967296");
  EXPECT_EQ(config.Find("isolated_cpu_seconds")->value, "0");
  EXPECT_EQ(config.Find("isolated_open_files")->value, "256");
  EXPECT_EQ(config.Find("isolated_user")->value, "nobody");
  EXPECT_EQ(config.Find("isolated_handler_timeout_ms")->value, "30000");
  ASSERT_OK_AND_ASSIGN(bundle::Isolation isolation, config.IsolationDefault());
  EXPECT_EQ(isolation, bundle::Isolation::kInline);
  ASSERT_OK_AND_ASSIGN(bundle::IsolatedHostLimits limits, config.IsolatedHosts());
  EXPECT_EQ(limits.memory_bytes, uint64_t{4} << 30);
  EXPECT_EQ(limits.cpu_seconds, 0u);
  EXPECT_EQ(limits.open_files, 256u);
  EXPECT_EQ(limits.user, "nobody");
  EXPECT_EQ(limits.handler_timeout, absl::Seconds(30));
  ASSERT_OK_AND_ASSIGN(DaemonSettings daemon, config.Daemon());
  EXPECT_EQ(daemon.isolation_default, bundle::Isolation::kInline);
  EXPECT_EQ(daemon.isolated_hosts.open_files, 256u);
}

TEST(IsolationConfigTest, ValidValuesReachTheTypedAccessors) {
  TempDir dir;
  WriteSetting(dir.path(), "isolation_default", "process\n");
  WriteSetting(dir.path(), "isolated_memory_bytes", "8589934592");
  WriteSetting(dir.path(), "isolated_cpu_seconds", " 3600 ");
  WriteSetting(dir.path(), "isolated_open_files", "1024");
  WriteSetting(dir.path(), "isolated_user", "troupe-host");
  WriteSetting(dir.path(), "isolated_handler_timeout_ms", "250");
  const Config config = Config::LoadFrom(dir.path(), "--dir", NotRoot());
  EXPECT_OK(config.Check());
  ASSERT_OK_AND_ASSIGN(bundle::Isolation isolation, config.IsolationDefault());
  EXPECT_EQ(isolation, bundle::Isolation::kProcess);
  ASSERT_OK_AND_ASSIGN(bundle::IsolatedHostLimits limits, config.IsolatedHosts());
  EXPECT_EQ(limits.memory_bytes, 8589934592u);
  EXPECT_EQ(limits.cpu_seconds, 3600u);
  EXPECT_EQ(limits.open_files, 1024u);
  EXPECT_EQ(limits.user, "troupe-host");
  EXPECT_EQ(limits.handler_timeout, absl::Milliseconds(250));
  ASSERT_OK_AND_ASSIGN(DaemonSettings daemon, config.Daemon());
  EXPECT_EQ(daemon.isolation_default, bundle::Isolation::kProcess);
  EXPECT_EQ(daemon.isolated_hosts.user, "troupe-host");
  EXPECT_EQ(config.Find("isolated_user")->source,
            "file " + dir.path() + "/config/isolated_user");
}

TEST(IsolationConfigTest, EveryBoundaryValueIsAccepted) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> accepted = {
      {"isolation_default", {"inline", "process"}},
      {"isolated_memory_bytes", {"0", "67108864", "18446744073709551615"}},
      {"isolated_cpu_seconds", {"0", "1", "4294967295"}},
      {"isolated_open_files", {"16", "65536"}},
      {"isolated_user", {"nobody", "_troupe", "a", "svc$", "host-1_x",
                         std::string(32, 'u')}},
      {"isolated_handler_timeout_ms", {"100", "3600000"}},
  };
  for (const auto& [name, values] : accepted) {
    for (const std::string& value : values) {
      TempDir dir;
      WriteSetting(dir.path(), name, value);
      const Config config = Config::LoadFrom(dir.path(), "--dir", NotRoot());
      EXPECT_OK(config.Check()) << name << " = " << value;
    }
  }
}

TEST(IsolationConfigTest, EachBadValueIsAProblemNamingTheFileAndWhy) {
  struct Case {
    std::string name;
    std::string value;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"isolation_default", "Process", "'Process' is not one of inline, process"},
      {"isolation_default", "isolated", "'isolated' is not one of inline, process"},
      {"isolated_memory_bytes", "4G", "'4G' is not a non-negative decimal integer"},
      {"isolated_memory_bytes", "-1", "'-1' is not a non-negative decimal integer"},
      {"isolated_memory_bytes", "1048576",
       "must be 0 (no limit) or at least 67108864 (64 MiB): an isolated host cannot start in "
       "less address space"},
      {"isolated_memory_bytes", "18446744073709551616",
       "'18446744073709551616' is not a non-negative decimal integer"},
      {"isolated_cpu_seconds", "1.5", "'1.5' is not a non-negative decimal integer"},
      {"isolated_cpu_seconds", "4294967296", "'4294967296' is too large"},
      {"isolated_open_files", "15", "must be between 16 and 65536"},
      {"isolated_open_files", "65537", "must be between 16 and 65536"},
      {"isolated_open_files", "many", "'many' is not a non-negative decimal integer"},
      {"isolated_user", "", "'' is not a user name (it is empty)"},
      {"isolated_user", "Nobody",
       "'Nobody' is not a user name (it must start with a lowercase letter or '_')"},
      {"isolated_user", "no body",
       "'no body' is not a user name (character ' ' at position 3; use lowercase letters, "
       "digits, '_' and '-')"},
      {"isolated_user", "a$b",
       "'a$b' is not a user name (character '$' at position 2; use lowercase letters, digits, "
       "'_' and '-')"},
      {"isolated_user", "../x",
       "'../x' is not a user name (it must start with a lowercase letter or '_')"},
      {"isolated_user", std::string(33, 'u'),
       "'" + std::string(33, 'u') + "' is not a user name (more than 32 characters)"},
      {"isolated_user", "root",
       "'root' is not an unprivileged user: isolated hosts must not run as root"},
      {"isolated_handler_timeout_ms", "99", "must be between 100 and 3600000"},
      {"isolated_handler_timeout_ms", "3600001", "must be between 100 and 3600000"},
      {"isolated_handler_timeout_ms", "30s", "'30s' is not a non-negative decimal integer"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    WriteSetting(dir.path(), c.name, c.value);
    const Config config = Config::LoadFrom(dir.path(), "--dir", NotRoot());
    const std::string path = dir.path() + "/config/" + c.name;
    ASSERT_EQ(config.problems().size(), 1u) << c.name << " = " << c.value << "\n"
                                            << config.Check();
    EXPECT_EQ(config.problems()[0], path + ": " + c.name + ": " + c.problem)
        << c.name << " = " << c.value;
    EXPECT_EQ(config.Find(c.name)->problem, c.problem);
    // The typed accessors refuse it, naming the file, and so does Daemon().
    const absl::Status accessor = c.name == "isolation_default"
                                      ? config.IsolationDefault().status()
                                      : config.IsolatedHosts().status();
    EXPECT_EQ(accessor.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(accessor.message(), path + ": " + c.name + ": " + c.problem);
    EXPECT_EQ(config.Daemon().status().code(), absl::StatusCode::kInvalidArgument) << c.name;
  }
}

TEST(IsolationConfigTest, ADaemonRunningAsRootNeedsAnIsolatedUserThatExists) {
  // The setting file must be root's for a root daemon to read it at all.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to write a setting a root daemon reads";
  TempDir dir;
  const std::string missing = "troupe-no-such-user-4711";
  ASSERT_EQ(::getpwnam(missing.c_str()), nullptr) << "the test needs a user name nobody has";
  WriteSetting(dir.path(), "isolated_user", missing);
  const std::string path = dir.path() + "/config/isolated_user";
  const std::string why = "user '" + missing +
                          "' does not exist on this host (troupd runs as root, so its isolated "
                          "hosts run as this user): create it (adduser --system " +
                          missing + ") or name another";

  // For a root daemon (owner 0) it must exist.
  const Config as_root = Config::LoadFrom(dir.path(), "--dir", 0);
  const std::vector<std::string> problems = ProblemsWith(as_root, "isolated_user");
  ASSERT_EQ(problems.size(), 1u) << as_root.Check();
  EXPECT_EQ(problems[0], path + ": isolated_user: " + why);
  const absl::Status refused = as_root.IsolatedHosts().status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.message(), path + ": isolated_user: " + why);

  // A daemon that is not root runs its hosts as itself: the name is syntax only.
  const Config as_user = Config::LoadFrom(dir.path(), "--dir", NotRoot());
  EXPECT_TRUE(ProblemsWith(as_user, "isolated_user").empty()) << as_user.Check();
  EXPECT_OK(as_user.IsolatedHosts());
}

TEST(IsolationConfigTest, TheDefaultUserIsCheckedForARootDaemonToo) {
  TempDir dir;
  if (::getpwnam("nobody") == nullptr) GTEST_SKIP() << "this host has no user nobody";
  const Config as_root = Config::LoadFrom(dir.path(), "--dir", 0);
  EXPECT_TRUE(ProblemsWith(as_root, "isolated_user").empty()) << as_root.Check();
  ASSERT_OK_AND_ASSIGN(bundle::IsolatedHostLimits limits, as_root.IsolatedHosts());
  EXPECT_EQ(limits.user, "nobody");
}

}  // namespace
}  // namespace troupe::config
