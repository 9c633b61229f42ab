// Tests of the crash record (crash_record.h): which bundle a dead run is
// charged to (only those its fault lines name), when a bundle is held back,
// and the file formats. tests/hosting/fault_handler_test.cc has real faults.
#include "daemon/hosting/crash_record.h"

#include <signal.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"

namespace troupe::hosting {
namespace {

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');
const absl::Time kStart = absl::FromUnixSeconds(1700000000);

std::string FaultLine(const std::string& hash, int signal) {
  char line[kMaxFaultLine];
  return std::string(line, FormatFaultLine(hash.c_str(), signal, line));
}

TEST(CrashRecordTest, AFaultLineNamesTheHashAndTheSignal) {
  EXPECT_EQ(FaultLine(kHashA, SIGABRT), "fault " + kHashA + " 6\n");
  EXPECT_EQ(FaultLine(kHashB, 11), "fault " + kHashB + " 11\n");
  EXPECT_EQ(FaultLine(kHashA + "tail", 2147483647), "fault " + kHashA + " 2147483647\n")
      << "at most 64 characters of the hash; the longest line fits";
}

TEST(CrashRecordTest, TheFaultLinesOfARunningFileNameEachBundleOnce) {
  std::string running = FormatRunning(kStart);
  EXPECT_TRUE(FaultsInRunning(running).empty()) << "a bare leftover names nobody";
  running += FaultLine(kHashB, SIGSEGV) + "code " + kHashA + "\n" + FaultLine(kHashA, SIGABRT) +
             FaultLine(kHashB, SIGABRT) + "fault " + kHashA.substr(0, 10);
  std::vector<Fault> faults = FaultsInRunning(running);
  ASSERT_EQ(faults.size(), 2u) << running;
  EXPECT_EQ(faults[0].hash, kHashB);
  EXPECT_EQ(faults[0].signal, SIGSEGV) << "its first line";
  EXPECT_EQ(faults[1].hash, kHashA);
  EXPECT_EQ(faults[1].signal, SIGABRT);
  EXPECT_TRUE(FaultsInRunning("fault " + kHashA + " \n").empty()) << "cut short";
}

TEST(CrashRecordTest, ALeftoverRunningFileWithoutFaultsChargesNobody) {
  CrashHistory history;
  const absl::Duration window = absl::Seconds(60);
  // An old-style file (code lines: the bundle that started last) too.
  const std::string bare = FormatRunning(kStart) + "code " + kHashA + "\n";
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(history.ChargeDeadRun(bare, kStart + absl::Seconds(i), window).empty());
  }
  EXPECT_TRUE(history.crashes.empty());
  EXPECT_EQ(history.HeldReason(kHashA), nullptr);
}

TEST(CrashRecordTest, FaultLinesChargeTheirBundlesAndTheSecondWithinTheWindowHoldsIt) {
  CrashHistory history;
  const absl::Duration window = absl::Seconds(60);
  const std::string run = FormatRunning(kStart) + FaultLine(kHashA, SIGABRT);
  std::vector<CrashHistory::Charged> first = history.ChargeDeadRun(run, kStart, window);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].hash, kHashA);
  EXPECT_EQ(first[0].signal, SIGABRT);
  EXPECT_EQ(first[0].held_reason, "");
  ASSERT_EQ(history.crashes.size(), 1u);
  EXPECT_EQ(history.crashes[0].at, kStart);

  // Two threads faulted in one run: each bundle once, and A not twice.
  const std::string both =
      FormatRunning(kStart) + FaultLine(kHashA, SIGSEGV) + FaultLine(kHashA, SIGSEGV) +
      FaultLine(kHashB, SIGBUS);
  std::vector<CrashHistory::Charged> second =
      history.ChargeDeadRun(both, kStart + absl::Seconds(30), window);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].held_reason,
            "the daemon died twice within 1m while it ran this bundle; not restored (unload it, "
            "or load it again to retry)");
  EXPECT_EQ(second[1].hash, kHashB);
  EXPECT_EQ(second[1].held_reason, "") << "B faulted once";
  EXPECT_NE(history.HeldReason(kHashA), nullptr);
  EXPECT_EQ(history.HeldReason(kHashB), nullptr);
  EXPECT_EQ(history.crashes.size(), 3u);
}

TEST(CrashRecordTest, SignalsAreNamed) {
  EXPECT_EQ(SignalName(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(SignalName(SIGABRT), "SIGABRT");
  EXPECT_EQ(SignalName(SIGKILL), "signal 9");
}

TEST(CrashRecordTest, TheSecondCrashWithinTheWindowHoldsTheBundle) {
  CrashHistory history;
  const absl::Duration window = absl::Seconds(60);
  EXPECT_EQ(history.RecordUncleanExit(kHashA, kStart, window), "");
  EXPECT_EQ(history.HeldReason(kHashA), nullptr);
  EXPECT_EQ(history.RecordUncleanExit(kHashB, kStart + absl::Seconds(1), window), "")
      << "another bundle's crash does not count";
  const std::string reason = history.RecordUncleanExit(kHashA, kStart + absl::Seconds(59), window);
  EXPECT_EQ(reason,
            "the daemon died twice within 1m while it ran this bundle; not restored (unload it, "
            "or load it again to retry)");
  ASSERT_NE(history.HeldReason(kHashA), nullptr);
  EXPECT_EQ(*history.HeldReason(kHashA), reason);
  EXPECT_EQ(history.HeldReason(kHashB), nullptr);
}

TEST(CrashRecordTest, CrashesOutsideTheWindowAreForgotten) {
  CrashHistory history;
  const absl::Duration window = absl::Seconds(60);
  EXPECT_EQ(history.RecordUncleanExit(kHashA, kStart, window), "");
  EXPECT_EQ(history.RecordUncleanExit(kHashA, kStart + absl::Seconds(60), window), "");
  EXPECT_EQ(history.HeldReason(kHashA), nullptr);
  EXPECT_EQ(history.crashes.size(), 1u);
  EXPECT_EQ(history.RecordUncleanExit("", kStart + absl::Seconds(200), window), "");
  EXPECT_TRUE(history.crashes.empty()) << "an exit charged to nobody only prunes";
}

TEST(CrashRecordTest, ForgetDropsCrashesAndTheHold) {
  CrashHistory history;
  history.RecordUncleanExit(kHashA, kStart, absl::Seconds(60));
  history.RecordUncleanExit(kHashA, kStart, absl::Seconds(60));
  ASSERT_NE(history.HeldReason(kHashA), nullptr);
  EXPECT_TRUE(history.Forget(kHashA));
  EXPECT_EQ(history.HeldReason(kHashA), nullptr);
  EXPECT_TRUE(history.crashes.empty());
  EXPECT_FALSE(history.Forget(kHashA));
}

TEST(CrashRecordTest, TheHistoryRoundTripsAndBadLinesAreIgnored) {
  CrashHistory history;
  history.RecordUncleanExit(kHashB, kStart, absl::Seconds(60));
  history.RecordUncleanExit(kHashA, kStart, absl::Seconds(60));
  history.RecordUncleanExit(kHashA, kStart + absl::Seconds(2), absl::Seconds(60));
  const std::string text = FormatCrashHistory(history) + "crash soon " + kHashA + "\nheld xyz\n";
  CrashHistory parsed = ParseCrashHistory(text);
  ASSERT_EQ(parsed.crashes.size(), 3u) << text;
  EXPECT_EQ(parsed.crashes[0].hash, kHashB);
  EXPECT_EQ(parsed.crashes[2].at, kStart + absl::Seconds(2));
  ASSERT_EQ(parsed.held.size(), 1u);
  EXPECT_EQ(parsed.held[0].first, kHashA);
  EXPECT_EQ(parsed.held[0].second, *history.HeldReason(kHashA));
}

}  // namespace
}  // namespace troupe::hosting
