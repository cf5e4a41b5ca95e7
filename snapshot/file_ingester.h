// FileIngester: turns one regular file into a Content, storing new chunks.
// Runs on a worker thread; each worker owns one (it holds a compressor and a
// read buffer).
//
// A file that changes while it is read (size, mtime or ctime differ between
// the fstat before and after) is read again (at most three reads in all); after that
// the last read is kept and flagged `unstable`. A file is never read further
// than its size at open plus as much again (at least 16 MiB): a file whose
// reads never end (/proc/PID/pagemap says 0 bytes and gives 256 GiB) is cut
// there, kept and flagged. Sparse files are read extent
// by extent (SEEK_DATA/SEEK_HOLE) and their holes recorded, not stored.
// The file's xattrs are read through the same fd, inside the same window, so
// content, metadata and xattrs describe one version (an xattr change moves
// ctime).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <deque>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "snapshot/content.h"
#include "snapshot/meta_buffer.h"
#include "snapshot/source_fs.h"
#include "snapshot/tree.h"
#include "store/chunker.h"
#include "store/compress.h"
#include "store/file_fingerprint.h"
#include "store/store.h"
#include "store/thread_pool.h"

namespace keepfs::snapshot {

class NewObjects;  // snapshot/accounting.h

// Counters shared by all workers of one backup; read by the progress display.
struct IngestCounters {
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> dirs{0};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> bytes_new{0};
  std::atomic<uint64_t> bytes_stored{0};
  std::atomic<uint64_t> files_cached{0};
};

struct FileResult {
  ObjectId content_id;
  uint64_t size = 0;
  uint64_t hole_bytes = 0;  // of size, bytes that are holes
  struct stat st {};      // the fstat the content matches
  bool unstable = false;  // kept changing while read
  std::string unstable_why;  // with unstable: what was seen, for the error list
  // Read through the open fd inside the same fstat window as the content.
  std::vector<Xattr> xattrs;
  std::string xattr_error;  // non-empty: xattrs could not be read (stored without)
};

// For a backup that reuses a content it found present: adds what lies below
// it to hold (its chunks; for an alias, the target content and its chunks),
// reading from record, the content's stored value. Call under the guard's
// shared side, after adding the content itself. With verify, also checks
// that each chunk is present. False when something below it is gone (a
// dead alias's target, a deleted chunk): the file must be stored again.
Result<bool> HoldBelowContent(Store* store, ObjectGuard::Hold* hold, std::string_view record,
                              bool verify);

class FileIngester {
 public:
  // chunk_pool (not owned, not this thread's own pool): new chunks are
  // compressed and packed there while this thread reads, cuts and hashes on,
  // so that one large file keeps every core busy.
  // fresh (not owned, may be null) learns every chunk and content this
  // ingester stores because it was absent, for the commit's accounting.
  // hold (not owned, may be null): the backup's ObjectGuard hold, which
  // every chunk and content found or stored is added to.
  FileIngester(Store* store, MetaBuffer* meta, IngestCounters* counters, ThreadPool* chunk_pool,
               NewObjects* fresh = nullptr, ObjectGuard::Hold* hold = nullptr);
  ~FileIngester();

  // Reads dir/name (not following symlinks) and stores it.
  Result<FileResult> Ingest(SourceDir& dir, const std::string& name);

 private:
  Status ReadOnce(SourceFile& file, const struct stat& st, Content* content);
  // Reads [start, end), or up to end of file if it comes first, and cuts it
  // into chunks; returns the bytes read.
  Result<uint64_t> ReadRange(SourceFile& file, uint64_t start, uint64_t end, Content* content);
  Status AddChunk(const uint8_t* data, size_t len, Content* content);
  Status StoreContent(const Content& content, ObjectId* id);
  // Waits for every chunk put in flight; the first error, if any. A content
  // record is written only after its chunks' puts are done (data first).
  Status DrainChunks();
  Status FinishPut(std::future<Result<ChunkPutResult>>& put, size_t raw_len);

  Store* store_;
  MetaBuffer* meta_;
  IngestCounters* counters_;
  Chunker chunker_;
  Compressor compressor_;
  ThreadPool* chunk_pool_;
  NewObjects* fresh_;
  ObjectGuard::Hold* hold_;
  std::deque<std::pair<std::future<Result<ChunkPutResult>>, size_t>> in_flight_;
  // Of the attempt being read: its data through AddChunk, its holes as zeros
  // (the sharing pass's grouping key, written with a new chunked content).
  FileFingerprint fingerprint_;
  std::unique_ptr<uint8_t[]> buf_;
  size_t buf_size_;
};

}  // namespace keepfs::snapshot
