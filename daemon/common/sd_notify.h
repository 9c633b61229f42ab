// sd_notify.h - our own sd_notify(3) (no libsystemd): tells the service
// manager about start-up, status and shutdown over the datagram socket named
// by $NOTIFY_SOCKET. systemd sets it for Type=notify units (see
// systemd/troupd.service.in); anywhere else it is unset and every call here
// is an OK no-op, so troupd calls these unconditionally.
//
// The daemon's protocol (STYLE.md, "Daemon and systemd"):
//   SdNotifyStatus("restoring 3 bundles")     on each phase change
//   SdNotifyExtendTimeout(absl::Seconds(30))  repeatedly during long restores
//   SdNotifyReady()                           once listeners are bound and
//                                             bundles restored
//   SdNotifyStopping()                        when SIGTERM arrives
// Several assignments may go in one datagram: SdNotify("READY=1\nSTATUS=serving").
//
// Thread-safe (each call opens its own socket), as long as nobody changes
// NOTIFY_SOCKET concurrently (tests do, single-threaded). Like sd_notify with
// unset_environment=0, NOTIFY_SOCKET is left in the environment.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace troupe {

inline constexpr std::string_view kNotifySocketEnv = "NOTIFY_SOCKET";

// Sends `state` (newline-separated VAR=value assignments) as one datagram to
// $NOTIFY_SOCKET: an absolute path or an abstract name written "@name".
// OK without sending anything when NOTIFY_SOCKET is unset or empty.
// InvalidArgument for an empty `state` or a NOTIFY_SOCKET that is neither;
// otherwise the send error (Unavailable when nobody listens there), naming
// the socket.
absl::Status SdNotify(std::string_view state);

// Sends `state` to `socket` (same syntax as NOTIFY_SOCKET), ignoring the
// environment; an empty `socket` is an OK no-op. SdNotify() uses this.
absl::Status SdNotifyTo(std::string_view socket, std::string_view state);

// "READY=1": start-up is complete.
absl::Status SdNotifyReady();
// "STOPPING=1": shutdown has begun.
absl::Status SdNotifyStopping();
// "STATUS=<text>": a one-line status for `systemctl status`. Newlines in
// `text` become spaces (a newline would start another assignment).
absl::Status SdNotifyStatus(std::string_view text);
// "EXTEND_TIMEOUT_USEC=<n>": the current start-up (or stop) timeout is
// extended so that it ends no sooner than `extension` from now. Send it
// again before that runs out to keep extending. Negative counts as zero.
absl::Status SdNotifyExtendTimeout(absl::Duration extension);

// The assignment texts the helpers send, for tests and callers that batch.
std::string SdStatusLine(std::string_view text);
std::string SdExtendTimeoutLine(absl::Duration extension);

}  // namespace troupe
