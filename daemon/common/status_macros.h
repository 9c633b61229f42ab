// status_macros.h - early-return helpers for absl::Status / absl::StatusOr.
// Debian's Abseil (20220623) has no status_macros.h, so we keep our own.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TROUPE_STATUS_CONCAT_INNER_(a, b) a##b
#define TROUPE_STATUS_CONCAT_(a, b) TROUPE_STATUS_CONCAT_INNER_(a, b)

// Returns `expr`'s status from the enclosing function when it is not OK.
#define TROUPE_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status troupe_status_ = (expr);          \
    if (!troupe_status_.ok()) return troupe_status_; \
  } while (false)

// `lhs = *expr` when `expr` (a StatusOr) is OK; otherwise returns its status.
#define TROUPE_ASSIGN_OR_RETURN(lhs, expr) \
  TROUPE_ASSIGN_OR_RETURN_IMPL_(TROUPE_STATUS_CONCAT_(troupe_statusor_, __LINE__), lhs, expr)
#define TROUPE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(*tmp)
