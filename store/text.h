// Text for people and scripts: sizes with binary units, JSON strings. Shared
// by the CLI and the mount's .keepfs files, so both say the same thing.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keepfs {

std::string HumanBytes(uint64_t bytes);      // "1.5 GiB", "512 B"
std::string JsonString(std::string_view s);  // quoted, escaped; invalid UTF-8 bytes as \u00XX
// s itself when it is short; else its first bytes and how long it was, for
// an error message that echoes a value or key someone typed: a 10 MiB
// string in a config file must not become a 10 MiB message.
std::string Clip(std::string_view s, size_t max = 64);

}  // namespace keepfs
