// client_auth_test.cc - ClientAuth::FromTokenFile: the client token file it
// creates, reads, and refuses (a FIFO at once, another user's file, a link).
#include "daemon/service/client_auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "tests/common/command_result.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe::service {
namespace {

using ::troupe::testing::TempDir;
using ::troupe::testing::WriteFileForTest;

constexpr char kToken[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

TEST(ClientAuthTest, AMissingTokenIsCreatedAndThenRead) {
  TempDir dir;
  const std::string path = dir.path() + "/client.token";
  ASSERT_OK_AND_ASSIGN(ClientAuth created, ClientAuth::FromTokenFile(path));
  EXPECT_TRUE(created.tcp_enabled());
  ASSERT_OK_AND_ASSIGN(ClientAuth read, ClientAuth::FromTokenFile(path));
  EXPECT_TRUE(
      read.TokenMatches("Bearer " + ::troupe::testing::ReadFileForTest(path).substr(0, 64)));
}

TEST(ClientAuthTest, AFifoIsRefusedAtOnce) {
  TempDir dir;
  const std::string path = dir.path() + "/client.token";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  absl::StatusOr<ClientAuth> auth = ClientAuth::FromTokenFile(path);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(auth.status().message(), "client token " + path + " is not a regular file (a fifo)");
}

TEST(ClientAuthTest, ATokenOthersCanReadOrALinkIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/client.token";
  WriteFileForTest(path, std::string(kToken) + "\n");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  absl::StatusOr<ClientAuth> open = ClientAuth::FromTokenFile(path);
  EXPECT_EQ(open.status().message(), "client token " + path +
                                         " is accessible by group or others (mode 0644); it is "
                                         "a secret: chmod 600 " +
                                         path);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  const std::string link = dir.path() + "/link.token";
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  absl::StatusOr<ClientAuth> linked = ClientAuth::FromTokenFile(link);
  EXPECT_EQ(linked.status().message(),
            "client token " + link + " is a symbolic link; put the file itself there");
}

TEST(ClientAuthTest, ATokenOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  TempDir dir;
  const std::string path = dir.path() + "/client.token";
  WriteFileForTest(path, std::string(kToken) + "\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  absl::StatusOr<ClientAuth> auth = ClientAuth::FromTokenFile(path);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(auth.status().message(), "client token " + path +
                                         " is owned by uid 65534, not by the user reading it "
                                         "(uid 0); it is a secret: chown 0 " +
                                         path);
}

}  // namespace
}  // namespace troupe::service
