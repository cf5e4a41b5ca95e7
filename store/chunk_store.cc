#include "store/chunk_store.h"

#include "store/chunk_store_rep.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <ctime>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "store/blob_check.h"
#include "store/coding.h"
#include "store/pack.h"

namespace keepfs {

namespace {
constexpr char kChunkPrefix = 'c';
constexpr char kPackPrefix = 'p';

std::string EncodeLoc(const PackEntry& e, uint64_t pack_id) {
  std::string v;
  Encoder enc(&v);
  enc.PutVarint(pack_id);
  enc.PutVarint(e.offset);
  enc.PutVarint(e.stored_len);
  enc.PutVarint(e.raw_len);
  enc.PutU8(static_cast<uint8_t>(e.codec));
  enc.PutFixed64(e.check);
  return v;
}

}  // namespace

std::string EncodeLocation(const PackEntry& e, uint64_t pack_id) { return EncodeLoc(e, pack_id); }

uint64_t PackInfo::blob_bytes() const {
  uint64_t overhead = kPackHeaderSize + kPackFooterSize + kPackTrailerEntrySize * chunk_count;
  return size > overhead ? size - overhead : 0;
}

std::string ChunkStore::EncodePackInfo(const PackInfo& p) {
  std::string v;
  Encoder enc(&v);
  enc.PutVarint(p.size);
  enc.PutVarint(p.chunk_count);
  enc.PutSignedVarint(p.created_unix);
  enc.PutVarint(p.dead_bytes);
  enc.PutVarint(p.dead_chunks);
  enc.PutU8(p.condemned ? 1 : 0);
  return v;
}

Result<std::unique_ptr<PackWriter>> ChunkStore::Rep::NewWriter() {
  uint64_t pack_id = next_pack_id++;
  KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<PackUpload> upload, options.packs->Create(pack_id));
  return PackWriter::Create(pack_id, std::move(upload));
}

Status ChunkStore::Rep::IndexPack(uint64_t pack_id, const std::vector<PackEntry>& entries,
                                  uint64_t size) {
  WriteBatch batch;
  for (const PackEntry& e : entries) batch.Put(ChunkKey(e.id), EncodeLoc(e, pack_id));
  PackInfo info;
  info.size = size;
  info.chunk_count = static_cast<uint32_t>(entries.size());
  info.created_unix = static_cast<int64_t>(std::time(nullptr));
  batch.Put(PackKey(pack_id), EncodePackInfo(info));
  // Not synced: if this write is lost in a crash the sealed pack is adopted
  // again on the next writable open, and every later synced write (a
  // snapshot commit) makes it durable first, since the WAL is ordered.
  return kv->Write(batch, /*sync=*/false);
}

Status ChunkStore::Rep::SealLocked() {
  if (!writer) return Status::OK();
  if (writer->entries().empty()) {
    writer.reset();  // removes the empty temporary file
    return Status::OK();
  }
  if (Status s = writer->Seal(); !s.ok()) return Fail(s);
  if (Status s = IndexPack(writer->pack_id(), writer->entries(), writer->size()); !s.ok()) {
    return Fail(s);
  }
  for (const PackEntry& e : writer->entries()) pending.erase(e.id);
  ++index_epoch;
  writer.reset();
  return Status::OK();
}

// Seals a full pack that Put took out of `writer` (counted in `sealing`),
// without holding write_mu: the write of the trailer, the fsyncs and the
// rename take milliseconds to seconds, and the other workers keep appending
// to a fresh pack meanwhile. Its chunks stay in `pending` (so dedup still
// sees them) until they are indexed.
Status ChunkStore::Rep::SealDetached(std::unique_ptr<PackWriter> full) {
  Status s = full->Seal();
  if (s.ok()) s = IndexPack(full->pack_id(), full->entries(), full->size());
  std::lock_guard<std::mutex> lock(write_mu);
  --sealing;
  seal_done.notify_all();
  if (!failed.ok()) return failed;
  if (!s.ok()) return Fail(s);
  for (const PackEntry& e : full->entries()) pending.erase(e.id);
  ++index_epoch;
  return Status::OK();
}

// Finds the highest pack id on disk, removes leftover temporary packs and
// adopts sealed packs that have no index record (a crash between the rename
// and the index write).
Status ChunkStore::Rep::ScanPacks() {
  // Ids come from the index as well as from disk, so an id whose pack file
  // was deleted is never reused while a record may still name it.
  std::unordered_set<uint64_t> indexed;
  std::vector<std::pair<uint64_t, PackInfo>> condemned;
  auto pit = kv->NewIterator(std::string(1, kPackPrefix));
  for (; pit->Valid(); pit->Next()) {
    if (auto id = PackIdFromKey(pit->key())) {
      indexed.insert(*id);
      next_pack_id = std::max(next_pack_id, *id + 1);
      auto info = DecodePackInfo(pit->value());
      if (info.ok() && info->condemned) condemned.emplace_back(*id, *info);
    }
  }
  KEEPFS_RETURN_IF_ERROR(pit->status());
  PackStore& packs = *options.packs;
  KEEPFS_RETURN_IF_ERROR(packs.RemoveUnsealed());
  // A killed store-backup's hard links of packs (store/store_backup.h).
  std::string tmp_dir = options.store_dir + "/tmp";
  if (DIR* d = ::opendir(tmp_dir.c_str())) {
    while (dirent* de = ::readdir(d)) {
      std::string name = de->d_name;
      if (name.rfind("store-backup.", 0) == 0) {
        std::error_code ec;
        std::filesystem::remove_all(tmp_dir + "/" + name, ec);
      }
    }
    ::closedir(d);
  }
  KEEPFS_ASSIGN_OR_RETURN(std::vector<uint64_t> sealed, packs.List());
  for (uint64_t id : sealed) {
    next_pack_id = std::max(next_pack_id, id + 1);
    if (indexed.count(id)) continue;
    const std::string name = packs.Describe(id);
    KEEPFS_ASSIGN_OR_RETURN(std::optional<uint64_t> size, packs.Size(id));
    if (!size) continue;  // removed since the listing: nothing to adopt
    auto entries = ReadPackIndex(packs, id, *size);
    if (!entries.ok()) {
      spdlog::warn("unindexed pack {} is unreadable, leaving it alone: {}", name,
                   entries.status().ToString());
      continue;
    }
    KEEPFS_RETURN_IF_ERROR(AdoptPack(id, *entries, *size));
    ++adopted;
    spdlog::info("adopted pack {} ({} chunks) left by an interrupted run", name, entries->size());
  }
  // A collector stopped between condemning packs and removing them.
  RepackResult retired;
  return RetirePacks(condemned, &retired);
}

// Indexes the chunks of a sealed pack that has no record: a backup's pack
// whose index write was lost, or a repack's copy whose batch never landed.
// A chunk indexed elsewhere meanwhile keeps its entry, and its blob here
// counts as dead, so the dead-byte counters stay exact.
Status ChunkStore::Rep::AdoptPack(uint64_t pack_id, const std::vector<PackEntry>& entries,
                                  uint64_t size) {
  WriteBatch batch;
  PackInfo info;
  info.size = size;
  info.chunk_count = static_cast<uint32_t>(entries.size());
  info.created_unix = static_cast<int64_t>(std::time(nullptr));
  for (const PackEntry& e : entries) {
    KEEPFS_ASSIGN_OR_RETURN(bool present, kv->Contains(ChunkKey(e.id)));
    if (present) {
      info.dead_bytes += e.stored_len;
      ++info.dead_chunks;
    } else {
      batch.Put(ChunkKey(e.id), EncodeLocation(e, pack_id));
    }
  }
  batch.Put(PackKey(pack_id), EncodePackInfo(info));
  return kv->Write(batch, /*sync=*/false);
}

ChunkStore::ChunkStore(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
ChunkStore::~ChunkStore() = default;  // an unsealed pack is discarded; nothing points at it

Result<std::unique_ptr<ChunkStore>> ChunkStore::Open(KvStore* kv, ObjectGuard* guard,
                                                     const ChunkStoreOptions& options) {
  if (options.packs == nullptr) return Status::Internal("ChunkStore::Open without a pack store");
  auto rep = std::make_unique<Rep>();
  rep->kv = kv;
  rep->guard = guard;
  rep->options = options;
  rep->next_pack_id = std::max<uint64_t>(1, options.first_pack_id);
  if (options.writable) KEEPFS_RETURN_IF_ERROR(rep->ScanPacks());
  return std::unique_ptr<ChunkStore>(new ChunkStore(std::move(rep)));
}

std::string ChunkStore::ChunkKey(const ObjectId& id) {
  std::string k(1, kChunkPrefix);
  k.append(id.AsBytes());
  return k;
}

std::string ChunkStore::PackKey(uint64_t pack_id) {
  std::string k(1, kPackPrefix);
  PutBigEndian64(&k, pack_id);
  return k;
}

std::optional<uint64_t> ChunkStore::PackIdFromKey(std::string_view key) {
  if (key.size() != 9 || key[0] != kPackPrefix) return std::nullopt;
  return GetBigEndian64(key.data() + 1);
}

Result<ChunkLoc> ChunkStore::DecodeLoc(std::string_view value) {
  Decoder dec(value);
  ChunkLoc loc;
  uint64_t stored = 0, raw = 0;
  uint8_t codec = 0;
  if (!dec.GetVarint(&loc.pack_id) || !dec.GetVarint(&loc.offset) || !dec.GetVarint(&stored) ||
      !dec.GetVarint(&raw) || !dec.GetU8(&codec) || !dec.GetFixed64(&loc.check) ||
      !dec.empty() || codec > 1 || stored > UINT32_MAX || raw > UINT32_MAX) {
    return Status::Corruption("bad chunk index entry");
  }
  loc.stored_len = static_cast<uint32_t>(stored);
  loc.raw_len = static_cast<uint32_t>(raw);
  loc.codec = static_cast<Codec>(codec);
  return loc;
}

Result<PackInfo> ChunkStore::DecodePackInfo(std::string_view value) {
  Decoder dec(value);
  PackInfo p;
  uint64_t count = 0, dead_chunks = 0;
  uint8_t condemned = 0;
  if (!dec.GetVarint(&p.size) || !dec.GetVarint(&count) || !dec.GetSignedVarint(&p.created_unix) ||
      !dec.GetVarint(&p.dead_bytes) || !dec.GetVarint(&dead_chunks) || !dec.GetU8(&condemned) ||
      !dec.empty() || count > UINT32_MAX || dead_chunks > count || condemned > 1) {
    return Status::Corruption("bad pack record");
  }
  p.chunk_count = static_cast<uint32_t>(count);
  p.dead_chunks = static_cast<uint32_t>(dead_chunks);
  p.condemned = condemned == 1;
  return p;
}

Result<std::optional<ChunkLoc>> ChunkStore::Lookup(const ObjectId& id) const {
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, rep_->kv->Get(ChunkKey(id), &value));
  if (!found) return std::optional<ChunkLoc>();
  KEEPFS_ASSIGN_OR_RETURN(ChunkLoc loc, DecodeLoc(value));
  return std::optional<ChunkLoc>(loc);
}

std::mutex& ChunkStore::retire_mu() { return rep_->retire_mu; }

Status ChunkStore::Read(const ObjectId& id, std::string* out, Verify verify) const {
  // From the index lookup to the end of the pread: the pack may not be removed.
  struct Section {
    ReadEpochs& epochs;
    int e;
    ~Section() { epochs.Leave(e); }
  } section{rep_->epochs, rep_->epochs.Enter()};
  KEEPFS_ASSIGN_OR_RETURN(std::optional<ChunkLoc> loc, Lookup(id));
  if (!loc) return Status::NotFound("chunk " + id.ShortHex() + " is not in the store");
  const PackStore& packs = *rep_->options.packs;
  // Named only when something fails: this is every read's path.
  const auto where = [&] {
    return "pack " + packs.Describe(loc->pack_id) + " offset " + std::to_string(loc->offset) +
           " (chunk " + id.ShortHex() + ")";
  };
  // Reused per thread: the stored bytes are only an input to Decompress, and
  // a fresh buffer per chunk costs a memset and new pages every time.
  thread_local std::string stored;
  stored.resize(loc->stored_len);
  if (Status s = packs.Read(loc->pack_id, loc->offset, stored.size(), stored.data()); !s.ok()) {
    out->clear();
    return s.WithContext(where());
  }
  if (BlobCheck(id, stored) != loc->check) {
    out->clear();
    return Status::Corruption(where() + ": stored bytes do not match their checksum");
  }
  thread_local Decompressor decompressor;
  Status s = decompressor.Decompress(loc->codec, stored, loc->raw_len, out);
  if (!s.ok()) {
    out->clear();  // a failed zstd decode leaves partial, unverified bytes behind
    return s.WithContext(where());
  }
  if (verify == Verify::kRehash && Sha256::Of(*out) != id) {
    out->clear();  // never hand out wrong bytes
    return Status::Corruption(where() + ": content does not match its hash");
  }
  return Status::OK();
}

Result<bool> ChunkStore::Contains(const ObjectId& id) const {
  {
    std::lock_guard<std::mutex> lock(rep_->write_mu);
    if (rep_->pending.count(id)) return true;
  }
  return rep_->kv->Contains(ChunkKey(id));
}

Result<ChunkPutResult> ChunkStore::Put(const ObjectId& id, std::string_view raw,
                                       Compressor& compressor, ObjectGuard::Hold* hold) {
  if (!rep_->options.writable) return Status::Internal("Put on a read-only chunk store");
  uint64_t epoch;
  {
    // Held before the lookup, under the guard: if the chunk is present now,
    // the collector cannot delete it before our commit (ObjectGuard).
    auto shared = rep_->guard->Shared();
    if (hold) hold->Add('c', id);
    {
      std::lock_guard<std::mutex> lock(rep_->write_mu);
      if (rep_->pending.count(id)) return ChunkPutResult{};
      epoch = rep_->index_epoch;
    }
    KEEPFS_ASSIGN_OR_RETURN(bool indexed, rep_->kv->Contains(ChunkKey(id)));
    if (indexed) return ChunkPutResult{};
  }
  // Compress outside the lock so workers compress in parallel.
  std::string stored;
  Codec codec = compressor.Compress(raw, &stored);
  std::unique_lock<std::mutex> lock(rep_->write_mu);
  if (!rep_->failed.ok()) return rep_->failed;
  if (rep_->pending.count(id)) return ChunkPutResult{};  // another worker won the race
  if (rep_->index_epoch != epoch) {
    // A pack was indexed since our lookup: another worker may have put this
    // very chunk and sealed it meanwhile. Rare, so the lookup under the lock is cheap.
    KEEPFS_ASSIGN_OR_RETURN(bool now_indexed, rep_->kv->Contains(ChunkKey(id)));
    if (now_indexed) return ChunkPutResult{};
  }
  if (!rep_->writer) {
    auto w = rep_->NewWriter();
    if (!w.ok()) return rep_->Fail(w.status());
    rep_->writer = std::move(*w);
  }
  auto added = rep_->writer->Add(id, codec, stored, static_cast<uint32_t>(raw.size()));
  if (!added.ok()) return rep_->Fail(added.status());
  PackEntry e = *added;
  rep_->pending.emplace(id, e);
  if (rep_->writer->size() >= rep_->options.pack_target_size) {
    std::unique_ptr<PackWriter> full = std::move(rep_->writer);
    ++rep_->sealing;
    lock.unlock();
    KEEPFS_RETURN_IF_ERROR(rep_->SealDetached(std::move(full)));
  }
  return ChunkPutResult{true, stored.size()};
}

Status ChunkStore::Flush() {
  std::unique_lock<std::mutex> lock(rep_->write_mu);
  if (!rep_->failed.ok()) return rep_->failed;
  KEEPFS_RETURN_IF_ERROR(rep_->SealLocked());
  rep_->seal_done.wait(lock, [this] { return rep_->sealing == 0; });
  return rep_->failed;
}

uint64_t ChunkStore::adopted_packs() const { return rep_->adopted; }
const PackStore& ChunkStore::packs() const { return *rep_->options.packs; }
uint64_t ChunkStore::pack_target_size() const { return rep_->options.pack_target_size; }

Status ChunkStore::write_status() const {
  std::lock_guard<std::mutex> lock(rep_->write_mu);
  return rep_->failed;
}

}  // namespace keepfs
