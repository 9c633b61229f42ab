// status_matchers.h - ASSERT_OK / EXPECT_OK / ASSERT_OK_AND_ASSIGN for tests
// (GoogleTest 1.12 has none).
#pragma once

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace troupe::testing {
inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace troupe::testing

#define EXPECT_OK(expr) \
  EXPECT_TRUE(::troupe::testing::GetStatus(expr).ok()) << ::troupe::testing::GetStatus(expr)
#define ASSERT_OK(expr) \
  ASSERT_TRUE(::troupe::testing::GetStatus(expr).ok()) << ::troupe::testing::GetStatus(expr)
#define TROUPE_TEST_CONCAT_INNER_(a, b) a##b
#define TROUPE_TEST_CONCAT_(a, b) TROUPE_TEST_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(TROUPE_TEST_CONCAT_(statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  ASSERT_TRUE(tmp.ok()) << tmp.status();           \
  lhs = std::move(*tmp)

// Expects `text` (anything convertible to std::string) to contain `part`.
#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)
