// KvStore: the one wrapper around RocksDB. Every other layer sees keys and
// values as bytes, a WriteBatch for atomic multi-key changes, and prefix
// iterators. RocksDB's own Status is converted in exactly one place.
//
// Thread safety: Get, Write and iterators may be used from many threads at
// once (RocksDB's guarantee). A WriteBatch is single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/status.h"

namespace keepfs {

// A set of puts and deletes applied atomically by KvStore::Write.
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  // Deletes [begin, end). Later Puts in the same batch survive it.
  void DeleteRange(std::string_view begin, std::string_view end);
  size_t ApproximateSize() const;
  size_t Count() const;
  void Clear();

 private:
  friend class KvStore;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// Iterates keys that start with a prefix, in byte order.
class KvIterator {
 public:
  virtual ~KvIterator() = default;
  virtual void Seek(std::string_view key) = 0;  // first key >= key within the prefix
  virtual void SeekToLast() = 0;                 // the last key within the prefix
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Non-OK if iteration stopped because of an error rather than the end.
  virtual Status status() const = 0;
};

// Where a journaled store publishes each write before it applies it
// (store/shard.h: the truth of a store on RADOS).
class KvJournal {
 public:
  virtual ~KvJournal() = default;
  // Makes rep, the bytes of a write batch, durable elsewhere. On OK, the
  // local write also puts *key = *value: where the local database stands in
  // the journal. On an error nothing is applied locally.
  virtual Status Publish(std::string_view rep, std::string* key, std::string* value) = 0;
};

struct KvOptions {
  bool create_if_missing = false;
  bool read_only = false;
  size_t block_cache_bytes = 64 << 20;  // data, index and filter blocks
  size_t write_buffer_bytes = 32 << 20;  // each of the two memtables
};

class KvStore {
 public:
  // Closing a writable store flushes its memtables when they hold at least
  // this much, so that the next open need not replay the log.
  static constexpr uint64_t kFlushOnCloseBytes = 1 << 20;

  // Opens (or creates) the database in dir.
  static Result<std::unique_ptr<KvStore>> Open(const std::string& dir, const KvOptions& options);
  ~KvStore();

  // Returns true and fills *value when key exists, false when it does not.
  Result<bool> Get(std::string_view key, std::string* value) const;
  Result<bool> Contains(std::string_view key) const;
  // Applies the batch atomically. sync=true returns only after the WAL is
  // fsynced: the commit point of a snapshot.
  Status Write(WriteBatch& batch, bool sync);
  // From now on every non-empty Write is published to journal first, and
  // writes are applied in the order they were published. Set once, before
  // other threads write; journal is not owned and must outlive the store.
  // Once a publish or a journaled local write failed, every later Write
  // fails with that error (the local database may be behind the journal,
  // and only a new open replays it).
  void SetJournal(KvJournal* journal);
  // Applies a batch read back from a journal (rep as Publish got it) plus
  // key = value, bypassing the journal.
  Status ApplyJournaled(std::string_view rep, std::string_view key, std::string_view value,
                        bool sync);
  // Iterator over keys starting with prefix. The iterator must not outlive the store.
  std::unique_ptr<KvIterator> NewIterator(std::string_view prefix) const;
  // Flushes memtables and syncs the WAL (used before copying the store).
  Status Flush();
  // A consistent, openable copy of the database as of now in dir (which
  // must not exist; same filesystem: its table files are hard links).
  Status Checkpoint(const std::string& dir);
  bool read_only() const;

 private:
  struct Rep;
  explicit KvStore(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace keepfs
