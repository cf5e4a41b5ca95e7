#include "store/config.h"

#include <grp.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <toml++/toml.h>

#include "store/file_util.h"
#include "store/text.h"

namespace keepfs {

namespace {
Status Bad(const std::string& path, const std::string& what) {
  return Status::InvalidArgument(path + ": " + what + "; fix config.toml (docs/usage.md)");
}

// A rule's value as the command line would give it: 7, "30d", true.
Status SetRule(RetentionPolicy* p, const std::string& path, const std::string& section,
               std::string_view rule, const toml::node& n) {
  std::string text;
  if (auto i = n.value<int64_t>(); i && n.is_integer()) text = std::to_string(*i);
  else if (auto s = n.value<std::string>()) text = *s;
  else if (auto b = n.value<bool>(); b && n.is_boolean()) text = *b ? "true" : "false";
  else return Bad(path, section + "." + Clip(rule) + " must be a number, string or boolean");
  Status s = SetRetentionRule(p, rule, text);
  if (!s.ok()) return Bad(path, section + ": " + s.message());
  return Status::OK();
}

// [retention]: rules (those not given are off), and [retention.USER] tables
// of rules that replace the default's for that user.
Status ParseRetention(const toml::table& r, const std::string& path, StoreConfig* c) {
  c->retention = RetentionPolicy{};  // a section given says all that is on
  for (const auto& [key, node] : r) {
    if (!node.is_table()) KEEPFS_RETURN_IF_ERROR(SetRule(&c->retention, path, "retention", key.str(), node));
  }
  for (const auto& [key, node] : r) {
    if (!node.is_table()) continue;
    std::string section = "retention." + Clip(key.str());
    RetentionPolicy p = c->retention;
    for (const auto& [rule, value] : *node.as_table()) {
      KEEPFS_RETURN_IF_ERROR(SetRule(&p, path, section, rule.str(), value));
    }
    c->user_retention.emplace(std::string(key.str()), p);
  }
  return Status::OK();
}

template <typename View>
Result<uint32_t> GetId(const View& v, const std::string& path, const std::string& key) {
  // is_integer: toml++'s value<int64_t>() would also take true as 1 and 1000.0.
  auto n = v.template value<int64_t>();
  if (!v.is_integer() || !n || *n < 0 || *n > 0xfffffffe) {
    return Bad(path, key + " must be a number 0-4294967294");
  }
  return static_cast<uint32_t>(*n);
}

// Refuses a key of table t (named prefix, "" for the top level) that is not
// in known: a misspelt key would otherwise leave its default in force
// without a word, as keepfs.toml refuses them too (tools/server).
Status CheckKeys(const toml::table& t, const std::string& path, const std::string& prefix,
                 const std::vector<std::string_view>& known) {
  for (const auto& [key, node] : t) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    std::string names;
    for (std::string_view k : known) names += (names.empty() ? "" : ", ") + std::string(k);
    const std::string where =
        prefix.empty() ? " tables" : " in [" + prefix.substr(0, prefix.size() - 1) + "]";
    return Bad(path, "line " + std::to_string(key.source().begin.line) + ": " + prefix +
                         Clip(key.str()) + " is not a setting (known" + where + ": " + names + ")");
  }
  return Status::OK();
}
}  // namespace

MountConfig MountConfig::ForProfile(MountProfile profile) {
  MountConfig m;
  m.profile = profile;
  if (profile == MountProfile::kSmall) {
    // Each value is the measured cap of one thing that grows (docs/nas.md, "Low-memory profile").
    m.cache_bytes = 8ull << 20;
    m.metadata_cache_bytes = 8ull << 20;
    m.metadata_write_buffer_bytes = 8ull << 20;
    m.threads = 4;
    m.max_inodes = 16384;
  }
  return m;
}

const char* MountConfig::ProfileName(MountProfile profile) {
  return profile == MountProfile::kSmall ? "small" : "default";
}

std::vector<std::string> MountConfig::AboveProfile() const {
  if (profile == MountProfile::kDefault) return {};  // raising a default is a choice, not a leftover
  const MountConfig p = ForProfile(profile);
  const std::string in = std::string(" (profile ") + ProfileName(profile) + ": ";
  auto mib = [](uint64_t b) { return std::to_string(b >> 20) + " MiB"; };
  std::vector<std::string> out;
  if (cache_bytes > p.cache_bytes) out.push_back("cache_size = " + mib(cache_bytes) + in + mib(p.cache_bytes) + ")");
  if (metadata_cache_bytes > p.metadata_cache_bytes) {
    out.push_back("metadata_cache_size = " + mib(metadata_cache_bytes) + in + mib(p.metadata_cache_bytes) + ")");
  }
  if (metadata_write_buffer_bytes > p.metadata_write_buffer_bytes) {
    out.push_back("metadata_write_buffer = " + mib(metadata_write_buffer_bytes) + in +
                  mib(p.metadata_write_buffer_bytes) + ")");
  }
  if (threads > p.threads) {
    out.push_back("threads = " + std::to_string(threads) + in + std::to_string(p.threads) + ")");
  }
  // 0 is no cap: above any cap.
  if (p.max_inodes != 0 && (max_inodes == 0 || max_inodes > p.max_inodes)) {
    out.push_back("max_inodes = " + (max_inodes ? std::to_string(max_inodes) : "0 (no cap)") + in +
                  std::to_string(p.max_inodes) + ")");
  }
  return out;
}

Result<uint64_t> ParseSize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  uint64_t v = 0;
  size_t digits = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
    if (v > (UINT64_MAX - 9) / 10) return Status::InvalidArgument("size is too large");
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string unit;
  for (; i < text.size(); ++i) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  int shift = -1;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kib" || unit == "kb") shift = 10;
  else if (unit == "m" || unit == "mib" || unit == "mb") shift = 20;
  else if (unit == "g" || unit == "gib" || unit == "gb") shift = 30;
  else if (unit == "t" || unit == "tib" || unit == "tb") shift = 40;
  if (digits == 0 || shift < 0) {
    return Status::InvalidArgument("'" + Clip(text) +
                                   "' is not a size: use a number with an optional unit, e.g. "
                                   "256MiB or 2G");
  }
  if (shift > 0 && v > (UINT64_MAX >> shift)) return Status::InvalidArgument("size is too large");
  return v << shift;
}

namespace {
// A size given as a string with a unit or as a number of bytes.
Result<uint64_t> SizeValue(toml::node_view<const toml::node> n) {
  if (n.is_integer() && *n.value<int64_t>() >= 0) return static_cast<uint64_t>(*n.value<int64_t>());
  if (n.is_string()) return ParseSize(*n.value<std::string>());
  return Status::InvalidArgument("not a size (e.g. \"4GiB\")");
}

// A string key that, when given, is a non-empty string.
Status StringValue(toml::node_view<const toml::node> n, const std::string& path,
                   const std::string& key, std::string* out) {
  if (!n) return Status::OK();
  if (!n.is_string() || n.value<std::string>()->empty()) {
    return Bad(path, key + " must be a non-empty string");
  }
  *out = *n.value<std::string>();
  return Status::OK();
}

Status ParsePacks(const toml::table& t, const std::string& path, PacksConfig* p) {
  toml::node_view<const toml::node> v(t);
  KEEPFS_RETURN_IF_ERROR(CheckKeys(
      t, path, "packs.",
      {"backend", "pool", "namespace", "ceph_conf", "client", "op_timeout", "lease", "lease_wait"}));
  std::string backend = "local", pool, ns;
  KEEPFS_RETURN_IF_ERROR(StringValue(v["backend"], path, "packs.backend", &backend));
  KEEPFS_RETURN_IF_ERROR(StringValue(v["pool"], path, "packs.pool", &pool));
  KEEPFS_RETURN_IF_ERROR(StringValue(v["namespace"], path, "packs.namespace", &ns));
  KEEPFS_RETURN_IF_ERROR(StringValue(v["ceph_conf"], path, "packs.ceph_conf", &p->ceph_conf));
  KEEPFS_RETURN_IF_ERROR(StringValue(v["client"], path, "packs.client", &p->client));
  struct Seconds {
    const char* key;
    int min;
    int* out;
  };
  for (const Seconds& sec : {Seconds{"op_timeout", 1, &p->op_timeout_sec},
                             Seconds{"lease", 3, &p->lease_sec},
                             Seconds{"lease_wait", 0, &p->lease_wait_sec}}) {
    auto n = v[sec.key];
    if (!n) continue;
    auto value = n.value<int64_t>();
    if (!n.is_integer() || *value < sec.min || *value > 86400) {
      return Bad(path, std::string("packs.") + sec.key + " must be a whole number of seconds from " +
                           std::to_string(sec.min) + " to 86400");
    }
    *sec.out = static_cast<int>(*value);
  }
  if (backend == "local") {
    if (!pool.empty() || !ns.empty()) {
      return Bad(path, "packs.pool and packs.namespace go with backend = \"rados\" only");
    }
    p->spec.clear();
  } else if (backend == "rados") {
    if (pool.empty()) return Bad(path, "packs.backend = \"rados\" needs packs.pool");
    p->spec = "rados:" + pool + (ns.empty() ? "" : "/" + ns);
  } else {
    return Bad(path, "packs.backend must be \"local\" or \"rados\"");
  }
  return Status::OK();
}

Status ParseGc(const toml::table& t, const std::string& path, GcConfig* gc) {
  toml::node_view<const toml::node> v(t);
  KEEPFS_RETURN_IF_ERROR(CheckKeys(t, path, "gc.",
                                   {"undelete_window", "repack_dead_percent", "repack_low_percent",
                                    "waste_percent", "small_pack", "max_repack", "min_free"}));
  if (auto n = v["undelete_window"]; n) {
    Result<int64_t> d = n.is_integer() ? Result<int64_t>(*n.value<int64_t>())
                        : n.is_string() ? ParseDuration(*n.value<std::string>())
                                        : Status::InvalidArgument("not a duration");
    if (!d.ok() || *d < 0) {
      return Bad(path, "gc.undelete_window must be a duration such as \"7d\" or \"0s\"");
    }
    gc->undelete_window_sec = *d;
  }
  struct Percent {
    const char* key;
    uint32_t* out;
  };
  for (Percent p : {Percent{"repack_dead_percent", &gc->repack_dead_percent},
                    Percent{"repack_low_percent", &gc->repack_low_percent},
                    Percent{"waste_percent", &gc->waste_percent}}) {
    if (auto n = v[p.key]; n) {
      auto x = n.value<int64_t>();
      if (!n.is_integer() || *x < 1 || *x > 100) {
        return Bad(path, std::string("gc.") + p.key + " must be a whole number from 1 to 100");
      }
      *p.out = static_cast<uint32_t>(*x);
    }
  }
  if (gc->repack_low_percent > gc->repack_dead_percent) {
    return Bad(path, "gc.repack_low_percent must not be above gc.repack_dead_percent");
  }
  struct Size {
    const char* key;
    uint64_t* out;
  };
  for (Size z : {Size{"small_pack", &gc->small_pack_bytes}, Size{"max_repack", &gc->max_repack_bytes},
                 Size{"min_free", &gc->min_free_bytes}}) {
    if (auto n = v[z.key]; n) {
      auto bytes = SizeValue(n);
      if (!bytes.ok()) return Bad(path, std::string("gc.") + z.key + ": " + bytes.status().message());
      *z.out = *bytes;
    }
  }
  return Status::OK();
}

// [mount]: the profile first, since it sets the defaults of the memory keys;
// then every key given, whatever its place in the section.
Status ParseMount(const toml::table& t, const std::string& path, MountConfig* mc) {
  toml::node_view<const toml::node> m(t);
  KEEPFS_RETURN_IF_ERROR(CheckKeys(
      t, path, "mount.",
      {"profile", "cache_size", "metadata_cache_size", "metadata_write_buffer", "threads",
       "max_inodes", "readahead_chunks", "admin_group", "owner_view", "path_cache_seconds",
       "deleted_window"}));
  if (auto n = m["profile"]; n) {
    auto name = n.value<std::string>();
    if (!n.is_string() || (*name != "default" && *name != "small")) {
      return Bad(path, "mount.profile must be \"default\" or \"small\" (docs/nas.md, Low-memory profile)");
    }
    *mc = MountConfig::ForProfile(*name == "small" ? MountProfile::kSmall : MountProfile::kDefault);
  }
  struct Size {
    const char* key;
    uint64_t min;
    uint64_t* out;
  };
  for (Size z : {Size{"metadata_cache_size", 1 << 20, &mc->metadata_cache_bytes},
                 Size{"metadata_write_buffer", 1 << 20, &mc->metadata_write_buffer_bytes}}) {
    if (auto n = m[z.key]; n) {
      auto bytes = SizeValue(n);
      if (!bytes.ok()) return Bad(path, std::string("mount.") + z.key + ": " + bytes.status().message());
      if (*bytes < z.min) {
        return Bad(path, std::string("mount.") + z.key + " must be at least 1MiB");
      }
      *z.out = *bytes;
    }
  }
  if (auto n = m["threads"]; n) {
    auto v = n.value<int64_t>();
    if (!n.is_integer() || *v < 1 || *v > 256) return Bad(path, "mount.threads must be 1-256");
    mc->threads = static_cast<uint32_t>(*v);
  }
  if (auto n = m["max_inodes"]; n) {
    auto v = n.value<int64_t>();
    if (!n.is_integer() || *v < 0 || (*v > 0 && *v < 1024)) {
      return Bad(path, "mount.max_inodes must be 0 (no cap) or at least 1024");
    }
    mc->max_inodes = static_cast<uint64_t>(*v);
  }
  if (auto n = m["cache_size"]; n) {
    // A negative number is refused like any other non-size (it was taken
    // as 0, a mount without a chunk cache, without a word).
    auto bytes = SizeValue(n);
    if (!bytes.ok()) return Bad(path, "mount.cache_size: " + bytes.status().message());
    mc->cache_bytes = *bytes;
  }
  if (auto n = m["readahead_chunks"]; n) {
    auto v = n.value<int64_t>();
    if (!n.is_integer() || *v < 0 || *v > 64) {
      return Bad(path, "mount.readahead_chunks must be 0-64");
    }
    mc->readahead_chunks = static_cast<uint32_t>(*v);
  }
  if (auto n = m["path_cache_seconds"]; n) {
    auto v = n.value<double>();
    // Written so that nan fails too (every comparison with nan is false);
    // true would otherwise not be a number but is refused by value<double>.
    if (!v || !(*v >= 0 && *v <= 3600)) return Bad(path, "mount.path_cache_seconds must be 0-3600");
    mc->path_cache_seconds = *v;
  }
  if (auto n = m["owner_view"]; n) {
    auto v = n.value<bool>();
    if (!n.is_boolean() || !v) return Bad(path, "mount.owner_view must be true or false");
    mc->owner_view = *v;
  }
  if (auto n = m["deleted_window"]; n) {
    Result<int64_t> d = n.is_integer() ? Result<int64_t>(*n.value<int64_t>())
                        : n.is_string() ? ParseDuration(*n.value<std::string>())
                                        : Status::InvalidArgument("not a duration");
    if (!d.ok() || *d <= 0) {
      return Bad(path, "mount.deleted_window must be a duration such as \"30d\" or \"12h\"");
    }
    mc->deleted_window_sec = *d;
  }
  if (auto n = m["admin_group"]; n) {
    if (n.is_integer()) {
      KEEPFS_ASSIGN_OR_RETURN(mc->admin_gid, GetId(n, path, "mount.admin_group"));
    } else if (auto name = n.value<std::string>()) {
      // Checked before the lookup: NSS modules are not made for hostile
      // names (systemd's aborts the process on a name of megabytes), and no
      // group name is longer than LOGIN_NAME_MAX or holds a NUL.
      if (name->empty() || name->size() > 256 || name->find('\0') != std::string::npos) {
        return Bad(path, "mount.admin_group: '" + Clip(*name) + "' is not a group name");
      }
      struct group g, *found = nullptr;
      char buf[16384];
      if (::getgrnam_r(name->c_str(), &g, buf, sizeof buf, &found) != 0 || !found) {
        return Bad(path, "mount.admin_group: no group named '" + Clip(*name) + "' on this server");
      }
      mc->admin_gid = found->gr_gid;
    } else {
      return Bad(path, "mount.admin_group must be a group name or gid");
    }
  }
  return Status::OK();
}
}  // namespace

Result<StoreConfig> ParseStoreConfig(std::string_view text, const std::string& path) {
  toml::table t;
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << path << ": " << e.description() << " at line " << e.source().begin.line;
    return Status::InvalidArgument(o.str() + "; fix the file or restore it from a backup");
  }
  StoreConfig c;
  KEEPFS_RETURN_IF_ERROR(CheckKeys(
      t, path, "",
      {"store", "chunking", "compression", "packs", "mount", "users", "gc", "retention"}));
  // [store] and [chunking] are compared with the store record by Store::Open;
  // here only their shape: tables, and no key that means nothing.
  const std::vector<std::pair<std::string, std::vector<std::string_view>>> fixed = {
      {"store", {"format", "id"}},
      {"chunking", {"min_size", "avg_size", "max_size", "inline_max"}},
      {"compression", {"level"}}};
  for (const auto& [name, keys] : fixed) {
    if (auto n = t[name]; n) {
      if (!n.is_table()) return Bad(path, name + " must be a table");
      KEEPFS_RETURN_IF_ERROR(CheckKeys(*n.as_table(), path, name + ".", keys));
    }
  }
  if (auto n = t["compression"]["level"]; n) {
    // Not value_or: a level given as "5", 5.5 or true must not quietly be 3.
    auto level = n.value<int64_t>();
    if (!n.is_integer() || *level < 1 || *level > 19) {
      return Bad(path, "compression.level must be a whole number between 1 and 19");
    }
    c.compression_level = static_cast<int>(*level);
  }

  if (auto n = t["packs"]; n) {
    if (!n.is_table()) return Bad(path, "packs must be a table");
    KEEPFS_RETURN_IF_ERROR(ParsePacks(*n.as_table(), path, &c.packs));
  }
  if (auto m = t["mount"]; m) {
    if (!m.is_table()) return Bad(path, "mount must be a table");
    KEEPFS_RETURN_IF_ERROR(ParseMount(*m.as_table(), path, &c.mount));
  }
  if (auto n = t["users"]; n && !n.is_table()) {
    return Bad(path, "users must be a table of [users.NAME] tables with uid and gid");
  }
  if (auto users = t["users"].as_table()) {
    for (const auto& [name, node] : *users) {
      std::string key = "users." + Clip(name.str());
      const toml::table* u = node.as_table();
      if (!u) return Bad(path, key + " must be a table with uid and gid");
      KEEPFS_RETURN_IF_ERROR(CheckKeys(*u, path, key + ".", {"uid", "gid"}));
      toml::node_view<const toml::node> view(*u);
      KEEPFS_ASSIGN_OR_RETURN(uint32_t uid, GetId(view["uid"], path, key + ".uid"));
      uint32_t gid = uid;
      if (view["gid"]) {
        KEEPFS_ASSIGN_OR_RETURN(gid, GetId(view["gid"], path, key + ".gid"));
      }
      c.users.emplace(std::string(name.str()), UserMapping{uid, gid});
    }
  }
  if (auto n = t["gc"]; n) {
    if (!n.is_table()) return Bad(path, "gc must be a table");
    KEEPFS_RETURN_IF_ERROR(ParseGc(*n.as_table(), path, &c.gc));
  }
  if (auto n = t["retention"]; n) {
    if (!n.is_table()) return Bad(path, "retention must be a table of rules");
    KEEPFS_RETURN_IF_ERROR(ParseRetention(*n.as_table(), path, &c));
  }
  return c;
}

Status SetUserMapping(const std::string& path, std::string_view user,
                      const UserMapping& mapping) {
  KEEPFS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  // Drop an existing [users.USER] block: its header line up to the next header.
  std::string header = "[users." + std::string(user) + "]";
  std::istringstream in(text);
  std::string out, line;
  bool skipping = false;
  while (std::getline(in, line)) {
    std::string trimmed = line;
    trimmed.erase(0, trimmed.find_first_not_of(" \t"));
    if (!trimmed.empty() && trimmed[0] == '[') skipping = trimmed.rfind(header, 0) == 0;
    if (!skipping) out += line + "\n";
  }
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  out += "\n" + header + "\nuid = " + std::to_string(mapping.uid) +
         "\ngid = " + std::to_string(mapping.gid) + "\n";
  KEEPFS_RETURN_IF_ERROR(ParseStoreConfig(out, path).status());  // never write a file Open refuses
  return WriteFileAtomic(path, out);
}

}  // namespace keepfs
