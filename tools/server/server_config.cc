// ParseServerConfig: keepfs.toml's text -> ServerConfig (docs/config.md).
//
// Every key of every section is listed once below with how its value is
// read; a key not listed is an error, so that a typo never silently leaves
// a default in force. Messages read "PATH:LINE: KEY: what is wrong; what to do".
#include "tools/server/server_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <vector>

#include "store/config.h"
#include "store/text.h"
#include "tools/server/config_value.h"

namespace keepfs::server {

namespace {
using Setter = std::function<Status(const ConfigValue&)>;
struct Key {
  const char* name;
  Setter set;
  bool required = false;  // a missing one is an error (only the minimal config's three)
};

constexpr const char* kMinimal =
    "the minimal config is store = \"...\", mountpoint = \"...\", spool = \"...\" (docs/config.md)";
constexpr int64_t kYear = 365 * 86400;

std::string Names(const std::vector<Key>& keys) {
  std::string out;
  for (const Key& k : keys) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

template <typename T>
Setter IntInto(T* out, int64_t lo, int64_t hi) {
  return [=](const ConfigValue& v) -> Status {
    KEEPFS_ASSIGN_OR_RETURN(int64_t x, v.Int(lo, hi));
    *out = static_cast<T>(x);
    return Status::OK();
  };
}

Setter DurationInto(int64_t* out, int64_t lo, int64_t hi) {
  return [=](const ConfigValue& v) -> Status {
    KEEPFS_ASSIGN_OR_RETURN(*out, v.Duration(lo, hi));
    return Status::OK();
  };
}

Setter SizeInto(uint64_t* out, uint64_t lo) {
  return [=](const ConfigValue& v) -> Status {
    KEEPFS_ASSIGN_OR_RETURN(*out, v.Size(lo));
    return Status::OK();
  };
}

Setter StringInto(std::string* out, bool may_be_empty) {
  return [=](const ConfigValue& v) -> Status {
    KEEPFS_ASSIGN_OR_RETURN(*out, v.String(may_be_empty));
    return Status::OK();
  };
}

Setter ScheduleInto(Schedule* out) {
  return [=](const ConfigValue& v) -> Status {
    KEEPFS_ASSIGN_OR_RETURN(std::string text, v.String(/*may_be_empty=*/true));
    Result<Schedule> s = Schedule::Parse(text);
    if (!s.ok()) return v.Bad(s.status().message());
    *out = *s;
    return Status::OK();
  };
}

// "idle", "none", "best-effort", "best-effort:N". A plain best-effort is its
// lowest level, 7: the work this config prioritises is background work.
Setter IoniceInto(Priority* p) {
  return [=](const ConfigValue& v) -> Status {
    KEEPFS_ASSIGN_OR_RETURN(std::string text, v.String(/*may_be_empty=*/true));
    std::string s;
    for (char c : text) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string be = "best-effort";
    if (s == "none" || s == "idle" || s == be) {
      p->ionice_class = s;
      p->ionice_level = 7;
      return Status::OK();
    }
    if (s.size() == be.size() + 2 && s.compare(0, be.size() + 1, be + ":") == 0 &&
        s.back() >= '0' && s.back() <= '7') {
      p->ionice_class = be;
      p->ionice_level = s.back() - '0';
      return Status::OK();
    }
    return v.Bad("\"" + Clip(text) +
                 "\" is not an I/O class; use \"none\", \"idle\", \"best-effort\" " +
                 "or \"best-effort:N\" with N from 0 (highest) to 7 (lowest)");
  };
}

Setter LevelInto(std::string* out) {
  return [=](const ConfigValue& v) -> Status {
    KEEPFS_ASSIGN_OR_RETURN(std::string text, v.String(/*may_be_empty=*/true));
    for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
      if (text == level) {
        *out = text;
        return Status::OK();
      }
    }
    return v.Bad("\"" + Clip(text) +
                 "\" is not a log level; use one of trace, debug, info, warn, error");
  };
}

std::vector<Key> PriorityKeys(Priority* p) {
  return {{"nice", IntInto(&p->nice, 0, 19)},
          {"ionice", IoniceInto(p)},
          {"read_limit", SizeInto(&p->read_bytes_per_sec, 0)}};
}

std::vector<Key> IngestKeys(IngestConfig* c) {
  std::vector<Key> keys = {{"max_concurrent", IntInto(&c->max_concurrent, 1, 64)},
                           {"rescan", DurationInto(&c->rescan_sec, 1, kYear)},
                           {"admit_slots", IntInto(&c->admit_slots, 0, 1024)},
                           {"admit_lease", DurationInto(&c->admit_lease_sec, 1, kYear)}};
  for (Key& k : PriorityKeys(&c->priority)) keys.push_back(std::move(k));
  return keys;
}

std::vector<Key> ScheduleKeys(ScheduleConfig* c) {
  std::vector<Key> keys = {{"prune", ScheduleInto(&c->prune)},
                           {"gc", ScheduleInto(&c->gc)},
                           {"scrub", ScheduleInto(&c->scrub)},
                           {"scrub_percent", IntInto(&c->scrub_percent, 1, 100)},
                           {"store_backup", ScheduleInto(&c->store_backup)},
                           {"store_backup_dest", StringInto(&c->store_backup_dest, true)}};
  for (Key& k : PriorityKeys(&c->priority)) keys.push_back(std::move(k));
  return keys;
}

std::vector<Key> LogKeys(LogConfig* c) {
  return {{"file", StringInto(&c->file, /*may_be_empty=*/true)},
          {"max_size", SizeInto(&c->max_bytes, 1024)},
          {"max_files", IntInto(&c->max_files, 1, 100)},
          {"level", LevelInto(&c->level)}};
}

struct Section {
  const char* name;
  std::vector<Key> keys;
};

class Parser {
 public:
  Parser(const std::string& path, ServerConfig* c) : path_(path), c_(c) {}

  Status Parse(const toml::table& root) {
    std::vector<Key> top = {{"store", StringInto(&c_->store, false), /*required=*/true},
                            {"mountpoint", StringInto(&c_->mountpoint, false), true},
                            {"spool", StringInto(&c_->spool, false), true},
                            {"socket", StringInto(&c_->socket, /*may_be_empty=*/true)}};
    std::vector<Section> sections;
    sections.push_back({"mount", {{"threads", IntInto(&c_->mount_threads, 1, 256)}}});
    sections.push_back({"ingest", IngestKeys(&c_->ingest)});
    sections.push_back({"schedule", ScheduleKeys(&c_->schedule)});
    sections.push_back({"log", LogKeys(&c_->log)});
    sections.push_back(
        {"attention", {{"no_backup_days", IntInto(&c_->attention_no_backup_days, 1, 3650)}}});
    for (const auto& [key, node] : root) {
      std::string k(key.str());
      auto s = std::find_if(sections.begin(), sections.end(),
                            [&](const Section& x) { return k == x.name; });
      if (s != sections.end()) {
        KEEPFS_RETURN_IF_ERROR(Table(k, node, s->keys));
        continue;
      }
      if (node.is_table()) {
        std::string names;
        for (const Section& x : sections) {
          names += (names.empty() ? "[" : ", [") + std::string(x.name) + "]";
        }
        return Unknown(key, "[" + Clip(k) + "]", "unknown table; the tables are: " + names);
      }
      KEEPFS_RETURN_IF_ERROR(Set("", key, node, top, "top-level key"));
    }
    for (const Key& k : top) {
      if (k.required && !c_->lines.contains(k.name)) {
        return Status::InvalidArgument(path_ + ": " + k.name + ": missing; " + kMinimal);
      }
    }
    return Check();
  }

 private:
  Status Table(const std::string& name, const toml::node& node, const std::vector<Key>& keys) {
    ConfigValue v(path_, node, "[" + name + "]");
    if (!node.is_table()) {
      return v.Bad("must be a table, not " + TomlTypeName(node) + "; write [" + name +
                   "] on a line of its own and its keys below it");
    }
    c_->lines[name] = v.line();
    for (const auto& [key, value] : *node.as_table()) {
      KEEPFS_RETURN_IF_ERROR(Set(name, key, value, keys, "key"));
    }
    return Status::OK();
  }

  Status Set(const std::string& section, const toml::key& key, const toml::node& node,
             const std::vector<Key>& keys, std::string_view kind) {
    std::string k(key.str());
    std::string shown = section.empty() ? Clip(k) : "[" + section + "] " + Clip(k);
    auto it = std::find_if(keys.begin(), keys.end(), [&](const Key& x) { return k == x.name; });
    if (it == keys.end()) {
      std::string of =
          section.empty() ? "the top-level keys are: " : "the keys of [" + section + "] are: ";
      return Unknown(key, shown, "unknown " + std::string(kind) + "; " + of + Names(keys));
    }
    ConfigValue v(path_, node, shown);
    c_->lines[section.empty() ? k : section + "." + k] = v.line();
    return it->set(v);
  }

  Status Unknown(const toml::key& key, const std::string& shown, const std::string& what) {
    return Status::InvalidArgument(path_ + ":" + std::to_string(key.source().begin.line) + ": " +
                                   shown + ": " + what);
  }

  // What no single key can check.
  Status Check() {
    const IngestConfig& in = c_->ingest;
    if (in.admit_slots != 0 && in.admit_slots < in.max_concurrent) {
      return Status::InvalidArgument(
          c_->Where("ingest.admit_slots") + ": " + std::to_string(in.admit_slots) +
          " is below max_concurrent (" + std::to_string(in.max_concurrent) +
          "), which it includes; raise it, or write 0 for 2 x max_concurrent");
    }
    const ScheduleConfig& s = c_->schedule;
    if (s.store_backup.every != Schedule::Every::kOff && s.store_backup_dest.empty()) {
      return Status::InvalidArgument(
          c_->Where("schedule.store_backup") + ": \"" + s.store_backup.Describe() +
          "\" needs store_backup_dest, the directory to copy the store into; add "
          "store_backup_dest = \"/mnt/DISK/keepfs-store\" to [schedule], or set "
          "store_backup = \"off\"");
    }
    return Status::OK();
  }

  const std::string& path_;
  ServerConfig* c_;
};
}  // namespace

std::string ServerConfig::Where(std::string_view key) const {
  size_t dot = key.find('.');
  std::string shown = dot == std::string_view::npos ? std::string(key)
                                                    : "[" + std::string(key.substr(0, dot)) + "] " +
                                                          std::string(key.substr(dot + 1));
  auto it = lines.find(key);
  if (it == lines.end()) return path + ": " + shown;
  return path + ":" + std::to_string(it->second) + ": " + shown;
}

Result<ServerConfig> ParseServerConfig(std::string_view toml_text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(toml_text, path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.source().begin.line) +
                                   ": syntax error: " + std::string(e.description()) +
                                   "; fix that line (TOML syntax: https://toml.io)");
  }
  ServerConfig c;
  c.path = path;
  KEEPFS_RETURN_IF_ERROR(Parser(path, &c).Parse(root));
  return c;
}

}  // namespace keepfs::server
