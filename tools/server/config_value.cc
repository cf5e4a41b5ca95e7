#include "tools/server/config_value.h"

#include "store/config.h"
#include "store/text.h"

namespace keepfs::server {

std::string TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a fractional number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

Status ConfigValue::Bad(std::string_view what) const {
  return Status::InvalidArgument(path_ + ":" + std::to_string(line()) + ": " + shown_ + ": " +
                                 std::string(what));
}

Result<int64_t> ConfigValue::Int(int64_t lo, int64_t hi) const {
  std::string range = "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (!node_.is_integer()) {
    return Bad("is " + TomlTypeName(node_) + ", not a whole number; write " + range +
               (node_.is_string() ? ", without quotes" : ""));
  }
  int64_t x = *node_.value<int64_t>();
  if (x < lo || x > hi) return Bad(std::to_string(x) + " is out of range; use " + range);
  return x;
}

Result<std::string> ConfigValue::String(bool may_be_empty) const {
  if (!node_.is_string()) {
    return Bad("is " + TomlTypeName(node_) + ", not a string; write it in double quotes");
  }
  std::string s = *node_.value<std::string>();
  if (s.empty() && !may_be_empty) return Bad("is empty; give a path");
  return s;
}

Result<int64_t> ConfigValue::Duration(int64_t lo, int64_t hi) const {
  std::string range = "a duration from " + FormatDuration(lo) + " to " + FormatDuration(hi);
  int64_t seconds = 0;
  if (node_.is_integer()) {
    seconds = *node_.value<int64_t>();
  } else if (node_.is_string()) {
    std::string text = *node_.value<std::string>();
    Result<int64_t> d = ParseDuration(text);
    if (!d.ok()) {
      return Bad("\"" + Clip(text) + "\" is not a duration; use " + range +
                 ": a number with one of s, min, h, d, w, y, e.g. \"1min\"");
    }
    seconds = *d;
  } else {
    return Bad("is " + TomlTypeName(node_) + ", not a duration; use " + range + ", e.g. \"1min\"");
  }
  if (seconds < lo || seconds > hi) {
    return Bad(FormatDuration(seconds) + " is out of range; use " + range);
  }
  return seconds;
}

Result<uint64_t> ConfigValue::Size(uint64_t lo) const {
  std::string want = "a size such as \"10MiB\" (units KiB, MiB, GiB, TiB) or a number of bytes";
  uint64_t bytes = 0;
  if (node_.is_integer()) {
    int64_t x = *node_.value<int64_t>();
    if (x < 0) return Bad(std::to_string(x) + " is negative; use " + want);
    bytes = static_cast<uint64_t>(x);
  } else if (node_.is_string()) {
    std::string text = *node_.value<std::string>();
    std::string_view number = text;
    if (number.size() > 2 && number.substr(number.size() - 2) == "/s") {
      number.remove_suffix(2);  // "10MiB/s": read_limit is a rate
    }
    Result<uint64_t> b = ParseSize(number);
    if (!b.ok()) return Bad("\"" + Clip(text) + "\" is not a size; use " + want);
    bytes = *b;
  } else {
    return Bad("is " + TomlTypeName(node_) + ", not a size; use " + want);
  }
  if (bytes < lo) {
    return Bad(std::to_string(bytes) + " bytes is too small; use at least " + std::to_string(lo) +
               " bytes");
  }
  return bytes;
}

}  // namespace keepfs::server
