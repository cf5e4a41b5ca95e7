#include "store/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>
#include <sstream>
#include <toml++/toml.h>

#include "store/coding.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "store/rados_pack_store.h"
#include "store/restore_marker.h"
#include "store/shard.h"

namespace keepfs {

namespace {
constexpr char kMetaKey[] = "V";
constexpr char kNumberKey[] = "N";
constexpr uint32_t kMetaMagic = 0x4b504653;  // "KPFS"

std::string EncodeMeta(const StoreMeta& m) {
  std::string v;
  Encoder enc(&v);
  enc.PutFixed32(kMetaMagic);
  enc.PutVarint(m.format_version);
  enc.PutLengthPrefixed(m.store_id);
  enc.PutVarint(m.chunker.min_size);
  enc.PutVarint(m.chunker.avg_size);
  enc.PutVarint(m.chunker.max_size);
  enc.PutVarint(m.inline_max);
  enc.PutSignedVarint(m.created_unix);
  // Added after format 2 shipped: a record without it is a local store.
  enc.PutLengthPrefixed(m.packs);
  return v;
}

Result<StoreMeta> DecodeMeta(std::string_view v) {
  Decoder dec(v);
  StoreMeta m;
  uint32_t magic = 0;
  uint64_t version = 0, min = 0, avg = 0, max = 0, inline_max = 0;
  std::string_view id;
  if (!dec.GetFixed32(&magic) || magic != kMetaMagic || !dec.GetVarint(&version)) {
    return Status::Corruption("store record is damaged");
  }
  m.format_version = static_cast<uint32_t>(version);
  if (m.format_version != kFormatVersion) return m;  // caller reports the version
  if (!dec.GetLengthPrefixed(&id, 64) || !dec.GetVarint(&min) || !dec.GetVarint(&avg) ||
      !dec.GetVarint(&max) || !dec.GetVarint(&inline_max) ||
      !dec.GetSignedVarint(&m.created_unix)) {
    return Status::Corruption("store record is damaged");
  }
  std::string_view packs;
  if (!dec.empty() && !dec.GetLengthPrefixed(&packs, 512)) {
    return Status::Corruption("store record is damaged");
  }
  m.packs = std::string(packs);
  m.store_id = std::string(id);
  m.chunker = {static_cast<uint32_t>(min), static_cast<uint32_t>(avg), static_cast<uint32_t>(max)};
  m.inline_max = static_cast<uint32_t>(inline_max);
  KEEPFS_RETURN_IF_ERROR(ValidateChunkerParams(m.chunker));
  return m;
}

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  std::string out;
  static const char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    unsigned b = rd() & 0xff;
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

// The pack store of the store in dir whose V record is meta, reached as
// config says. With create_marker (init), the RADOS namespace is claimed.
Result<std::unique_ptr<PackStore>> OpenPacks(const std::string& dir, const StoreMeta& meta,
                                             const PacksConfig& config, bool create_marker) {
  if (meta.packs.empty()) return NewLocalPackStore(dir);
  KEEPFS_ASSIGN_OR_RETURN(RadosLocation loc, ParseRadosSpec(meta.packs));
  loc.ceph_conf = config.ceph_conf;
  loc.client = config.client;
  loc.op_timeout_sec = config.op_timeout_sec;
  return OpenRadosPackStore(loc, meta.store_id, create_marker);
}

// Where the local metadata stands in the shard's journal: varint seq of the
// last entry applied (absent: none). Local only: it is written with each
// applied entry and never published (docs/format.md).
constexpr char kJournalKey[] = "W";

std::string JournalPosition(uint64_t seq) {
  std::string v;
  Encoder(&v).PutVarint(seq);
  return v;
}

// Publishes each local write of a store on RADOS to its shard's journal.
class ShardJournal : public KvJournal {
 public:
  explicit ShardJournal(Shard* shard) : shard_(shard) {}
  Status Publish(std::string_view rep, std::string* key, std::string* value) override {
    KEEPFS_ASSIGN_OR_RETURN(uint64_t seq, shard_->Publish(rep));
    *key = kJournalKey;
    *value = JournalPosition(seq);
    return Status::OK();
  }

 private:
  Shard* shard_;
};

// Takes the lease on the shard of a store on RADOS and brings dir's local
// metadata up to the journal: the entries published since it was last here
// (by another node, or lost from the local log in a crash) are applied in
// order. After this, kv's writes are published first (attach_journal).
Status TakeShard(const std::string& dir, PackStore* packs, KvStore* kv, const PacksConfig& config,
                 std::unique_ptr<Shard>* shard, std::unique_ptr<KvJournal>* journal) {
  ShardOptions so;
  so.lease_sec = config.lease_sec;
  so.wait_sec = config.lease_wait_sec;
  so.waiting = [&dir, &config](const std::string& holder) {
    spdlog::warn("{}: the store is owned by {}; waiting up to {} s for it (lease_wait)", dir,
                 holder, config.lease_wait_sec);
  };
  KEEPFS_ASSIGN_OR_RETURN(*shard, Shard::Acquire(RadosClientOf(packs), so));
  uint64_t at = 0;
  std::string v;
  KEEPFS_ASSIGN_OR_RETURN(bool found, kv->Get(kJournalKey, &v));
  if (found && !Decoder(v).GetVarint(&at)) {
    return Status::Corruption(dir + ": the journal position (W) does not decode");
  }
  if (at > (*shard)->head()) {
    return Status::Corruption(dir + "'s metadata has applied journal entry " + std::to_string(at) +
                              " but the store's journal in RADOS ends at " +
                              std::to_string((*shard)->head()) +
                              ": it is no cache of this store. Move it aside and run "
                              "'keepfs attach'");
  }
  KEEPFS_ASSIGN_OR_RETURN(std::vector<JournalEntry> entries, (*shard)->Since(at));
  for (size_t i = 0; i < entries.size(); ++i) {
    KEEPFS_ASSIGN_OR_RETURN(std::string rep, (*shard)->Fetch(entries[i]));
    KEEPFS_RETURN_IF_ERROR(kv->ApplyJournaled(rep, kJournalKey, JournalPosition(entries[i].seq),
                                              /*sync=*/i + 1 == entries.size()));
  }
  if (!entries.empty()) {
    spdlog::info("{}: applied {} metadata journal entries from RADOS (up to {})", dir,
                 entries.size(), entries.back().seq);
  }
  *journal = std::make_unique<ShardJournal>(shard->get());
  kv->SetJournal(journal->get());
  return Status::OK();
}

// Pack ids of an owner carry its epoch (docs/scale-out.md): a fenced former
// owner that still seals packs can never take an id of the new one.
constexpr int kEpochShift = 40;

// [packs] as written at init: the backend, pool and namespace are fixed.
std::string PacksSection(const StoreMeta& m, const PacksConfig& p) {
  std::ostringstream o;
  o << "# Where the packs live, fixed at init: \"local\" (STORE/packs/) or \"rados\"\n"
    << "# (a Ceph pool and namespace; docs/scale-out.md).\n[packs]\n";
  if (m.packs.empty()) {
    o << "backend = \"local\"\n";
    return o.str();
  }
  auto loc = ParseRadosSpec(m.packs);  // validated by Init
  o << "backend = \"rados\"\npool = \"" << loc->pool << "\"\n";
  if (!loc->ns.empty()) o << "namespace = \"" << loc->ns << "\"\n";
  o << "# How to reach the cluster; these may change.\n";
  if (!p.ceph_conf.empty()) o << "ceph_conf = \"" << p.ceph_conf << "\"\n";
  o << "client = \"" << p.client << "\"\n"
    << "# Seconds before a RADOS operation fails rather than waits on a sick cluster.\n"
    << "op_timeout = " << p.op_timeout_sec << "\n"
    << "# One read-write keepfs process owns the store at a time, under a lease: another\n"
    << "# may take over this many seconds after the owner stopped (docs/scale-out.md).\n"
    << "lease = " << p.lease_sec << "\n"
    << "# Seconds a read-write command waits for the lease another process holds.\n"
    << "lease_wait = " << p.lease_wait_sec << "\n";
  return o.str();
}

std::string RenderConfig(const StoreMeta& m, const PacksConfig& packs) {
  std::ostringstream o;
  o << "# keepfs store configuration.\n"
    << "# [store] and [chunking] are fixed when the store is created: editing them is refused.\n\n"
    << "[store]\nformat = " << m.format_version << "\nid = \"" << m.store_id << "\"\n\n"
    << "[chunking]\nmin_size = " << m.chunker.min_size << "\navg_size = " << m.chunker.avg_size
    << "\nmax_size = " << m.chunker.max_size << "\ninline_max = " << m.inline_max << "\n\n"
    << "[compression]\n# zstd level for new data (1-19); existing data is unaffected.\nlevel = "
    << m.compression_level << "\n\n"
    << PacksSection(m, packs) << "\n"
    << "[mount]\n# \"small\": a mount under 64 MiB RSS for a small NAS (docs/nas.md): smaller\n"
    << "# caches, 4 threads, at most 16384 inodes held by the kernel. Keys below win over it.\n"
    << "# profile = \"small\"\n"
    << "# Decompressed-chunk cache of the mount process (its main memory use): 256MiB,\n"
    << "# 8MiB with profile = \"small\".\n"
    << "# cache_size = \"256MiB\"\n# Chunks fetched ahead of a sequential reader.\n"
    << "readahead_chunks = 2\n"
    << "# Members of this group may enter every user's snapshots, as root may.\n"
    << "# admin_group = \"keepfs-admin\"\n"
    << "# true: files inside snapshots show as owned by the namespace's user, not the stored "
       "owner.\nowner_view = false\n"
    << "# Seconds the kernel may reuse a path walk into a snapshot without an access check.\n"
    << "# 0: every walk is checked. More is faster for 'ls -lR /mount/...' but lets another\n"
    << "# user stat an exact path for that long after its owner walked it (docs/mount.md).\n"
    << "path_cache_seconds = 1\n\n"
    << "# Which snapshots prune keeps (docs/retention.md). Rules: keep-within, keep-last,\n"
    << "# keep-hourly/daily/weekly/monthly/yearly (-1 = unlimited), keep-first, quota.\n"
    << "# Rules not listed are off. [retention.NAME] replaces rules for one user.\n"
    << "[retention]\nkeep-within = \"30d\"\nkeep-monthly = -1\n\n"
    << "# [retention.alice]\n# quota = \"20G\"\n\n"
    << "# Who each store user is on this server ('keepfs user add NAME --uid UID'):\n"
    << "# [users.alice]\n# uid = 1001\n# gid = 1001\n";
  return o.str();
}

// config.toml as read and parsed once: the store's open needs its memory
// keys before the metadata database opens, and LoadConfig the rest after.
struct ConfigFile {
  Result<std::string> text;
  Result<StoreConfig> parsed;
};

ConfigFile ReadConfig(const std::string& path) {
  // A fifo would block the open for ever, a device would be read as text:
  // only a regular file is a config.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    Status bad = Status::InvalidArgument(path + " is not a regular file; put back the store's "
                                         "config.toml (a store-backup copy holds one)");
    return {bad, bad};
  }
  Result<std::string> text = ReadSmallFile(path);
  Result<StoreConfig> parsed =
      text.ok() ? ParseStoreConfig(*text, path) : Result<StoreConfig>(text.status());
  return {std::move(text), std::move(parsed)};
}

// Checks config.toml's fixed part against the record in the database and
// takes its tunable part.
Status LoadConfig(const std::string& path, const ConfigFile& file, StoreMeta* meta,
                  StoreConfig* config) {
  KEEPFS_RETURN_IF_ERROR(file.parsed.status());
  *config = *file.parsed;
  const std::string& text = *file.text;
  toml::table t = toml::parse(text, path);  // parsed without error just above
  auto id = t["store"]["id"].value<std::string>();
  auto min = t["chunking"]["min_size"].value<int64_t>();
  auto avg = t["chunking"]["avg_size"].value<int64_t>();
  auto max = t["chunking"]["max_size"].value<int64_t>();
  auto inl = t["chunking"]["inline_max"].value<int64_t>();
  if (!id) {
    return Status::InvalidArgument(path + " has no [store] id (is it empty or cut short?); put "
                                   "back the store's config.toml (a store-backup copy holds one)");
  }
  if (*id != meta->store_id) {
    return Status::InvalidArgument(path + " belongs to another store (store.id differs)");
  }
  if (!min || !avg || !max || !inl || *min != meta->chunker.min_size ||
      *avg != meta->chunker.avg_size || *max != meta->chunker.max_size ||
      *inl != meta->inline_max) {
    return Status::InvalidArgument(path +
                                   ": [chunking] differs from the store's fixed values; put back "
                                   "the values written at init");
  }
  if (config->packs.spec != meta->packs) {
    const auto name = [](const std::string& s) { return s.empty() ? std::string("local") : s; };
    return Status::InvalidArgument(path + ": [packs] says " + name(config->packs.spec) +
                                   " but the store's packs are in " + name(meta->packs) +
                                   "; put back the values written at init");
  }
  meta->compression_level = config->compression_level;
  return Status::OK();
}

// Takes the store lock with a POSIX record lock so F_GETLK can name the holder.
Result<int> TakeLock(const std::string& dir, bool exclusive) {
  std::string path = dir + "/lock";
  int fd = ::open(path.c_str(), (exclusive ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0 && exclusive) fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "opening " + path);
  struct flock fl {};
  fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd, F_SETLK, &fl) == 0) return fd;
  int err = errno;
  ::close(fd);
  if (err != EACCES && err != EAGAIN) return Status::FromErrno(err, "locking " + path);
  pid_t holder = Store::LockHolder(dir);
  std::string who = holder > 0 ? "PID " + std::to_string(holder) : "another process";
  return Status::Busy("store " + dir + " is in use by " + who +
                      "; wait for it to finish (or stop it) and try again");
}

// Init makes its directory 0700 and fills it: a DIR that holds anything but
// what an interrupted init leaves (or the lost+found of a fresh file
// system) is somebody's folder, given by mistake (`--store ~` or `/`), and
// is refused untouched. A DIR that is not a directory too.
Status RefuseForeignDir(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::OK();  // created below
  if (!S_ISDIR(st.st_mode)) {
    return Status::AlreadyExists(dir + " exists and is not a directory; give a new or empty "
                                 "directory for the store");
  }
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Status::FromErrno(errno, "listing " + dir);
  std::string foreign;
  while (dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n == "." || n == ".." || n == "meta" || n == "packs" || n == "tmp" || n == "lock" ||
        n == "config.toml.tmp" || n == "lost+found") {
      continue;
    }
    foreign = n;
    break;
  }
  ::closedir(d);
  if (foreign.empty()) return Status::OK();
  return Status::AlreadyExists(dir + " is not empty (it holds '" + foreign +
                               "') and is no keepfs store; a store needs a directory of its own: "
                               "give a new or empty one");
}
// Makes dir ready to become a store (keepfs init and attach) and returns
// its lock: refuses a store, a half-restored store or somebody's folder, and
// clears what an interrupted init or attach left.
Result<UniqueFd> PrepareStoreDir(const std::string& dir) {
  KEEPFS_RETURN_IF_ERROR(RefuseIfRestoring(dir));
  if (PathExists(dir + "/config.toml")) {
    return Status::AlreadyExists(dir + " already holds a keepfs store");
  }
  KEEPFS_RETURN_IF_ERROR(RefuseForeignDir(dir));
  // meta/ without config.toml is an init that was interrupted (the config is
  // written last): nothing can have been stored in it, since Open refuses
  // such a directory. If it also has no packs, start over.
  bool interrupted = PathExists(dir + "/meta");
  if (interrupted && !ListPackFiles(dir).empty()) {
    return Status::AlreadyExists(dir + " holds packs but no config.toml; it is not safe to "
                                 "initialize over it. Restore its config.toml or pick an empty "
                                 "directory");
  }
  // The store holds every user's data: its directory is the owner's alone
  // (0700), whatever the umask or the mode of a directory given empty.
  // Users reach their data through the mount or a server's socket.
  if (size_t slash = dir.find_last_of('/'); slash != std::string::npos && slash > 0) {
    KEEPFS_RETURN_IF_ERROR(MakeDirs(dir.substr(0, slash)));  // parents as usual (0755)
  }
  KEEPFS_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  if (::chmod(dir.c_str(), 0700) != 0) return Status::FromErrno(errno, "chmod 700 " + dir);
  for (const char* sub : {"/packs", "/tmp"}) KEEPFS_RETURN_IF_ERROR(MakeDirs(dir + sub));
  KEEPFS_ASSIGN_OR_RETURN(int lock_fd, TakeLock(dir, /*exclusive=*/true));
  UniqueFd lock(lock_fd);
  if (interrupted) {
    spdlog::info("{}: removing the metadata of an interrupted init", dir);
    std::error_code ec;
    std::filesystem::remove_all(dir + "/meta", ec);
    if (ec) return Status::FromErrno(ec.value(), "removing " + dir + "/meta");
  }
  return lock;
}

// The Ceph settings init and attach write into config.toml as TOML strings:
// nothing that needs escaping.
Status CheckCephSettings(const std::string& conf, const std::string& client) {
  for (const std::string* s : {&conf, &client}) {
    for (char c : *s) {
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
        return Status::InvalidArgument("the Ceph configuration path and client name may not "
                                       "hold quotes, backslashes or control characters");
      }
    }
  }
  if (client.empty()) return Status::InvalidArgument("the Ceph client name is empty");
  return Status::OK();
}

}  // namespace

pid_t Store::LockHolder(const std::string& dir) {
  int fd = ::open((dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  // A write-lock probe conflicts with any lock, so F_GETLK names any holder.
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  pid_t holder = ::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK ? probe.l_pid : 0;
  ::close(fd);
  return holder;
}

Status Store::Init(const std::string& dir, const InitOptions& options) {
  KEEPFS_RETURN_IF_ERROR(ValidateChunkerParams(options.chunker));
  if (options.inline_max > (1u << 20)) {
    return Status::InvalidArgument("inline_max is at most 1 MiB");
  }
  if (options.compression_level < 1 || options.compression_level > 19) {
    return Status::InvalidArgument("compression level must be between 1 and 19");
  }
  if (!options.packs.empty()) KEEPFS_RETURN_IF_ERROR(ParseRadosSpec(options.packs).status());
  KEEPFS_RETURN_IF_ERROR(CheckCephSettings(options.ceph_conf, options.ceph_client));
  KEEPFS_ASSIGN_OR_RETURN(UniqueFd lock, PrepareStoreDir(dir));
  StoreMeta meta;
  meta.store_id = RandomHex(16);
  meta.chunker = options.chunker;
  meta.inline_max = options.inline_max;
  meta.compression_level = options.compression_level;
  meta.created_unix = static_cast<int64_t>(std::time(nullptr));
  meta.packs = options.packs;
  PacksConfig packs;
  packs.ceph_conf = options.ceph_conf;
  packs.client = options.ceph_client;
  std::unique_ptr<PackStore> rados;
  std::unique_ptr<Shard> shard;
  if (!meta.packs.empty()) {
    // Claims the namespace for this store (its marker) before the store
    // exists: a second store can then never share it. Then the shard object,
    // whose journal will hold the store record as its first entry.
    KEEPFS_ASSIGN_OR_RETURN(rados, OpenPacks(dir, meta, packs, /*create_marker=*/true));
    KEEPFS_RETURN_IF_ERROR(Shard::Create(RadosClientOf(rados.get())));
  }
  {
    KvOptions kvo;
    kvo.create_if_missing = true;
    KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<KvStore> kv, KvStore::Open(dir + "/meta", kvo));
    std::unique_ptr<KvJournal> journal;
    if (rados) KEEPFS_RETURN_IF_ERROR(TakeShard(dir, rados.get(), kv.get(), packs, &shard, &journal));
    WriteBatch batch;
    batch.Put(kMetaKey, EncodeMeta(meta));
    KEEPFS_RETURN_IF_ERROR(kv->Write(batch, /*sync=*/true));
  }
  // The config is written last: a directory without it is not yet a store.
  return WriteFileAtomic(dir + "/config.toml", RenderConfig(meta, packs));
}

Status Store::Attach(const std::string& dir, const AttachOptions& options) {
  KEEPFS_ASSIGN_OR_RETURN(RadosLocation loc, ParseRadosSpec(options.packs));
  KEEPFS_RETURN_IF_ERROR(CheckCephSettings(options.ceph_conf, options.ceph_client));
  KEEPFS_ASSIGN_OR_RETURN(UniqueFd lock, PrepareStoreDir(dir));
  PacksConfig packs;
  packs.ceph_conf = loc.ceph_conf = options.ceph_conf;
  packs.client = loc.client = options.ceph_client;
  KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<PackStore> rados,
                          OpenRadosPackStore(loc, /*any store*/ "", /*create_marker=*/false));
  StoreMeta meta;
  {
    KvOptions kvo;
    kvo.create_if_missing = true;
    KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<KvStore> kv, KvStore::Open(dir + "/meta", kvo));
    std::unique_ptr<Shard> shard;
    std::unique_ptr<KvJournal> journal;
    KEEPFS_RETURN_IF_ERROR(TakeShard(dir, rados.get(), kv.get(), packs, &shard, &journal));
    std::string value;
    KEEPFS_ASSIGN_OR_RETURN(bool found, kv->Get(kMetaKey, &value));
    if (!found) {
      return Status::Corruption(options.packs + ": the store's journal holds no store record");
    }
    KEEPFS_ASSIGN_OR_RETURN(meta, DecodeMeta(value));
    if (meta.store_id != RadosStoreIdOf(rados.get()) || meta.packs != loc.Spec()) {
      return Status::Corruption(options.packs + ": the journal's store record (store " +
                                meta.store_id + ", packs " + meta.packs +
                                ") does not match the namespace it is in");
    }
  }
  // The config is written last: a directory without it is not yet a store.
  return WriteFileAtomic(dir + "/config.toml", RenderConfig(meta, packs));
}

Result<UniqueFd> Store::LockExclusive(const std::string& dir) {
  KEEPFS_ASSIGN_OR_RETURN(int fd, TakeLock(dir, /*exclusive=*/true));
  return UniqueFd(fd);
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir, OpenMode mode) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::NotFound("no keepfs store at " + dir +
                            ": check --store, or create one with 'keepfs init --store " + dir +
                            "'");
  }
  // A store that is not ours to read (0700, root's) says so, rather than
  // "not a store" because its files cannot be seen.
  if (::access(dir.c_str(), R_OK | X_OK) != 0 && errno == EACCES) {
    return Status::FromErrno(EACCES, "opening store " + dir);
  }
  // Before the rest: a half-restored store may lack config.toml or meta/,
  // and what to do about it is the useful message.
  KEEPFS_RETURN_IF_ERROR(RefuseIfRestoring(dir));
  return OpenDir(dir, mode, nullptr);
}

Result<std::unique_ptr<Store>> Store::OpenForRestore(const std::string& dir, OpenMode mode,
                                                     const UniqueFd& held_lock) {
  if (!held_lock.valid()) return Status::Internal("OpenForRestore without the store lock");
  return OpenDir(dir, mode, &held_lock);
}

Result<std::unique_ptr<Store>> Store::OpenDir(const std::string& dir, OpenMode mode,
                                              const UniqueFd* held_lock) {
  if (!PathExists(dir + "/config.toml") || !PathExists(dir + "/meta")) {
    return Status::NotFound(dir + " is not a keepfs store (no config.toml or meta/): check "
                            "--store, or create one with 'keepfs init --store " + dir + "'");
  }
  std::unique_ptr<Store> store(new Store());
  store->dir_ = dir;
  store->mode_ = mode;
  if (!held_lock) {
    KEEPFS_ASSIGN_OR_RETURN(store->lock_fd_, TakeLock(dir, mode == OpenMode::kReadWrite));
  }
  KvOptions kvo;
  kvo.read_only = mode == OpenMode::kReadOnly;
  // The metadata database's memory comes from config.toml, read before it is
  // opened; a config that does not parse is reported by LoadConfig below,
  // after the checks that come first (the store record, its format).
  const ConfigFile config_file = ReadConfig(dir + "/config.toml");
  if (config_file.parsed.ok()) {
    kvo.block_cache_bytes = config_file.parsed->mount.metadata_cache_bytes;
    kvo.write_buffer_bytes = config_file.parsed->mount.metadata_write_buffer_bytes;
  }
  KEEPFS_ASSIGN_OR_RETURN(store->kv_, KvStore::Open(dir + "/meta", kvo));
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv_->Get(kMetaKey, &value));
  if (!found) return Status::Corruption(dir + ": the store record is missing from meta/");
  KEEPFS_ASSIGN_OR_RETURN(store->meta_, DecodeMeta(value));
  if (store->meta_.format_version != kFormatVersion) {
    return Status::NotSupported(dir + " has store format " +
                                std::to_string(store->meta_.format_version) +
                                "; this keepfs reads format " + std::to_string(kFormatVersion) +
                                ": use a matching keepfs version");
  }
  KEEPFS_RETURN_IF_ERROR(
      LoadConfig(dir + "/config.toml", config_file, &store->meta_, &store->config_));
  auto packs = OpenPacks(dir, store->meta_, store->config_.packs, /*create_marker=*/false);
  if (!packs.ok()) return packs.status().WithContext("opening the packs of store " + dir);
  store->packs_ = std::move(*packs);
  ChunkStoreOptions cso;
  if (!store->meta_.packs.empty() && mode == OpenMode::kReadWrite) {
    KEEPFS_RETURN_IF_ERROR(TakeShard(dir, store->packs_.get(), store->kv_.get(),
                                     store->config_.packs, &store->shard_, &store->journal_));
    cso.first_pack_id = store->shard_->epoch() << kEpochShift;
  }
  cso.store_dir = dir;
  cso.packs = store->packs_.get();
  cso.writable = mode == OpenMode::kReadWrite;
  KEEPFS_ASSIGN_OR_RETURN(store->chunks_, ChunkStore::Open(store->kv_.get(), &store->guard_, cso));
  return store;
}

StoreConfig Store::config() const {
  std::lock_guard<std::mutex> lock(config_mu_);
  return config_;
}

Status Store::SetUser(std::string_view user, const UserMapping& mapping) {
  if (!writable()) return Status::Internal("SetUser needs a writable store");
  std::lock_guard<std::mutex> lock(config_mu_);
  std::string path = dir_ + "/config.toml";
  KEEPFS_RETURN_IF_ERROR(SetUserMapping(path, user, mapping));
  StoreMeta meta = meta_;
  StoreConfig config;
  KEEPFS_RETURN_IF_ERROR(LoadConfig(path, ReadConfig(path), &meta, &config));
  config_ = std::move(config);
  return Status::OK();
}

void Store::SetSnapshotListener(SnapshotListener fn) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(fn);
}

void Store::SnapshotChanged(std::string_view user, std::string_view name) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  if (listener_) listener_(user, name);
}

Result<uint64_t> Store::NextNumber() const {
  std::string value;
  uint64_t next = 1;
  KEEPFS_ASSIGN_OR_RETURN(bool found, kv_->Get(kNumberKey, &value));
  if (found) {
    Decoder dec(value);
    if (!dec.GetVarint(&next) || next == 0 || !dec.empty()) {
      return Status::Corruption(dir_ + ": the number counter (key N) is damaged");
    }
  }
  return next;
}

Result<uint64_t> Store::AllocateNumber() {
  if (!writable()) return Status::Internal("AllocateNumber needs a writable store");
  std::lock_guard<std::mutex> lock(number_mu_);
  KEEPFS_ASSIGN_OR_RETURN(uint64_t next, NextNumber());
  std::string updated;
  Encoder(&updated).PutVarint(next + 1);
  WriteBatch batch;
  batch.Put(kNumberKey, updated);
  KEEPFS_RETURN_IF_ERROR(kv_->Write(batch, /*sync=*/true));
  return next;
}

Store::~Store() {
  chunks_.reset();
  kv_.reset();
  journal_.reset();
  shard_.reset();  // releases the lease, after the last write
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace keepfs
