// packaged_unit_test.cc - the unit the Debian package installs
// (cmake/TroupePackage.cmake renders systemd/troupd.service.in at configure
// time into <build>/packaging/troupd.service). It must say what bootstart's
// rendering says, for the packaged paths, and run troupd as the user troupe.
// scripts/package-test.sh runs `systemd-analyze verify` on the installed copy
// (that needs /usr/bin/troupd, which only the package provides).
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/command_result.h"

namespace {

using troupe::testing::HasLine;
using troupe::testing::Lines;

TEST(PackagedUnitTest, RunsTroupdFromUsrAsTheTroupeUser) {
  const std::string unit = troupe::testing::ReadFileForTest(TROUPE_PACKAGED_UNIT_PATH);
  ASSERT_NE(unit, "") << "cannot read " << TROUPE_PACKAGED_UNIT_PATH;
  for (const std::string& line : std::vector<std::string>{
           "User=troupe",
           "Group=troupe",
           "Type=notify",
           "ExecStartPre=/usr/bin/director config check",
           "ExecStart=/usr/bin/troupd",
           "Environment=TROUPE_DIR=/var/lib/troupe",
           "StateDirectory=troupe",
           "RuntimeDirectory=troupe",
           "ProtectSystem=strict",
           "UMask=0077",
           "TimeoutStopSec=45s",  // drain_timeout_seconds' default (30) + 15, as bootstart
           "WantedBy=multi-user.target",
       }) {
    EXPECT_TRUE(HasLine(unit, line)) << "no line '" << line << "' in\n" << unit;
  }
  for (const std::string& line : Lines(unit)) {
    EXPECT_EQ(line.find('@'), std::string::npos) << "placeholder left: " << line;
    EXPECT_NE(line.rfind("ReadWritePaths=", 0), 0u) << "TROUPE_DIR is the StateDirectory=";
  }
}

}  // namespace
