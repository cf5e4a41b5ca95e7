// Schedule: the "off | hourly :MM | daily HH:MM | weekly DAY HH:MM" syntax of
// the server's [schedule] keys, and when a job so scheduled is next due.
#include <time.h>

#include <cctype>
#include <cstdio>
#include <sstream>
#include <vector>

#include "store/text.h"
#include "tools/server/server_config.h"

namespace keepfs::server {

namespace {
constexpr const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
constexpr const char* kFullDays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                     "thursday", "friday", "saturday"};

Status Bad(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("'" + Clip(text) +
                                 "' is not a schedule: " + std::string(why) +
                                 "; write off, hourly :MM, daily HH:MM or weekly DAY HH:MM "
                                 "(e.g. \"weekly sun 03:00\")");
}

// 1 or 2 digits -> their value; -1 otherwise.
int Number(std::string_view s) {
  if (s.empty() || s.size() > 2) return -1;
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "HH:MM" (H may be one digit) -> hour, minute.
Status ParseTime(std::string_view text, std::string_view t, int* hour, int* minute) {
  size_t colon = t.find(':');
  if (colon == std::string_view::npos) return Bad(text, "the time must be HH:MM");
  int h = Number(t.substr(0, colon));
  std::string_view m = t.substr(colon + 1);
  int mm = m.size() == 2 ? Number(m) : -1;
  if (h < 0 || mm < 0) return Bad(text, "the time must be HH:MM");
  if (h > 23) return Bad(text, "the hour must be 00-23");
  if (mm > 59) return Bad(text, "the minute must be 00-59");
  *hour = h;
  *minute = mm;
  return Status::OK();
}

int Weekday(std::string_view day) {
  for (int i = 0; i < 7; ++i) {
    if (day == kDays[i] || day == kFullDays[i]) return i;
  }
  return -1;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Hourly: the first whole minute after `after` whose local minute is `minute`.
// Walking minutes, not hours, stays right when the UTC offset changes by a
// half or quarter hour (Lord Howe, or a zone changing its offset) and when
// a local hour repeats at the end of DST: both instances of a repeated
// 02:MM are due. The answer is at most two hours away.
std::optional<int64_t> NextHourly(int64_t after, int minute) {
  int64_t t = (FloorDiv(after, 60) + 1) * 60;
  for (int i = 0; i < 3 * 60; ++i, t += 60) {
    time_t tt = static_cast<time_t>(t);
    struct tm local {};
    if (::localtime_r(&tt, &local) == nullptr) break;
    if (local.tm_min == minute && local.tm_sec == 0) return t;
  }
  return after + 3600;  // an offset not in whole minutes; never 0 or negative
}

// Daily and weekly: that wall-clock time on each following date, through
// mktime, which resolves a repeated time to one of its instants (the job runs
// once) and a time skipped by DST to the instant it would have been had the
// clock not moved (02:30 on the spring-forward day runs at 03:30).
std::optional<int64_t> NextDated(int64_t after, int weekday, int hour, int minute) {
  time_t tt = static_cast<time_t>(after);
  struct tm now {};
  if (::localtime_r(&tt, &now) == nullptr) return after + 86400;
  // Eight dates reach the same weekday a week on from today, where today's
  // time has passed; a ninth covers a today that mktime put before `after`.
  for (int d = 0; d <= 8; ++d) {
    struct tm date {};
    date.tm_year = now.tm_year;
    date.tm_mon = now.tm_mon;
    date.tm_mday = now.tm_mday + d;
    date.tm_hour = 12;  // noon exists on every date: this normalises the date
    date.tm_isdst = -1;
    if (::mktime(&date) == -1) continue;
    if (weekday >= 0 && date.tm_wday != weekday) continue;
    struct tm at {};
    at.tm_year = date.tm_year;
    at.tm_mon = date.tm_mon;
    at.tm_mday = date.tm_mday;
    at.tm_hour = hour;
    at.tm_min = minute;
    at.tm_isdst = -1;
    time_t c = ::mktime(&at);
    if (c != -1 && c > after) return static_cast<int64_t>(c);
  }
  return after + (weekday >= 0 ? 7 : 1) * 86400;  // mktime failing; never the past
}
}  // namespace

Result<Schedule> Schedule::Parse(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::istringstream in(lower);
  std::vector<std::string> w;
  for (std::string word; in >> word;) w.push_back(word);
  Schedule s;
  if (w.empty()) return Bad(text, "it is empty");
  if (w[0] == "off" && w.size() == 1) return s;
  if (w[0] == "hourly") {
    s.every = Every::kHourly;
    if (w.size() == 1) return s;
    int m = w[1].size() == 3 && w[1][0] == ':' ? Number(w[1].substr(1)) : -1;
    if (w.size() != 2 || m < 0) return Bad(text, "hourly takes the minute as :MM");
    if (m > 59) return Bad(text, "the minute must be 00-59");
    s.minute = m;
    return s;
  }
  if (w[0] == "daily") {
    if (w.size() != 2) return Bad(text, "daily takes a time, HH:MM");
    s.every = Every::kDaily;
    KEEPFS_RETURN_IF_ERROR(ParseTime(text, w[1], &s.hour, &s.minute));
    return s;
  }
  if (w[0] == "weekly") {
    if (w.size() != 3) return Bad(text, "weekly takes a day and a time, e.g. sun 03:00");
    s.every = Every::kWeekly;
    s.weekday = Weekday(w[1]);
    if (s.weekday < 0) return Bad(text, "the day must be one of sun mon tue wed thu fri sat");
    KEEPFS_RETURN_IF_ERROR(ParseTime(text, w[2], &s.hour, &s.minute));
    return s;
  }
  return Bad(text, "unknown repetition '" + w[0] + "'");
}

std::string Schedule::Describe() const {
  char buf[32];
  switch (every) {
    case Every::kOff:
      return "off";
    case Every::kHourly:
      std::snprintf(buf, sizeof buf, "hourly :%02d", minute);
      return buf;
    case Every::kDaily:
      std::snprintf(buf, sizeof buf, "daily %02d:%02d", hour, minute);
      return buf;
    case Every::kWeekly:
      std::snprintf(buf, sizeof buf, "weekly %s %02d:%02d", kDays[((weekday % 7) + 7) % 7], hour,
                    minute);
      return buf;
  }
  return "off";
}

std::optional<int64_t> Schedule::NextAfter(int64_t after) const {
  ::tzset();  // honour a TZ changed since the last call (localtime_r need not look)
  switch (every) {
    case Every::kOff:
      return std::nullopt;
    case Every::kHourly:
      return NextHourly(after, minute);
    case Every::kDaily:
      return NextDated(after, -1, hour, minute);
    case Every::kWeekly:
      return NextDated(after, weekday, hour, minute);
  }
  return std::nullopt;
}

}  // namespace keepfs::server
