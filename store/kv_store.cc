#include "store/kv_store.h"

#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace keepfs {

namespace {

// RocksDB's info log for read-only opens, sent to our log instead of a LOG
// file in the database directory: a read-only open (a mirror, a store-backup
// copy) must not write into the directory it reads.
class SpdlogLogger : public rocksdb::Logger {
 public:
  SpdlogLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char buf[1024];
    std::vsnprintf(buf, sizeof(buf), format, ap);
    spdlog::warn("rocksdb: {}", buf);
  }
};

// The single conversion point from RocksDB's status to ours.
Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::OK();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) {
    // RocksDB's own files (tables, log, MANIFEST) fail their checksums: no
    // keepfs command can mend them in place; a copy can (docs/hardening.md).
    return Status::Corruption(msg + "; the store's metadata database is damaged: restore the store "
                              "from a store-backup copy with 'keepfs store-restore COPY NEW_STORE' "
                              "(docs/integrity.md)");
  }
  if (s.IsNoSpace()) return Status(StatusCode::kNoSpace, msg);
  if (s.IsIOError()) {
    // RocksDB reports ENOSPC as an IOError with a "No space" message on some paths.
    if (s.ToString().find("No space") != std::string::npos) {
      return Status(StatusCode::kNoSpace, msg);
    }
    return Status(StatusCode::kIoError, msg);
  }
  if (s.IsBusy() || s.IsTryAgain()) return Status::Busy(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsNotSupported()) return Status::NotSupported(msg);
  return Status(StatusCode::kIoError, msg);
}

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

class PrefixIterator final : public KvIterator {
 public:
  PrefixIterator(rocksdb::Iterator* it, std::string prefix) : it_(it), prefix_(std::move(prefix)) {
    it_->Seek(ToSlice(prefix_));
  }
  void Seek(std::string_view key) override {
    if (key < prefix_) key = prefix_;
    it_->Seek(ToSlice(key));
  }
  void SeekToLast() override {
    // The first key after every key with the prefix: the prefix with its last
    // byte below 0xff incremented (and what follows it dropped).
    std::string after = prefix_;
    while (!after.empty() && static_cast<unsigned char>(after.back()) == 0xff) after.pop_back();
    if (after.empty()) {
      it_->SeekToLast();
      return;
    }
    after.back() = static_cast<char>(static_cast<unsigned char>(after.back()) + 1);
    it_->SeekForPrev(ToSlice(after));
    if (it_->Valid() && it_->key() == ToSlice(after)) it_->Prev();
  }
  bool Valid() const override { return it_->Valid() && it_->key().starts_with(ToSlice(prefix_)); }
  void Next() override { it_->Next(); }
  std::string_view key() const override { return it_->key().ToStringView(); }
  std::string_view value() const override { return it_->value().ToStringView(); }
  Status status() const override { return FromRocks(it_->status(), "iterating metadata"); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
  std::string prefix_;
};

}  // namespace

struct WriteBatch::Rep {
  rocksdb::WriteBatch batch;
};

WriteBatch::WriteBatch() : rep_(std::make_unique<Rep>()) {}
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;
WriteBatch& WriteBatch::operator=(WriteBatch&&) noexcept = default;

void WriteBatch::Put(std::string_view key, std::string_view value) {
  // rocksdb::WriteBatch only fails here past its 4 GiB size limit; batches are
  // bounded far below that by their callers.
  rep_->batch.Put(ToSlice(key), ToSlice(value)).PermitUncheckedError();
}
void WriteBatch::Delete(std::string_view key) {
  rep_->batch.Delete(ToSlice(key)).PermitUncheckedError();
}
void WriteBatch::DeleteRange(std::string_view begin, std::string_view end) {
  rep_->batch.DeleteRange(ToSlice(begin), ToSlice(end)).PermitUncheckedError();
}
size_t WriteBatch::ApproximateSize() const { return rep_->batch.GetDataSize(); }
size_t WriteBatch::Count() const { return rep_->batch.Count(); }
void WriteBatch::Clear() { rep_->batch.Clear(); }

struct KvStore::Rep {
  std::unique_ptr<rocksdb::DB> db;
  bool read_only = false;
  KvJournal* journal = nullptr;
  std::mutex journal_mu;  // publish and apply, in one order
  Status journal_failed;  // GUARDED_BY(journal_mu)
};

namespace {
// RocksDB's background threads belong to the process that started them. A
// child forked after that (tests do; `keepfs mount` forks before opening
// anything) has none, and a flush there would wait for them forever.
std::atomic<bool> g_threads_started{false};
std::atomic<bool> g_threads_lost{false};
void NoteFork() {
  if (g_threads_started.load()) g_threads_lost.store(true);
}
}  // namespace

KvStore::KvStore(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
KvStore::~KvStore() {
  if (!rep_->db) return;
  // Every open replays what the memtables held at the last close: after a
  // backup of 100,000 files that is a 32 MiB log and 0.6 s for every later
  // command, `keepfs snapshots` included, and for the first mount. Writing it
  // out once here is cheaper. Best effort: the WAL already makes it durable.
  uint64_t unflushed = 0;
  if (!rep_->read_only && !g_threads_lost.load() &&
      rep_->db->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &unflushed) &&
      unflushed >= kFlushOnCloseBytes) {
    rep_->db->Flush(rocksdb::FlushOptions()).PermitUncheckedError();
  }
  rep_->db->Close().PermitUncheckedError();
}

Result<std::unique_ptr<KvStore>> KvStore::Open(const std::string& dir, const KvOptions& options) {
  rocksdb::Options opts;
  opts.create_if_missing = options.create_if_missing;
  opts.paranoid_checks = true;
  // A log record that fails its checksum is refused, not replayed up to: with
  // the default point-in-time mode, a bit flip in a log left by a crash
  // silently dropped every acknowledged commit after it, and check was clean
  // (CorruptionTest.BitFlipsInALogLeftByAKill...). A record torn by a crash
  // at the very end of the log is still tolerated.
  opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // Bounded memory: one memtable pair and one block cache, both sized by the
  // store's [mount] memory keys (docs/nas.md, "Low-memory profile").
  opts.write_buffer_size = options.write_buffer_bytes;
  opts.max_write_buffer_number = 2;
  opts.max_open_files = 512;
  opts.max_background_jobs = 2;
  opts.compression = rocksdb::kLZ4Compression;
  opts.bottommost_compression = rocksdb::kZSTD;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Filters and indexes in pages of about 4 KiB under a small pinned top
  // level. A whole-file filter of a 64 MiB table of a million-file store is
  // 1-2 MiB: more than one shard of the block cache (RocksDB shards it into
  // pieces of 0.5-1 MiB), so it was never kept, and every point read
  // re-read and re-checksummed it (perf: 84% of a commit's time went there).
  // Tables written before keep their filters until compaction rewrites them.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.block_size = 16 << 10;
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  opts.keep_log_file_num = 3;
  if (options.read_only) opts.info_log = std::make_shared<SpdlogLogger>();

  auto rep = std::make_unique<Rep>();
  rep->read_only = options.read_only;
  static std::once_flag atfork;
  std::call_once(atfork, [] { ::pthread_atfork(nullptr, nullptr, NoteFork); });
  g_threads_started.store(true);
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = options.read_only ? rocksdb::DB::OpenForReadOnly(opts, dir, &db)
                                        : rocksdb::DB::Open(opts, dir, &db);
  if (!s.ok()) return FromRocks(s, "opening metadata database " + dir);
  rep->db.reset(db);
  return std::unique_ptr<KvStore>(new KvStore(std::move(rep)));
}

Result<bool> KvStore::Get(std::string_view key, std::string* value) const {
  rocksdb::Status s = rep_->db->Get(rocksdb::ReadOptions(), ToSlice(key), value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "reading metadata");
  return true;
}

Result<bool> KvStore::Contains(std::string_view key) const {
  // One Get: its bloom-filter probe already makes misses cheap, and a
  // KeyMayExist in front would walk the blocks twice for every hit (measured:
  // a quarter of an unchanged re-backup).
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      rep_->db->Get(rocksdb::ReadOptions(), rep_->db->DefaultColumnFamily(), ToSlice(key), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "reading metadata");
  return true;
}

Status KvStore::Checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(rep_->db.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  if (s.ok()) s = cp->CreateCheckpoint(dir);
  return s.ok() ? Status::OK() : FromRocks(s, "making a metadata checkpoint in " + dir);
}

Status KvStore::Write(WriteBatch& batch, bool sync) {
  if (rep_->read_only) return Status::Internal("write to a read-only store");
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  if (!rep_->journal) return FromRocks(rep_->db->Write(wo, &batch.rep_->batch), "writing metadata");
  if (batch.Count() == 0) return Status::OK();
  std::lock_guard<std::mutex> lock(rep_->journal_mu);
  if (!rep_->journal_failed.ok()) return rep_->journal_failed;
  std::string key, value;
  if (Status s = rep_->journal->Publish(batch.rep_->batch.Data(), &key, &value); !s.ok()) {
    rep_->journal_failed = s;
    return s;
  }
  batch.rep_->batch.Put(ToSlice(key), ToSlice(value)).PermitUncheckedError();
  Status s = FromRocks(rep_->db->Write(wo, &batch.rep_->batch), "writing metadata");
  if (!s.ok()) {
    rep_->journal_failed = s.WithContext("the local metadata is behind its journal; open the "
                                         "store again to replay it");
  }
  return s;
}

void KvStore::SetJournal(KvJournal* journal) { rep_->journal = journal; }

Status KvStore::ApplyJournaled(std::string_view rep, std::string_view key, std::string_view value,
                               bool sync) {
  if (rep_->read_only) return Status::Internal("write to a read-only store");
  // A batch's bytes start with its 12-byte header (sequence, count).
  if (rep.size() < 12) return Status::Corruption("a journal entry is not a write batch");
  rocksdb::WriteBatch batch{std::string(rep)};
  KEEPFS_RETURN_IF_ERROR(
      FromRocks(batch.Put(ToSlice(key), ToSlice(value)), "replaying a journal entry"));
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(rep_->db->Write(wo, &batch), "replaying a journal entry");
}

std::unique_ptr<KvIterator> KvStore::NewIterator(std::string_view prefix) const {
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  return std::make_unique<PrefixIterator>(rep_->db->NewIterator(ro), std::string(prefix));
}

Status KvStore::Flush() {
  if (rep_->read_only) return Status::OK();
  KEEPFS_RETURN_IF_ERROR(FromRocks(rep_->db->Flush(rocksdb::FlushOptions()), "flushing metadata"));
  return FromRocks(rep_->db->SyncWAL(), "syncing metadata log");
}

bool KvStore::read_only() const { return rep_->read_only; }

}  // namespace keepfs
