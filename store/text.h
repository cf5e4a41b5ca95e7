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

}  // namespace keepfs
