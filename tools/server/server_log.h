// Where `keepfs serve` logs ([log] in the config, docs/config.md): a
// rotating file when one is named; else the journal when systemd runs us
// (JOURNAL_STREAM set: stderr lines with a <N> priority prefix, which
// journald turns into the entry's priority); else stderr with timestamps.
// One line per event, naming the user and snapshot; nothing at info level
// that is not an event an admin would want in the morning.
#pragma once

#include "store/status.h"
#include "tools/server/server_config.h"

namespace keepfs::server {

// Replaces spdlog's default logger. InvalidArgument for a bad level; an
// unwritable file is an error naming it.
Status SetUpServerLog(const LogConfig& config);

}  // namespace keepfs::server
