// Tests of PoliteSpin (daemon/common/polite_spin.h): it stops as soon as the
// awaited thing is there, and gives up after its rounds or its time.
#include "daemon/common/polite_spin.h"

#include <gtest/gtest.h>

namespace troupe {
namespace {

TEST(PoliteSpinTest, ReturnsTrueAsSoonAsReadyHolds) {
  PoliteSpin spin;
  int calls = 0;
  // On a busy host a yield may come back late and end the spin early (that
  // is the point of it); otherwise it ends exactly when `ready` holds.
  if (spin.Spin(1000, std::chrono::seconds(10), [&] { return ++calls == 3; })) {
    EXPECT_EQ(calls, 3);
  } else {
    EXPECT_LT(calls, 3);
  }
}

TEST(PoliteSpinTest, GivesUpAfterItsRounds) {
  PoliteSpin spin;
  int calls = 0;
  EXPECT_FALSE(spin.Spin(5, std::chrono::seconds(10), [&] {
    ++calls;
    return false;
  }));
  EXPECT_LE(calls, 5);
}

TEST(PoliteSpinTest, NoRoundsMeansNoLook) {
  PoliteSpin spin;
  int calls = 0;
  EXPECT_FALSE(spin.Spin(0, std::chrono::seconds(10), [&] { return ++calls > 0; }));
  EXPECT_EQ(calls, 0);
}

TEST(PoliteSpinTest, GivesUpWhenItsTimeIsUp) {
  PoliteSpin spin;
  int calls = 0;
  // Zero time: the first round's check ends the spin before any yield.
  EXPECT_FALSE(spin.Spin(1000, std::chrono::nanoseconds(0), [&] { return ++calls > 0; }));
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace troupe
