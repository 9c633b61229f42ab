// Tests of RestrictFiles (daemon/confinement/file_access.h): Landlock in
// probes over a temporary tree with a read-only, a read-write and an outside
// directory. Skipped only when the kernel has no Landlock.
#include "daemon/confinement/file_access.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"
#include "tests/common/temp_dir.h"
#include "tests/confinement/probe_runner.h"

namespace troupe::confinement {
namespace {

using testing::ProbeResult;
using testing::Refused;
using testing::RunProbe;

// Skips the test when the kernel has no Landlock, saying why.
#define SKIP_WITHOUT_LANDLOCK()                                    \
  if (absl::StatusOr<int> abi_ = LandlockAbiVersion(); !abi_.ok()) \
  GTEST_SKIP() << abi_.status().message()

class FileAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string* dir : {&read_only_, &read_write_, &outside_}) {
      ASSERT_EQ(::mkdir(dir->c_str(), 0755), 0) << *dir;
    }
    troupe::testing::WriteFileForTest(read_only_ + "/data.txt", "bundle data\n");
    troupe::testing::WriteFileForTest(read_only_ + "/other.txt", "other\n");
    troupe::testing::WriteFileForTest(outside_ + "/secret.txt", "secret\n");
  }

  // The probe arguments that confine it as a host is confined.
  std::vector<std::string> Confine() const {
    return {"--step",      "nnp",      "--step",       "landlock",
            "--read-only", read_only_, "--read-write", read_write_};
  }

  troupe::testing::TempDir root_{"confinement_landlock"};
  const std::string read_only_ = root_.path() + "/bundle";
  const std::string read_write_ = root_.path() + "/scratch";
  const std::string outside_ = root_.path() + "/outside";
};

TEST_F(FileAccessTest, ReadsOnlyInsideAndWritesOnlyInTheReadWritePaths) {
  SKIP_WITHOUT_LANDLOCK();
  std::vector<std::string> args = Confine();
  for (const std::string& op :
       {"open-read=" + read_only_ + "/data.txt", "list-dir=" + read_only_,
        "open-write=" + read_write_ + "/new.txt", "open-read=" + read_write_ + "/new.txt",
        "open-write=" + read_only_ + "/new.txt", "open-read=" + outside_ + "/secret.txt",
        "list-dir=" + outside_, "open-write=" + outside_ + "/new.txt"}) {
    args.insert(args.end(), {"--try", op});
  }
  const ProbeResult result = RunProbe(args);
  EXPECT_TRUE(result.Has("open-read " + read_only_ + "/data.txt: ok 12 bytes")) << result;
  EXPECT_TRUE(result.Has("list-dir " + read_only_ + ": ok 4 entries")) << result;
  EXPECT_TRUE(result.Has("open-write " + read_write_ + "/new.txt: ok")) << result;
  EXPECT_TRUE(result.Has("open-read " + read_write_ + "/new.txt: ok 6 bytes")) << result;
  EXPECT_TRUE(result.Has(Refused("open-write " + read_only_ + "/new.txt", "EACCES"))) << result;
  EXPECT_TRUE(result.Has(Refused("open-read " + outside_ + "/secret.txt", "EACCES"))) << result;
  EXPECT_TRUE(result.Has(Refused("list-dir " + outside_, "EACCES"))) << result;
  EXPECT_TRUE(result.Has(Refused("open-write " + outside_ + "/new.txt", "EACCES"))) << result;
  EXPECT_EQ(troupe::testing::ReadFileForTest(read_write_ + "/new.txt"), "probe\n");
  EXPECT_NE(::access((outside_ + "/new.txt").c_str(), F_OK), 0);
  EXPECT_NE(::access((read_only_ + "/new.txt").c_str(), F_OK), 0);
}

TEST_F(FileAccessTest, WithoutLandlockTheSameOperationsWork) {
  // The control for the test above: the EACCES come from Landlock.
  const ProbeResult result =
      RunProbe({"--try", "open-read=" + outside_ + "/secret.txt", "--try",
                "open-write=" + outside_ + "/new.txt", "--try", "list-dir=" + outside_});
  EXPECT_EQ(result.exit_code, 0) << result;
}

TEST_F(FileAccessTest, ASingleFileCanBeGrantedWithoutItsDirectory) {
  SKIP_WITHOUT_LANDLOCK();
  const std::string file = read_only_ + "/data.txt";
  const ProbeResult result =
      RunProbe({"--step", "nnp", "--step", "landlock", "--read-only", file, "--try",
                "open-read=" + file, "--try", "open-read=" + read_only_ + "/other.txt"});
  EXPECT_TRUE(result.Has("open-read " + file + ": ok 12 bytes")) << result;
  EXPECT_TRUE(result.Has(Refused("open-read " + read_only_ + "/other.txt", "EACCES"))) << result;
}

TEST_F(FileAccessTest, DlopenWorksFromAReadOnlyPathAndFromAMemfd) {
  SKIP_WITHOUT_LANDLOCK();
  const std::string library = TROUPE_CONFINEMENT_PROBE_LIBRARY;
  // The probe's own libraries are loaded already; the new one must be
  // readable (its directory) and a memfd needs no path at all.
  const std::string library_dir = library.substr(0, library.rfind('/'));
  const ProbeResult result =
      RunProbe({"--step", "nnp", "--step", "landlock", "--read-only", library_dir, "--try",
                "dlopen=" + library, "--try", "dlopen-memfd=" + library});
  EXPECT_TRUE(result.Has("dlopen " + library + ": ok 42")) << result;
  EXPECT_TRUE(result.Has("dlopen-memfd " + library + ": ok 42")) << result;
  const ProbeResult outside =
      RunProbe({"--step", "nnp", "--step", "landlock", "--try", "dlopen=" + library});
  EXPECT_NE(outside.out.find("dlopen " + library + ": dlopen failed"), std::string::npos)
      << outside;
}

TEST_F(FileAccessTest, RefusesTcpConnectionsWhereLandlockHandlesThem) {
  SKIP_WITHOUT_LANDLOCK();
  ASSERT_OK_AND_ASSIGN(const int abi, LandlockAbiVersion());
  if (abi < 4) GTEST_SKIP() << "landlock ABI " << abi << " has no network rules (ABI 4)";
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), size), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size), 0);
  const std::string op = "connect-tcp=" + std::to_string(ntohs(address.sin_port));
  const std::string label = "connect-tcp " + std::to_string(ntohs(address.sin_port));
  const ProbeResult confined = RunProbe({"--step", "nnp", "--step", "landlock", "--try", op});
  const ProbeResult control = RunProbe({"--try", op});
  ::close(listener);
  EXPECT_TRUE(confined.Has(Refused(label, "EACCES"))) << confined;
  EXPECT_TRUE(control.Has(label + ": ok")) << control;
}

TEST_F(FileAccessTest, RefusesSignalsOutsideTheHostWhereLandlockScopesThem) {
  SKIP_WITHOUT_LANDLOCK();
  ASSERT_OK_AND_ASSIGN(const int abi, LandlockAbiVersion());
  if (abi < 6) GTEST_SKIP() << "landlock ABI " << abi << " has no signal scope (ABI 6)";
  const ProbeResult result = RunProbe(
      {"--step", "nnp", "--step", "landlock", "--try", "kill-self", "--try", "kill-parent"});
  EXPECT_TRUE(result.Has("kill-self: ok")) << result;
  EXPECT_TRUE(result.Has(Refused("kill-parent"))) << result;
}

TEST_F(FileAccessTest, RefusesAMultiThreadedProcess) {
  SKIP_WITHOUT_LANDLOCK();
  const ProbeResult result =
      RunProbe({"--start-thread", "--step", "nnp", "--step", "landlock", "--read-only", read_only_,
                "--try", "open-read=" + outside_ + "/secret.txt"});
  EXPECT_EQ(result.exit_code, 10) << result;
  EXPECT_GE(testing::ThreadsInRefusal(result, "step landlock: FAILED_PRECONDITION: landlock: "), 2)
      << result;
}

TEST_F(FileAccessTest, AMissingPathIsNamedAndNothingIsRestricted) {
  const std::string missing = root_.path() + "/no-such-dir";
  const ProbeResult result =
      RunProbe({"--step", "nnp", "--step", "landlock", "--read-only", read_only_, "--read-only",
                missing, "--try", "open-read=" + outside_ + "/secret.txt"});
  EXPECT_EQ(result.exit_code, 10) << result;
  EXPECT_TRUE(result.Has("step landlock: NOT_FOUND: landlock read-only path '" + missing +
                         "': cannot open: No such file or directory"))
      << result;
}

TEST_F(FileAccessTest, ARelativePathIsRefused) {
  const absl::Status status = RestrictFiles({{"scratch"}, {}});
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(), "landlock read-write path 'scratch' is not absolute");
}

TEST(LandlockAbiVersionTest, IsAVersionOrSaysWhyNot) {
  absl::StatusOr<int> abi = LandlockAbiVersion();
  if (abi.ok()) {
    EXPECT_GE(*abi, 1);
  } else {
    EXPECT_TRUE(absl::IsUnimplemented(abi.status())) << abi.status();
    EXPECT_EQ(abi.status().message().rfind("landlock unavailable: ", 0), 0u) << abi.status();
  }
}

}  // namespace
}  // namespace troupe::confinement
