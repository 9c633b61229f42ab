// run_as_user.h - the isolated host gives up root for an unprivileged user
// (setting isolated_user, default "nobody").
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace troupe::confinement {

// Makes `user` (a name in the user database) the real, effective and saved
// user and its primary group the only group (no supplementary groups), then
// checks that root cannot be regained: setuid(0) and setgid(0) must fail and
// no capability may be left. For every thread of the process (glibc applies
// set*id to all threads).
//
// Errors: InvalidArgumentError for an empty name or a user whose uid or
// primary gid is 0; FailedPreconditionError "unknown user 'x' ..." when the
// user database has no such user; PermissionDeniedError when the process is
// not root and is not already `user`; InternalError when root could be
// regained. Not root and already `user` (uid and groups unchanged): OK.
// On an error after the first change the process is half changed: exit.
absl::Status RunAsUser(std::string_view user);

}  // namespace troupe::confinement
