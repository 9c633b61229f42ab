// small_file_test.cc - ReadSmallFile: what it reads, and the files it refuses
// at once (a FIFO must never block it).
#include "daemon/common/small_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "daemon/common/strings.h"
#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"

namespace troupe {
namespace {

using ::troupe::testing::TempDir;

SmallFileOptions NoFollow() {
  SmallFileOptions options;
  options.follow_symlinks = false;
  return options;
}

SmallFileOptions Secret(mode_t forbidden_bits = 077) {
  SmallFileOptions options;
  options.secret = true;
  options.secret_forbidden_bits = forbidden_bits;
  return options;
}

SmallFileOptions SecretOf(uid_t owner) {
  SmallFileOptions options = Secret();
  options.owner = owner;
  return options;
}

std::string WriteFile(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path, std::ios::binary) << text;
  EXPECT_EQ(::chmod(path.c_str(), mode), 0) << path;
  return path;
}

TEST(SmallFileTest, ReadsARegularFile) {
  TempDir dir;
  const std::string path = WriteFile(dir.path() + "/value", "hello\n");
  ASSERT_OK_AND_ASSIGN(std::string text, ReadSmallFile(path, 64));
  EXPECT_EQ(text, "hello\n");
  ASSERT_OK_AND_ASSIGN(std::string exact, ReadSmallFile(path, 6));
  EXPECT_EQ(exact, "hello\n");
  WriteFile(path, "");
  ASSERT_OK_AND_ASSIGN(std::string empty, ReadSmallFile(path, 6));
  EXPECT_EQ(empty, "");
}

TEST(SmallFileTest, AFifoIsRefusedWithoutWaitingForAWriter) {
  TempDir dir;
  const std::string path = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  // Without O_NONBLOCK the open would block this test forever.
  absl::StatusOr<std::string> text = ReadSmallFile(path, 64);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(text.status().message(), path + " is not a regular file (a fifo)");
}

TEST(SmallFileTest, ADirectoryOrDeviceIsRefused) {
  TempDir dir;
  absl::StatusOr<std::string> directory = ReadSmallFile(dir.path(), 64);
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(directory.status().message(), dir.path() + " is not a regular file (a directory)");
  absl::StatusOr<std::string> device = ReadSmallFile("/dev/zero", 64);
  EXPECT_EQ(device.status().message(), "/dev/zero is not a regular file (a character device)");
}

TEST(SmallFileTest, AFileOverTheLimitIsRefused) {
  TempDir dir;
  const std::string path = WriteFile(dir.path() + "/big", std::string(65, 'x'));
  absl::StatusOr<std::string> text = ReadSmallFile(path, 64);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(text.status().message(), path + " is 65 bytes, more than the limit of 64");
}

TEST(SmallFileTest, AMissingFileIsNotFound) {
  TempDir dir;
  absl::StatusOr<std::string> text = ReadSmallFile(dir.path() + "/none", 64);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(text.status().message(), dir.path() + "/none does not exist");
}

TEST(SmallFileTest, SymbolicLinksAreFollowedUnlessTheCallerSaysNo) {
  TempDir dir;
  const std::string target = WriteFile(dir.path() + "/target", "v");
  const std::string link = dir.path() + "/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ASSERT_OK_AND_ASSIGN(std::string text, ReadSmallFile(link, 64));
  EXPECT_EQ(text, "v");
  absl::StatusOr<std::string> refused = ReadSmallFile(link, 64, NoFollow());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(), link + " is a symbolic link; put the file itself there");
}

TEST(SmallFileTest, ASecretOthersCanReadIsRefusedWithTheFix) {
  TempDir dir;
  const std::string path = WriteFile(dir.path() + "/secret", "s", 0640);
  absl::StatusOr<std::string> text = ReadSmallFile(path, 64, Secret());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(text.status().message(), path +
                                         " is accessible by group or others (mode 0640); it is a "
                                         "secret: chmod 600 " +
                                         path);
  // A TLS key may be readable by its group (ssl-cert), not by others.
  EXPECT_OK(ReadSmallFile(path, 64, Secret(007)));
  WriteFile(path, "s", 0604);
  absl::StatusOr<std::string> others = ReadSmallFile(path, 64, Secret(007));
  EXPECT_EQ(others.status().message(),
            path + " is accessible by others (mode 0604); it is a secret: chmod 600 " + path);
  WriteFile(path, "s", 0600);
  EXPECT_OK(ReadSmallFile(path, 64, Secret()));
}

TEST(SmallFileTest, ASecretOfAnotherUserIsRefused) {
  TempDir dir;
  const std::string path = WriteFile(dir.path() + "/secret", "s", 0600);
  const uid_t me = ::geteuid();
  // Root may own a secret (root can change anything anyway); any other user
  // than the expected one may not.
  if (me == 0) {
    ASSERT_EQ(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
    absl::StatusOr<std::string> text = ReadSmallFile(path, 64, Secret());
    EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(text.status().message(), path +
                                           " is owned by uid 65534, not by the user reading it "
                                           "(uid 0); it is a secret: chown 0 " +
                                           path);
  } else {
    const uid_t other = me + 1;
    absl::StatusOr<std::string> text = ReadSmallFile(path, 64, SecretOf(other));
    EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(text.status().message(),
              troupe::StrCat(path, " is owned by uid ", me, ", not by the user reading it (uid ",
                             other, "); it is a secret: chown ", other, " ", path));
  }
}

SmallFileOptions TrustedOf(std::optional<uid_t> owner = std::nullopt) {
  SmallFileOptions options;
  options.trusted_owner = true;
  options.owner = owner;
  return options;
}

TEST(SmallFileTest, ATrustedFileGroupOrOthersCanWriteIsRefusedWithTheFix) {
  TempDir dir;
  const std::string path = WriteFile(dir.path() + "/listen_tcp", "0.0.0.0:7000\n", 0666);
  absl::StatusOr<std::string> others = ReadSmallFile(path, 64, TrustedOf());
  EXPECT_EQ(others.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(others.status().message(),
            path + " is writable by others (mode 0666): chmod go-w " + path);
  WriteFile(path, "0.0.0.0:7000\n", 0660);
  absl::StatusOr<std::string> group = ReadSmallFile(path, 64, TrustedOf());
  EXPECT_EQ(group.status().message(),
            path + " is writable by its group (mode 0660): chmod go-w " + path);
  // Others may read it: it is not a secret.
  WriteFile(path, "0.0.0.0:7000\n", 0644);
  ASSERT_OK_AND_ASSIGN(std::string text, ReadSmallFile(path, 64, TrustedOf()));
  EXPECT_EQ(text, "0.0.0.0:7000\n");
  // Without the flag the mode does not matter.
  WriteFile(path, "0.0.0.0:7000\n", 0666);
  EXPECT_OK(ReadSmallFile(path, 64));
}

TEST(SmallFileTest, ATrustedFileOfAnotherUserIsRefusedWithTheFix) {
  TempDir dir;
  const std::string path = WriteFile(dir.path() + "/zone", "eu\n", 0644);
  const uid_t me = ::geteuid();
  if (me == 0) {
    // Root may own a trusted file, so give this one away.
    ASSERT_EQ(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
    absl::StatusOr<std::string> text = ReadSmallFile(path, 64, TrustedOf());
    EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(text.status().message(), path +
                                           " is owned by uid 65534, not by the daemon's user "
                                           "(uid 0): chown 0 " +
                                           path);
    EXPECT_OK(ReadSmallFile(path, 64, TrustedOf(65534)));
  } else {
    const uid_t other = me + 1;
    absl::StatusOr<std::string> text = ReadSmallFile(path, 64, TrustedOf(other));
    EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(text.status().message(),
              troupe::StrCat(path, " is owned by uid ", me, ", not by the daemon's user (uid ",
                             other, "): chown ", other, " ", path));
    EXPECT_OK(ReadSmallFile(path, 64, TrustedOf()));
  }
}

TEST(SmallFileTest, ATrustedFileRootOwnsPasses) {
  // Root can change anything anyway; /etc/passwd is root's and 0644.
  EXPECT_OK(ReadSmallFile("/etc/passwd", 1 << 20, TrustedOf(12345)).status());
}

}  // namespace
}  // namespace troupe
