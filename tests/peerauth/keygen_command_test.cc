// keygen_command_test.cc - `director keygen --convention`, run as a program
// in a temporary TROUPE_DIR (like tests/director/director_test.cc).
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/peerauth/convention_key.h"
#include "tests/common/command_result.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

extern char** environ;

namespace troupe::peerauth {
namespace {

using troupe::testing::CommandResult;
using troupe::testing::ReadFileForTest;
using troupe::testing::TempDir;

class KeygenCommandTest : public ::testing::Test {
 protected:
  // Runs `director --dir <dir> args...`.
  CommandResult Director(std::vector<std::string> args) {
    args.insert(args.begin(), {TROUPE_DIRECTOR_PATH, "--dir", troupe_dir()});
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string out = root_.path() + "/stdout", err = root_.path() + "/stderr";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = 0;
    CommandResult result;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0) {
      int status = 0;
      if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) result.code = WEXITSTATUS(status);
    }
    posix_spawn_file_actions_destroy(&actions);
    result.out = ReadFileForTest(out);
    result.err = ReadFileForTest(err);
    return result;
  }
  std::string troupe_dir() const { return root_.path() + "/troupe"; }
  std::string key_path() const { return troupe_dir() + "/keys/convention.key"; }

  TempDir root_{"keygen_command_test"};
};

TEST_F(KeygenCommandTest, ConventionWritesAPrivateKeyAndSaysToCopyIt) {
  CommandResult r = Director({"keygen", "--convention"});
  ASSERT_EQ(r.code, 0) << r;
  struct stat st;
  ASSERT_EQ(::stat(key_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_OK_AND_ASSIGN(ConventionKey key, ConventionKey::Load(key_path()));
  EXPECT_CONTAINS(r.out, "wrote " + key_path());
  EXPECT_CONTAINS(r.out, "fingerprint " + key.Fingerprint());
  EXPECT_CONTAINS(r.out, "copy it");
  EXPECT_CONTAINS(r.out, "every member");
}

TEST_F(KeygenCommandTest, ConventionRefusesToOverwriteWithoutForce) {
  ASSERT_EQ(Director({"keygen", "--convention"}).code, 0);
  const std::string first = ReadFileForTest(key_path());
  CommandResult again = Director({"keygen", "--convention"});
  EXPECT_EQ(again.code, 6) << again;
  EXPECT_CONTAINS(again.err, key_path());
  EXPECT_CONTAINS(again.err, "--force");
  EXPECT_EQ(ReadFileForTest(key_path()), first);

  CommandResult forced = Director({"keygen", "--convention", "--force"});
  EXPECT_EQ(forced.code, 0) << forced;
  EXPECT_CONTAINS(forced.out, "replaced " + key_path());
  EXPECT_NE(ReadFileForTest(key_path()), first);
  EXPECT_OK(ConventionKey::Load(key_path()));
}

TEST_F(KeygenCommandTest, ConventionWithJsonAndOut) {
  const std::string out_dir = root_.path() + "/elsewhere";
  CommandResult r = Director({"--json", "keygen", "--convention", "--out", out_dir});
  ASSERT_EQ(r.code, 0) << r;
  // std::regex is avoided: GCC 12 warns inside it under ASan (-Werror).
  const std::string head =
      "{\"ok\":true,\"convention_key\":\"" + out_dir + "/convention.key\",\"fingerprint\":\"";
  ASSERT_EQ(r.out.rfind(head, 0), 0u) << r;
  const std::string rest = r.out.substr(head.size());
  ASSERT_GE(rest.size(), 16u) << r;
  EXPECT_EQ(rest.substr(0, 16).find_first_not_of("0123456789abcdef"), std::string::npos) << r;
  EXPECT_EQ(rest.substr(16), "\",\"replaced\":false}\n") << r;
  EXPECT_OK(ConventionKey::Load(out_dir + "/convention.key"));
}

TEST_F(KeygenCommandTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Director({"keygen"}).code, 2);                          // neither NAME nor --convention
  EXPECT_EQ(Director({"keygen", "name", "--convention"}).code, 2);  // both
  EXPECT_EQ(Director({"keygen", "name", "--force"}).code, 2);       // --force without --convention
  CommandResult help = Director({"keygen", "--help"});
  EXPECT_EQ(help.code, 0) << help;
  EXPECT_CONTAINS(help.out, "--convention");
  EXPECT_CONTAINS(help.out, "--force");
  // Signing keys are made as before.
  EXPECT_EQ(Director({"keygen", "signing"}).code, 0);
}

}  // namespace
}  // namespace troupe::peerauth
