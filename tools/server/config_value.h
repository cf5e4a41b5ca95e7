// ConfigValue: one value of keepfs.toml as ParseServerConfig reads it, with what a
// message about it names: "PATH:LINE: [ingest] rescan". Internal to the
// server config parser (server_config.cc); not a public interface.
//
// Thread safety: a view of a toml++ node; use it while the parsed table lives.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "store/status.h"

namespace keepfs::server {

// "a string", "an integer", "a table": for "is X, not Y" messages.
std::string TomlTypeName(const toml::node& node);

class ConfigValue {
 public:
  // shown: the key as messages name it, "store" or "[ingest] rescan".
  ConfigValue(const std::string& path, const toml::node& node, std::string shown)
      : path_(path), node_(node), shown_(std::move(shown)) {}

  int line() const { return static_cast<int>(node_.source().begin.line); }
  // InvalidArgument "PATH:LINE: SHOWN: what" (what: "what is wrong; what to do").
  Status Bad(std::string_view what) const;

  // An integer in [lo, hi].
  Result<int64_t> Int(int64_t lo, int64_t hi) const;
  // A string; an empty one only when may_be_empty.
  Result<std::string> String(bool may_be_empty) const;
  // "1min", "12h" (ParseDuration) or an integer of seconds, in [lo, hi] seconds.
  Result<int64_t> Duration(int64_t lo, int64_t hi) const;
  // "10MiB" (ParseSize; a trailing "/s" is allowed, for rates) or an integer
  // of bytes, at least lo.
  Result<uint64_t> Size(uint64_t lo) const;

 private:
  const std::string& path_;
  const toml::node& node_;
  std::string shown_;
};

}  // namespace keepfs::server
