#include "snapshot/file_ingester.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"

namespace keepfs::snapshot {

namespace {
constexpr int kMaxAttempts = 3;
// Chunk puts one ingester may have queued or running: enough to keep the
// pool busy while this thread cuts the next chunk, and a bound on the
// memory held in copies (kMaxInFlight x max chunk size).
constexpr size_t kMaxInFlight = 4;

// One compressor per pool thread and level (a zstd context is ~1 MiB and
// costly to create, so it is not made per chunk).
Compressor& ThreadCompressor(int level) {
  thread_local std::unique_ptr<Compressor> c;
  thread_local int c_level = 0;
  if (!c || c_level != level) {
    c = std::make_unique<Compressor>(level);
    c_level = level;
  }
  return *c;
}

// How far a read follows a file past the size it had when opened: a log
// written meanwhile is read on a while, but a file whose reads never end
// (/proc/PID/pagemap says 0 bytes and gives 8 bytes for every page of the
// address space; a FUSE file can give data forever) is cut off there, kept
// and flagged, instead of hanging the backup. size < 2^63: no overflow.
constexpr uint64_t kMinGrowth = 16ull << 20;
uint64_t ReadLimit(uint64_t size) { return size + std::max(size, kMinGrowth); }

bool SameVersion(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
         a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

}  // namespace

FileIngester::FileIngester(Store* store, MetaBuffer* meta, IngestCounters* counters,
                           ThreadPool* chunk_pool, NewObjects* fresh, ObjectGuard::Hold* hold)
    : store_(store),
      meta_(meta),
      counters_(counters),
      chunker_(store->meta().chunker),
      compressor_(store->meta().compression_level),
      chunk_pool_(chunk_pool),
      fresh_(fresh),
      hold_(hold),
      buf_size_(std::max<size_t>(8u << 20, 2 * size_t{store->meta().chunker.max_size})) {
  buf_.reset(new uint8_t[buf_size_]);
}

FileIngester::~FileIngester() = default;  // Ingest drains its puts on every exit

Result<FileResult> FileIngester::Ingest(SourceDir& dir, const std::string& name) {
  // Whatever path leaves this function, no put of ours is still running.
  struct Drain {
    FileIngester* self;
    ~Drain() { self->DrainChunks().IgnoreError(); }
  } drain{this};
  KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<SourceFile> file, dir.OpenFile(name));
  FileResult result;
  Content content;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    struct stat before, after;
    KEEPFS_RETURN_IF_ERROR(file->Stat(&before));
    if (!S_ISREG(before.st_mode)) return Status::InvalidArgument("is no longer a regular file");
    content = Content();
    fingerprint_.Reset();
    KEEPFS_RETURN_IF_ERROR(ReadOnce(*file, before, &content));
    auto xattrs = file->Xattrs();
    result.xattrs = xattrs.ok() ? std::move(*xattrs) : std::vector<Xattr>();
    result.xattr_error = xattrs.ok() ? std::string() : xattrs.status().message();
    KEEPFS_RETURN_IF_ERROR(file->Stat(&after));
    result.st = before;
    const uint64_t size = static_cast<uint64_t>(before.st_size);
    result.unstable = !SameVersion(before, after) ||
                      content.size != static_cast<uint64_t>(after.st_size);
    if (!result.unstable) break;
    if (content.size >= ReadLimit(size)) {
      // Another read would end at the same cut: keep this one.
      result.unstable_why = "its reads went on past " + std::to_string(content.size) +
                            " bytes while its size said " + std::to_string(size) +
                            "; kept the first " + std::to_string(content.size) + " bytes";
      break;
    }
    // Nothing moved, yet the reads gave another length than the size: a
    // /proc or /sys file, or a FUSE file that lies about its size.
    result.unstable_why = SameVersion(before, after)
                              ? "its size said " + std::to_string(size) + " bytes but reads gave " +
                                    std::to_string(content.size) + "; kept what was read"
                              : "changed while being read; kept the last version read";
  }
  result.size = content.size;
  result.hole_bytes = content.size - content.DataBytes();
  KEEPFS_RETURN_IF_ERROR(DrainChunks());
  KEEPFS_RETURN_IF_ERROR(StoreContent(content, &result.content_id));
  counters_->files.fetch_add(1, std::memory_order_relaxed);
  return result;
}

Status FileIngester::ReadOnce(SourceFile& file, const struct stat& st, Content* content) {
  uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint32_t inline_max = store_->meta().inline_max;
  bool sparse = st.st_blocks * 512 < st.st_size && size > inline_max;
  if (!sparse) {
    if (size <= inline_max) {
      // Small file: read whole (one byte more to notice growth) and inline it.
      std::string data(inline_max + 1, '\0');
      size_t got = 0;
      while (got < data.size()) {
        KEEPFS_ASSIGN_OR_RETURN(size_t n, file.ReadAt(got, data.data() + got, data.size() - got));
        if (n == 0) break;
        got += n;
      }
      counters_->bytes_read.fetch_add(got, std::memory_order_relaxed);
      if (got <= inline_max) {
        data.resize(got);
        content->is_inline = true;
        content->size = got;
        content->inline_data = std::move(data);
        return Status::OK();
      }
      // It grew past the inline limit while we looked: read it as a large file.
    }
    return ReadRange(file, 0, ReadLimit(size), content).status();
  }
  // Sparse: read each data extent; the gaps are holes.
  uint64_t pos = 0;
  while (pos < size) {
    auto data = file.NextData(pos);
    if (!data.ok() && data.status().code() == StatusCode::kNotSupported) {
      return ReadRange(file, pos, size, content).status();  // cannot tell holes: read it all
    }
    if (!data.ok()) return data.status();
    if (!*data) break;  // only a hole remains
    KEEPFS_ASSIGN_OR_RETURN(uint64_t hole, file.NextHole(**data));
    uint64_t start = **data;
    uint64_t end = std::min<uint64_t>(hole, size);
    if (start >= size) break;
    if (start > pos) {
      content->parts.push_back({ObjectId(), start - pos});
      content->size += start - pos;
      fingerprint_.AddZeros(start - pos);
    }
    KEEPFS_ASSIGN_OR_RETURN(uint64_t got, ReadRange(file, start, end, content));
    if (got < end - start) {
      // The extent ended early: the file shrank, or lies about its extents.
      // Stop here rather than put later data or holes at offsets they do
      // not have; the content is then shorter than the size, and the
      // caller's check reads again or flags the file.
      return Status::OK();
    }
    pos = end;
  }
  if (pos < size) {
    content->parts.push_back({ObjectId(), size - pos});
    content->size += size - pos;
    fingerprint_.AddZeros(size - pos);
  }
  return Status::OK();
}

Result<uint64_t> FileIngester::ReadRange(SourceFile& file, uint64_t start, uint64_t end,
                                         Content* content) {
  uint8_t* buf = buf_.get();
  size_t have = 0;
  uint64_t pos = start;
  bool eof = false;
  const size_t max_chunk = chunker_.params().max_size;
  while (!eof || have > 0) {
    while (!eof && have < buf_size_) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf_size_ - have, end - pos));
      if (want == 0) {
        eof = true;
        break;
      }
      KEEPFS_ASSIGN_OR_RETURN(size_t n, file.ReadAt(pos, buf + have, want));
      if (n == 0) {
        eof = true;
        break;
      }
      have += n;
      pos += n;
      counters_->bytes_read.fetch_add(n, std::memory_order_relaxed);
    }
    size_t off = 0;
    // Cut while a full max-size window is available (or at the end of input).
    while (off < have && (eof || have - off >= max_chunk)) {
      size_t cut = chunker_.FindCut(buf + off, have - off);
      KEEPFS_RETURN_IF_ERROR(AddChunk(buf + off, cut, content));
      off += cut;
    }
    std::memmove(buf, buf + off, have - off);
    have -= off;
  }
  return pos - start;
}

Status FileIngester::AddChunk(const uint8_t* data, size_t len, Content* content) {
  std::string_view raw(reinterpret_cast<const char*>(data), len);
  ObjectId id = Sha256::Of(raw);
  fingerprint_.AddData(data, len);
  content->parts.push_back({id, len});
  content->size += len;
  while (in_flight_.size() >= kMaxInFlight) {
    auto [put, n] = std::move(in_flight_.front());
    in_flight_.pop_front();
    KEEPFS_RETURN_IF_ERROR(FinishPut(put, n));
  }
  ChunkStore* chunks = &store_->chunks();
  int level = store_->meta().compression_level;
  in_flight_.emplace_back(
      chunk_pool_->Submit([chunks, id, level, fresh = fresh_, hold = hold_,
                           copy = std::string(raw)]() {
        auto r = chunks->Put(id, copy, ThreadCompressor(level), hold);
        if (r.ok() && r->is_new && fresh) fresh->AddChunk(id, r->stored_bytes);
        return r;
      }),
      len);
  return Status::OK();
}

Status FileIngester::FinishPut(std::future<Result<ChunkPutResult>>& put, size_t raw_len) {
  Result<ChunkPutResult> r = put.get();
  if (!r.ok()) return r.status();
  if (r->is_new) {
    counters_->bytes_new.fetch_add(raw_len, std::memory_order_relaxed);
    counters_->bytes_stored.fetch_add(r->stored_bytes, std::memory_order_relaxed);
  }
  return Status::OK();
}

Status FileIngester::DrainChunks() {
  Status first;
  while (!in_flight_.empty()) {
    auto [put, n] = std::move(in_flight_.front());
    in_flight_.pop_front();
    Status s = FinishPut(put, n);
    if (first.ok()) first = s;
  }
  return first;
}

Result<bool> HoldBelowContent(Store* store, ObjectGuard::Hold* hold, std::string_view record,
                              bool verify) {
  std::string target;  // an alias's target record
  for (int depth = 0;; ++depth) {
    if (IsInlineContentRecord(record)) return true;
    KEEPFS_ASSIGN_OR_RETURN(Content content, DecodeContent(record));
    if (!content.is_alias()) {
      for (const ContentPart& p : content.parts) {
        if (p.is_hole()) continue;
        hold->Add('c', p.chunk);
        if (verify) {
          KEEPFS_ASSIGN_OR_RETURN(bool present,
                                  store->kv().Contains(ChunkStore::ChunkKey(p.chunk)));
          if (!present) return false;
        }
      }
      return true;
    }
    if (depth > 0) {
      return Status::Corruption("content alias " + content.alias_of.ShortHex() +
                                " points at another alias");
    }
    hold->Add('o', content.alias_of);
    KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv().Get(ContentKey(content.alias_of), &target));
    if (!found) return false;
    record = target;
  }
}

Status FileIngester::StoreContent(const Content& content, ObjectId* id) {
  *id = ContentId(content);
  std::string key = ContentKey(*id);
  {
    // Its chunks were put with the hold; now the content itself, before the
    // lookup (ObjectGuard): present now means present at our commit.
    auto shared = store_->guard().Shared();
    if (hold_) hold_->Add('o', *id);
    std::string existing;
    KEEPFS_ASSIGN_OR_RETURN(bool exists, store_->kv().Get(key, &existing));
    // Its own chunks are held already; an alias's target (the sharing pass
    // unified it) and the target's chunks are added here. An alias whose
    // target is gone is nobody's any more: the recipe replaces it.
    if (exists && !(hold_ && IsAliasContentRecord(existing))) return Status::OK();
    if (exists) {
      KEEPFS_ASSIGN_OR_RETURN(bool held, HoldBelowContent(store_, hold_, existing, false));
      if (held) return Status::OK();
      // Only an alias nobody references may have lost its target.
      KEEPFS_ASSIGN_OR_RETURN(bool referenced, store_->kv().Contains(HolderKey('o', *id)));
      if (referenced) {
        return Status::Corruption("content " + id->ShortHex() +
                                  " is an alias whose target is missing; run 'keepfs check'");
      }
    }
  }
  std::string value = EncodeContent(content, &compressor_);
  if (content.is_inline) {
    counters_->bytes_new.fetch_add(content.size, std::memory_order_relaxed);
    counters_->bytes_stored.fetch_add(value.size(), std::memory_order_relaxed);
  }
  if (fresh_) {
    std::vector<ObjectId> chunks;
    for (const auto& p : content.parts) {
      if (!p.is_hole()) chunks.push_back(p.chunk);
    }
    fresh_->AddContent(*id, content.is_inline, value.size(), chunks);
  }
  meta_->Put(std::move(key), std::move(value));
  if (!content.is_inline) meta_->Put(FingerprintKey(fingerprint_.Finish(), *id), std::string());
  return Status::OK();
}

}  // namespace keepfs::snapshot
