// Store: one keepfs store directory.
//
//   STORE/config.toml   human-readable settings; chunking is fixed at init
//   STORE/meta/         RocksDB: every index and metadata record
//   STORE/packs/XX/     sealed pack files
//   STORE/tmp/          packs being written
//   STORE/lock          held (fcntl lock) by the process using the store
//   STORE/RESTORING     while keepfs store-restore runs or after it was
//                       interrupted (store/restore_marker.h)
//   STORE/meta.restoring/             metadata being copied by store-restore
//   STORE/meta.replaced.TIME/         metadata of a store replaced by
//   STORE/packs.replaced.TIME/        store-restore --replace, and its packs
//   STORE/config.replaced.TIME.toml   and config: moved aside, never deleted
//
// Open() checks that the directory is a keepfs store of a format this build
// understands and takes the lock: exclusive for writers, shared for readers, so
// a second writer gets "store is in use by PID N" instead of a RocksDB error.
// Open() and Init() refuse a directory holding RESTORING, with advice.
//
// Thread safety: the accessors are safe from many threads; KvStore and
// ChunkStore document their own guarantees.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "store/chunk_store.h"
#include "store/chunker.h"
#include "store/config.h"
#include "store/file_util.h"
#include "store/kv_store.h"
#include "store/object_guard.h"
#include "store/pack_store.h"
#include "store/status.h"

namespace keepfs {

class Shard;

inline constexpr uint32_t kFormatVersion = 2;

// Fixed at init and recorded in the metadata database; see docs/format.md.
struct StoreMeta {
  uint32_t format_version = kFormatVersion;
  std::string store_id;  // 32 hex digits, random at init
  ChunkerParams chunker;
  uint32_t inline_max = 4096;  // files up to this size live inside their content record
  int compression_level = 3;   // tunable in config.toml; affects new data only
  int64_t created_unix = 0;
  // Where the packs live: "" for STORE/packs/, "rados:POOL/NAMESPACE" for a
  // RADOS pool (store/rados_pack_store.h).
  std::string packs;
};

struct InitOptions {
  ChunkerParams chunker;
  uint32_t inline_max = 4096;
  int compression_level = 3;
  // "" : packs in STORE/packs/. "rados:POOL/NAMESPACE": in that RADOS pool,
  // whose namespace must be empty; reached through ceph_conf as client.
  std::string packs;
  std::string ceph_conf;
  std::string ceph_client = "admin";
};

struct AttachOptions {
  std::string packs;  // "rados:POOL/NAMESPACE" of a store made by init --packs rados:...
  std::string ceph_conf;
  std::string ceph_client = "admin";
};

enum class OpenMode { kReadOnly, kReadWrite };

class Store {
 public:
  // The PID of the process holding dir's store lock (shared or exclusive), or
  // 0 when nobody holds it.
  static pid_t LockHolder(const std::string& dir);
  // Creates a new store in dir (which must not exist or be empty), mode
  // 0700: it holds every user's data.
  static Status Init(const std::string& dir, const InitOptions& options);
  // Makes dir (new or empty) a local copy of the store on RADOS at
  // options.packs, on this node: takes the store's lease (waiting as a
  // read-write open does), rebuilds the metadata by replaying the store's
  // journal from RADOS, and writes config.toml as init did, with these
  // connection settings (edits made to another node's config.toml are not
  // carried over). Each later read-write open of dir takes the lease and
  // applies what other nodes published meanwhile (docs/scale-out.md).
  static Status Attach(const std::string& dir, const AttachOptions& options);
  // NotFound with advice when dir is not a store; PermissionDenied when dir
  // is not open to us; Busy when locked by another process; InvalidArgument
  // with advice when a restore left it half-done.
  static Result<std::unique_ptr<Store>> Open(const std::string& dir, OpenMode mode);
  // Takes dir's store lock exclusively (creating dir/lock if absent) for a
  // caller that works on the directory without opening it (store-restore);
  // held until the returned descriptor is closed. Busy naming the holder.
  // A process drops its fcntl lock when it closes any descriptor of the lock
  // file, so the holder must not Open this store or call LockHolder meanwhile.
  static Result<UniqueFd> LockExclusive(const std::string& dir);
  // For store-restore's audit only: opens dir despite its RESTORING marker,
  // under held_lock (from LockExclusive on dir), which the caller keeps
  // until the Store is destroyed; the Store takes and closes no lock itself.
  static Result<std::unique_ptr<Store>> OpenForRestore(const std::string& dir, OpenMode mode,
                                                       const UniqueFd& held_lock);
  ~Store();

  const std::string& dir() const { return dir_; }
  const StoreMeta& meta() const { return meta_; }
  KvStore& kv() { return *kv_; }
  ChunkStore& chunks() { return *chunks_; }
  // Where the packs live (store/pack_store.h).
  PackStore& packs() { return *packs_; }
  // Keeps the garbage collector off objects that work in flight relies on.
  ObjectGuard& guard() { return guard_; }
  bool writable() const { return mode_ == OpenMode::kReadWrite; }
  // The tunable settings of config.toml as read at open (or by SetUser).
  StoreConfig config() const;
  // Maps user to a server uid/gid: writes [users.USER] into config.toml and
  // makes it the current config. Needs a writable store.
  Status SetUser(std::string_view user, const UserMapping& mapping);

  // A store-wide number that is never handed out twice: the counter (key "N")
  // is advanced with a synced write before the number is returned, so a crash
  // can only skip numbers. Snapshots and users take one each; the mount builds
  // inode numbers from them (docs/mount.md). Needs a writable store.
  Result<uint64_t> AllocateNumber();
  // The number AllocateNumber would hand out next: every number below it has
  // been handed out (or skipped by a crash), none at or above it has.
  Result<uint64_t> NextNumber() const;
  // Held by whatever commits or deletes snapshots in this process, from
  // reading the reference counts until the batch that changes them is
  // written (snapshot/accounting.h).
  std::mutex& commit_mu() { return commit_mu_; }
  // Held by the garbage collector for a whole run: one run at a time.
  std::mutex& gc_mu() { return gc_mu_; }
  // Held by the sharing pass (gc/sharing.h) for a whole run.
  std::mutex& sharing_mu() { return sharing_mu_; }
  // Held by `keepfs check` for a whole run (snapshot/check.h).
  std::mutex& check_mu() { return check_mu_; }
  // Held by `keepfs store-backup` for a whole run (store/store_backup.h).
  std::mutex& store_backup_mu() { return store_backup_mu_; }

  // Who wants to hear that a snapshot of user was committed or removed (the
  // mount, to drop the kernel's cached entries at once). Null: nobody.
  // Replacing the listener waits for a call in progress.
  using SnapshotListener = std::function<void(std::string_view user, std::string_view name)>;
  void SetSnapshotListener(SnapshotListener fn);
  // Called by whatever commits or removes a snapshot, after its batch is written.
  void SnapshotChanged(std::string_view user, std::string_view name);
  // Snapshots committed by backups since the store was opened: a backup
  // that sees it change between its start and its commit knows that another
  // backup ran beside it (snapshot/accounting.h, SetNewObjects).
  uint64_t backup_commits() const { return backup_commits_.load(); }
  void NoteBackupCommit() { backup_commits_.fetch_add(1); }

 private:
  Store() = default;
  // Open without the marker check; takes the lock unless held_lock is given.
  static Result<std::unique_ptr<Store>> OpenDir(const std::string& dir, OpenMode mode,
                                                const UniqueFd* held_lock);
  std::string dir_;
  OpenMode mode_ = OpenMode::kReadOnly;
  StoreMeta meta_;
  int lock_fd_ = -1;
  ObjectGuard guard_;            // destroyed after chunks_
  std::unique_ptr<KvStore> kv_;  // destroyed after chunks_
  std::unique_ptr<PackStore> packs_;  // destroyed after chunks_ and shard_
  // A read-write process of a store on RADOS: its lease and the journal
  // every metadata write is published to first (store/shard.h).
  std::unique_ptr<Shard> shard_;
  std::unique_ptr<KvJournal> journal_;
  std::unique_ptr<ChunkStore> chunks_;
  mutable std::mutex config_mu_;
  StoreConfig config_;  // GUARDED_BY(config_mu_)
  std::mutex number_mu_;  // serializes AllocateNumber's read-advance-write
  std::mutex commit_mu_;
  std::atomic<uint64_t> backup_commits_{0};
  std::mutex gc_mu_;
  std::mutex sharing_mu_;
  std::mutex check_mu_;
  std::mutex store_backup_mu_;
  std::mutex listener_mu_;
  std::function<void(std::string_view, std::string_view)> listener_;  // GUARDED_BY(listener_mu_)
};

}  // namespace keepfs
