// RetentionPolicy's values: rules by name, durations, and their description
// (the [retention] section itself is read in config.cc).
#include <cctype>
#include <charconv>
#include <string>

#include "store/config.h"
#include "store/text.h"

namespace keepfs {

namespace {
struct Unit {
  const char* name;
  int64_t seconds;
};
// Largest first: FormatDuration takes the first that divides.
constexpr Unit kUnits[] = {{"y", 365 * 86400}, {"w", 7 * 86400}, {"d", 86400},
                           {"h", 3600},        {"min", 60},      {"s", 1}};

Result<int64_t> ParseCount(std::string_view rule, std::string_view text, int64_t min) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min) {
    return Status::InvalidArgument(Clip(rule) + " must be a whole number " +
                                   (min < 0 ? "(-1 for unlimited, 0 for off)" : "(0 for off)") +
                                   ", not '" + Clip(text) + "'");
  }
  return v;
}
}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  size_t i = 0;
  int64_t v = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    if (v > (INT64_MAX - 9) / 10) return Status::InvalidArgument("duration is too long");
    v = v * 10 + (text[i] - '0');
  }
  std::string_view unit = text.substr(i);
  int64_t scale = unit.empty() ? 1 : 0;
  for (const Unit& u : kUnits) {
    if (unit == u.name) scale = u.seconds;
  }
  if (unit == "m") scale = 0;  // minutes or months? Refuse rather than guess.
  if (i == 0 || scale == 0) {
    return Status::InvalidArgument("'" + Clip(text) +
                                   "' is not a duration: use a number with one of s, min, h, d, "
                                   "w, y (e.g. 30d)");
  }
  if (v > INT64_MAX / scale) return Status::InvalidArgument("duration is too long");
  return v * scale;
}

std::string FormatDuration(int64_t seconds) {
  for (const Unit& u : kUnits) {
    if (seconds != 0 && seconds % u.seconds == 0) {
      return std::to_string(seconds / u.seconds) + u.name;
    }
  }
  return std::to_string(seconds) + "s";
}

RetentionPolicy RetentionPolicy::Default() {
  RetentionPolicy p;
  p.keep_within_sec = 30 * 86400;
  p.keep_monthly = -1;
  return p;
}

std::string RetentionPolicy::Describe() const {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (keep_within_sec > 0) add("keep-within " + FormatDuration(keep_within_sec));
  if (keep_last > 0) add("keep-last " + std::to_string(keep_last));
  const std::pair<const char*, int64_t> calendar[] = {{"keep-hourly", keep_hourly},
                                                      {"keep-daily", keep_daily},
                                                      {"keep-weekly", keep_weekly},
                                                      {"keep-monthly", keep_monthly},
                                                      {"keep-yearly", keep_yearly}};
  for (const auto& [name, n] : calendar) {
    if (n != 0) add(std::string(name) + " " + (n < 0 ? "unlimited" : std::to_string(n)));
  }
  if (keep_first) add("keep-first");
  if (quota_bytes) add("quota " + std::to_string(*quota_bytes) + " bytes");
  return out.empty() ? "no rules (only the newest snapshot is kept)" : out;
}

Status SetRetentionRule(RetentionPolicy* p, std::string_view rule, std::string_view value) {
  int64_t* calendar = rule == "keep-hourly"    ? &p->keep_hourly
                      : rule == "keep-daily"   ? &p->keep_daily
                      : rule == "keep-weekly"  ? &p->keep_weekly
                      : rule == "keep-monthly" ? &p->keep_monthly
                      : rule == "keep-yearly"  ? &p->keep_yearly
                                               : nullptr;
  if (calendar) {
    KEEPFS_ASSIGN_OR_RETURN(*calendar, ParseCount(rule, value, -1));
  } else if (rule == "keep-last") {
    KEEPFS_ASSIGN_OR_RETURN(p->keep_last, ParseCount(rule, value, 0));
  } else if (rule == "keep-within") {
    auto d = ParseDuration(value);
    if (!d.ok()) return Status::InvalidArgument("keep-within: " + d.status().message());
    p->keep_within_sec = *d;
  } else if (rule == "keep-first") {
    if (value != "true" && value != "false") {
      return Status::InvalidArgument("keep-first must be true or false");
    }
    p->keep_first = value == "true";
  } else if (rule == "quota") {
    if (value == "none") {
      p->quota_bytes.reset();
    } else {
      auto q = ParseSize(value);
      if (!q.ok()) return Status::InvalidArgument("quota: " + q.status().message() + " (or none)");
      p->quota_bytes = *q;
    }
  } else {
    std::string known;
    for (const auto& r : kRetentionRules) known += (known.empty() ? "" : ", ") + std::string(r.name);
    return Status::InvalidArgument("unknown retention rule '" + Clip(rule) + "' (known: " +
                                   known + ")");
  }
  return Status::OK();
}

const RetentionPolicy& StoreConfig::RetentionFor(std::string_view user) const {
  auto it = user_retention.find(user);
  return it == user_retention.end() ? retention : it->second;
}

}  // namespace keepfs
