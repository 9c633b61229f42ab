// Tests of the crash record (crash_record.h): which bundle an unclean exit
// is charged to, when a bundle is held back, and the file formats.
#include "daemon/hosting/crash_record.h"

#include <string>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"

namespace troupe::hosting {
namespace {

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');
const absl::Time kStart = absl::FromUnixSeconds(1700000000);

TEST(CrashRecordTest, TheBundleWhoseCodeStartedLastIsTheSuspect) {
  std::string running = FormatRunning(kStart);
  EXPECT_EQ(LastStartedCode(running), "") << "nothing started";
  running += RunningCodeLine(kHashA) + "\n" + RunningCodeLine(kHashB) + "\n";
  EXPECT_EQ(LastStartedCode(running), kHashB);
  EXPECT_EQ(LastStartedCode(running + "code " + kHashA.substr(0, 10)), kHashB)
      << "a line cut short by the crash is ignored";
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
