// version_test.cc - ValidateVersion, CompareVersions and ExpandVersion,
// including the Thespian ordering (THESPIAN.md section 1.6) and where Troupe
// deliberately differs from it.
#include "daemon/bundle/version.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "tests/common/status_matchers.h"

namespace troupe::bundle {
namespace {

int Sign(int c) { return (c > 0) - (c < 0); }

struct Ordering {
  const char* a;
  const char* b;
  int want;  // sign of CompareVersions(a, b)
};

TEST(VersionTest, OrderingTable) {
  const std::vector<Ordering> table = {
      {"1.10", "1.9", 1},  // numeric fields compare as numbers, not text
      {"2", "1.99", 1},
      {"1.0", "1", 0},  // missing trailing fields count as 0
      {"1.0.0", "1", 0},
      {"1.0.1", "1", 1},
      {"05", "5", 0},  // leading zeros do not count
      {"1.05", "1.5", 0},
      {"2.0-rc.1", "2.0", -1},  // a pre-release precedes its release
      {"2.0-rc.1", "1.9", 1},
      {"2.0-rc.2", "2.0-rc.10", -1},     // numeric identifiers compare as numbers
      {"1.0-alpha", "1.0-beta", -1},     // words compare bytewise
      {"1.0-1", "1.0-alpha", -1},        // numbers before words
      {"1.0-alpha", "1.0-alpha.1", -1},  // a shorter identifier list is lower
      {"1.0-alpha.beta", "1.0-alpha.1", 1},
      {"1.0-RC", "1.0-rc", -1},       // bytewise: uppercase before lowercase
      {"1-rc.1", "1.0-rc.1", 0},      // release parts equal, same pre-release
      {"202611261200", "15.2.1", 1},  // dates are plain big numbers
      {"202611261200", "202611261159", 1},
      // Fields beyond 64 bits compare by length, then digits; no overflow.
      {"123456789012345678901234567890", "99999999999999999999", 1},
      {"123456789012345678901234567891", "123456789012345678901234567890", 1},
      {"000000000000000000000000000001", "1", 0},
      {"18446744073709551616", "18446744073709551615", 1},  // 2^64 > 2^64-1
  };
  for (const Ordering& row : table) {
    ASSERT_OK(ValidateVersion(row.a));
    ASSERT_OK(ValidateVersion(row.b));
    EXPECT_EQ(Sign(CompareVersions(row.a, row.b)), row.want) << row.a << " vs " << row.b;
    EXPECT_EQ(Sign(CompareVersions(row.b, row.a)), -row.want) << row.b << " vs " << row.a;
  }
}

// THESPIAN.md section 1.6, high to low, without the entries Troupe refuses
// ("15a5gamma1" ... "15a": letters only after '-'; and no version at all).
TEST(VersionTest, ThespianOrderHolds) {
  const std::vector<std::string> newest_first = {
      "201601280945", "201601251343", "201601251202", "15.2.1", "15.2",
      "15.1",         "15",           "05",           "1",      "0"};
  for (size_t i = 0; i + 1 < newest_first.size(); ++i) {
    EXPECT_GT(CompareVersions(newest_first[i], newest_first[i + 1]), 0)
        << newest_first[i] << " vs " << newest_first[i + 1];
  }
  for (size_t i = 0; i < newest_first.size(); ++i) {
    for (size_t j = i + 1; j < newest_first.size(); ++j) {
      EXPECT_GT(CompareVersions(newest_first[i], newest_first[j]), 0)
          << newest_first[i] << " vs " << newest_first[j];
    }
  }
}

// Thespian ranks "15a5gamma1" above "15.2.1"; Troupe refuses such versions:
// letters may only appear in a pre-release after '-'.
TEST(VersionTest, LettersInReleasePartAreInvalid) {
  for (const char* version : {"15a5gamma1", "15a", "1.2rc1", "1.0b"}) {
    absl::Status status = ValidateVersion(version);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << version;
    EXPECT_CONTAINS(status.message(), "is not allowed before '-'");
  }
}

// Thespian ranks "1.2-rc1" above "1.2" (a string run outranks the end of the
// list); in Troupe a pre-release comes before its release, as in semver.
TEST(VersionTest, PrereleaseRanksBelowItsRelease) {
  ASSERT_OK(ValidateVersion("1.2-rc1"));
  EXPECT_LT(CompareVersions("1.2-rc1", "1.2"), 0);
  EXPECT_GT(CompareVersions("1.2-rc1", "1.1"), 0);
}

// Thespian ranks "v2" above every numeric and date version; Troupe refuses it.
TEST(VersionTest, LeadingVIsInvalid) {
  absl::Status status = ValidateVersion("v2");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(status.message(), "version 'v2': character 'v' is not allowed before '-'");
}

// Thespian wrote GROUP-None.tls for a bundle without a version, which then
// outranked every release; Troupe refuses an empty version.
TEST(VersionTest, EmptyVersionIsRefused) {
  absl::Status status = ValidateVersion("");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(status.message(), "version is empty");
  EXPECT_CONTAINS(status.message(), "outrank every release");
}

TEST(VersionTest, InvalidVersionsSayWhy) {
  struct Row {
    const char* version;
    const char* error;
  };
  const std::vector<Row> table = {
      {".1", "numeric field 1 is empty"},
      {"1.", "numeric field 2 is empty"},
      {"1..2", "numeric field 2 is empty"},
      {"-rc.1", "numeric field 1 is empty"},
      {"1.0-", "pre-release after '-' is empty"},
      {"1.0-rc..1", "pre-release identifier 2 is empty"},
      {"1.0-rc-1", "character '-' is not allowed in the pre-release"},
      {"1.0-rc_1", "character '_' is not allowed in the pre-release"},
      {"1.0+build", "character '+' is not allowed before '-'"},
      {"1 .0", "character ' ' is not allowed before '-'"},
      {"date", "character 'd' is not allowed before '-'"},  // only ExpandVersion knows "date"
  };
  for (const Row& row : table) {
    absl::Status status = ValidateVersion(row.version);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << row.version;
    EXPECT_CONTAINS(status.message(), row.error);
  }
  EXPECT_CONTAINS(ValidateVersion(std::string(65, '1')).message(), "longer than 64 characters");
  EXPECT_OK(ValidateVersion(std::string(64, '1')));
}

TEST(VersionTest, ExpandDateGivesUtcMinutes) {
  absl::Time now = absl::FromCivil(absl::CivilSecond(2026, 11, 26, 12, 0, 59), absl::UTCTimeZone());
  ASSERT_OK_AND_ASSIGN(std::string version, ExpandVersion("date", now));
  EXPECT_EQ(version, "202611261200");
  // Not local time: the same instant seen from UTC+9 is still 12:00 UTC.
  absl::Time tokyo =
      absl::FromCivil(absl::CivilSecond(2026, 11, 26, 21, 0, 0), absl::FixedTimeZone(9 * 3600));
  ASSERT_OK_AND_ASSIGN(std::string from_tokyo, ExpandVersion("date", tokyo));
  EXPECT_EQ(from_tokyo, "202611261200");
  // A date build outranks any ordinary release.
  EXPECT_GT(CompareVersions(version, "15.2.1"), 0);
}

TEST(VersionTest, ExpandOtherSpecsValidates) {
  ASSERT_OK_AND_ASSIGN(std::string version, ExpandVersion("1.2-rc.1", absl::UnixEpoch()));
  EXPECT_EQ(version, "1.2-rc.1");
  EXPECT_EQ(ExpandVersion("", absl::UnixEpoch()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandVersion("v2", absl::UnixEpoch()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandVersion("Date", absl::UnixEpoch()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace troupe::bundle
