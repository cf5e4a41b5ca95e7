#include "snapshot/catalog.h"

#include <cstdio>
#include <ctime>

#include "store/coding.h"

namespace keepfs::snapshot {

Status ValidateUserName(std::string_view user) {
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  };
  bool ok = !user.empty() && user.size() <= 32 && user[0] != '.' && user[0] != '-';
  for (char c : user) ok = ok && ok_char(c);
  if (!ok) {
    return Status::InvalidArgument("invalid user name '" + std::string(user) +
                                   "': use 1-32 of a-z, 0-9, '_', '.', '-', not starting "
                                   "with '.' or '-'");
  }
  return Status::OK();
}

std::string FormatSnapshotName(int64_t time_sec, uint32_t seq) {
  time_t t = static_cast<time_t>(time_sec);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d_%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string name = buf;
  if (seq > 0) name += "_" + std::to_string(seq);
  return name;
}

namespace {
bool ParseFields(std::string_view s, const char* fmt, struct tm* tm) {
  std::string str(s);
  int y, mo, d, h = 0, mi = 0, sec = 0;
  char tail = 0;
  int n = std::sscanf(str.c_str(), fmt, &y, &mo, &d, &h, &mi, &sec, &tail);
  int want = 0;
  for (const char* p = fmt; *p; ++p) want += (*p == '%' && p[1] != '%' && p[1] != 'c') ? 1 : 0;
  if (n != want) return false;
  *tm = {};
  tm->tm_year = y - 1900;
  tm->tm_mon = mo - 1;
  tm->tm_mday = d;
  tm->tm_hour = h;
  tm->tm_min = mi;
  tm->tm_sec = sec;
  return y >= 1970 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 &&
         mi < 60 && sec < 61;
}
}  // namespace

Status ParseSnapshotName(std::string_view name, int64_t* time_sec, uint32_t* seq) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(name) +
                                   "' is not a snapshot name (YYYY-MM-DD_HHMMSS or 'latest')");
  };
  if (name.size() < 17) return bad();
  struct tm tm;
  std::string head(name.substr(0, 17));
  if (head[4] != '-' || head[7] != '-' || head[10] != '_' ||
      !ParseFields(head, "%4d-%2d-%2d_%2d%2d%2d", &tm)) {
    return bad();
  }
  *seq = 0;
  if (name.size() > 17) {
    if (name[17] != '_' || name.size() == 18 || name.size() > 27) return bad();
    uint64_t n = 0;
    for (char c : name.substr(18)) {
      if (c < '0' || c > '9') return bad();
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (n == 0 || n > UINT32_MAX) return bad();
    *seq = static_cast<uint32_t>(n);
  }
  *time_sec = static_cast<int64_t>(timegm(&tm));
  if (FormatSnapshotName(*time_sec, 0) != head) return bad();  // e.g. Feb 31
  return Status::OK();
}

Result<int64_t> ParseUtcTime(std::string_view text) {
  struct tm tm;
  std::string s(text);
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) s.pop_back();
  int64_t t = 0;
  uint32_t seq = 0;
  if (ParseSnapshotName(text, &t, &seq).ok()) return t;
  if (ParseFields(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm) ||
      ParseFields(s, "%4d-%2d-%2d %2d:%2d:%2d%c", &tm) || ParseFields(s, "%4d-%2d-%2d%c", &tm)) {
    struct tm want = tm, got;
    time_t tt = timegm(&tm);
    gmtime_r(&tt, &got);
    // timegm normalizes impossible dates (Feb 31 -> Mar 3): refuse them instead.
    if (got.tm_year != want.tm_year || got.tm_mon != want.tm_mon ||
        got.tm_mday != want.tm_mday || got.tm_hour != want.tm_hour ||
        got.tm_min != want.tm_min) {
      return Status::InvalidArgument("'" + std::string(text) + "' is not a valid UTC time");
    }
    return static_cast<int64_t>(tt);
  }
  return Status::InvalidArgument("cannot parse time '" + std::string(text) +
                                 "': use UTC like 2026-10-01T03:00:00Z");
}

std::string FormatUtcTime(int64_t time_sec) {
  time_t t = static_cast<time_t>(time_sec);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string TreeKey(const ObjectId& id) { return "t" + std::string(id.AsBytes()); }
std::string ContentKey(const ObjectId& id) { return "o" + std::string(id.AsBytes()); }

std::string FingerprintKey(const std::array<uint8_t, 16>& fingerprint, const ObjectId& content) {
  std::string key(kFingerprintPrefix);
  key.append(reinterpret_cast<const char*>(fingerprint.data()), fingerprint.size());
  key.append(content.AsBytes());
  return key;
}

bool SplitUserKey(std::string_view key, std::string* user, std::string_view* rest) {
  if (key.empty()) return false;
  key.remove_prefix(1);
  size_t zero = key.find('\0');
  if (zero == std::string_view::npos) return false;
  *user = std::string(key.substr(0, zero));
  *rest = key.substr(zero + 1);
  return true;
}

std::string SnapshotKey(std::string_view user, std::string_view name) {
  return SnapshotPrefix(user) + std::string(name);
}

std::string SnapshotPrefix(std::string_view user) {
  std::string k = kSnapshotPrefix;
  k += user;
  k.push_back('\0');
  return k;
}

std::string DeletedKey(std::string_view user, std::string_view name) {
  return DeletedPrefix(user) + std::string(name);
}

std::string DeletedPrefix(std::string_view user) {
  std::string k = "d";
  if (user.empty()) return k;
  k += user;
  k.push_back('\0');
  return k;
}

std::string PinKey(std::string_view user, std::string_view snapshot, std::string_view path) {
  std::string k = PinPrefix(user, snapshot);
  k.append(path);
  return k;
}

std::string PinPrefix(std::string_view user, std::string_view snapshot) {
  std::string k = "P";
  if (user.empty()) return k;
  k += user;
  k.push_back('\0');
  if (snapshot.empty()) return k;
  k += snapshot;
  k.push_back('\0');
  return k;
}

std::string UserKey(std::string_view user) { return kUserPrefix + std::string(user); }

Result<uint64_t> DecodeContentGeneration(std::string_view value) {
  Decoder dec(value);
  uint64_t g;
  if (!dec.GetVarint(&g) || !dec.empty()) return Status::Corruption("bad content generation record");
  return g;
}

std::string FilesCachePrefix(std::string_view user, std::string_view source_root) {
  std::string k = "f";
  k += user;
  k.push_back('\0');
  k.append(Sha256::Of(source_root).AsBytes().substr(0, 8));
  return k;
}

}  // namespace keepfs::snapshot
