// convention_text.h - the text form of Admin.ConventionStatus, shared by
// troupd and `director status` / `director convention`. Depends on the
// generated protos only, so director can link it without the daemon's
// libraries (troupe_convention_text).
#pragma once

#include <string>

#include "troupe/v1/admin.pb.h"

namespace troupe::service {

// The convention as `director status` shows it: on a leader one block per
// member (address, load, last check-in, capabilities, bundles) plus the
// invited addresses; on a member its leader and whether it joined; "alone"
// otherwise. Ends with a newline.
std::string FormatConventionStatus(const v1::ConventionStatusResponse& convention);

}  // namespace troupe::service
