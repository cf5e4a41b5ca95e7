// The two systemd conventions a Type=notify service needs, without linking
// libsystemd: a datagram to $NOTIFY_SOCKET ("READY=1", "WATCHDOG=1",
// "STOPPING=1", "STATUS=..."), and the watchdog interval from
// $WATCHDOG_USEC. Outside systemd both do nothing.
//
// Thread safety: safe from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace keepfs::server {

// Sends state to the service manager; false when there is none or the send
// failed (never an error worth stopping for).
bool SdNotify(std::string_view state);

// How often systemd expects WATCHDOG=1 (WatchdogSec=), if it does, for this process.
std::optional<std::chrono::microseconds> SdWatchdogInterval();

}  // namespace keepfs::server
