// View: file contents, extended attributes and statfs.
#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "fs/chunk_reader.h"
#include "fs/view.h"
#include "fs/view_impl.h"
#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "store/chunk_store.h"

namespace keepfs::fs {

namespace {
Status Eio(const std::string& message) { return Status(StatusCode::kCorruption, message, EIO); }
constexpr int64_t kStatFsRefreshSec = 5;
}  // namespace

Result<uint64_t> View::Open(const Caller& c, uint64_t ino, int flags) {
  auto n = FindNode(ino);
  if (!n) return Status(StatusCode::kNotFound, "inode is not known", ESTALE);
  KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *n));
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
    return Status(StatusCode::kPermissionDenied, "read-only", EROFS);
  }
  if (n->kind == Node::kMetaFile) {
    const std::string path = n->user +
                             (n->meta_file == kDeletedIndexFile ? "/.deleted/" : "/.keepfs/") +
                             kMetaFiles[n->meta_file];
    auto text = MetaText(n->user, n->meta_file);
    if (!text.ok()) {
      spdlog::error("{}: {}", path, text.status().message());
      return Eio(text.status().message());
    }
    auto h = std::make_shared<FileHandle>();
    h->node = n;
    h->generated = true;
    h->path = path;
    h->content.is_inline = true;
    h->content.size = text->size();
    h->content.inline_data = std::move(*text);
    return AddHandle(std::move(h));
  }
  if (n->kind != Node::kEntry || n->entry.type != snapshot::EntryType::kFile) {
    return Status(StatusCode::kInvalidArgument, "not a regular file",
                  n->kind == Node::kEntry && n->entry.type == snapshot::EntryType::kDir ? EISDIR
                                                                                        : EINVAL);
  }
  auto h = std::make_shared<FileHandle>();
  h->node = n;
  h->path = PathOf(*n);
  {
    // From here on the collector leaves the file's chunks alone.
    auto content = repo_->GetContentHeld(n->entry.ref, &h->hold);
    if (!content.ok()) return ReadFailure(*n, content.status(), ESTALE);
    h->content = std::move(*content);
  }
  if (h->content.size != n->entry.size) {
    spdlog::error("{}: content size {} differs from the entry's {}", h->path, h->content.size,
                  n->entry.size);
    return Eio("content size mismatch");
  }
  uint64_t at = 0;
  h->starts.reserve(h->content.parts.size());
  for (const auto& p : h->content.parts) {
    h->starts.push_back(at);
    at += p.length;
  }
  return AddHandle(std::move(h));
}

uint64_t View::AddHandle(std::shared_ptr<FileHandle> h) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  uint64_t id = next_handle_++;
  files_[id] = std::move(h);
  return id;
}

Result<std::shared_ptr<View::FileHandle>> View::FindFile(uint64_t handle) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  auto it = files_.find(handle);
  if (it == files_.end()) return Status(StatusCode::kInvalidArgument, "bad handle", EBADF);
  return it->second;
}

void View::Release(uint64_t handle) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  files_.erase(handle);
}

Status View::Read(uint64_t handle, uint64_t offset, size_t size, std::string* out) {
  std::vector<Segment> segs;
  out->clear();
  KEEPFS_RETURN_IF_ERROR(ReadSegments(handle, offset, size, &segs));
  for (const Segment& s : segs) out->append(s.data, s.size);
  return Status::OK();
}

Status View::ReadSegments(uint64_t handle, uint64_t offset, size_t size,
                          std::vector<Segment>* segs) {
  // Holes are served from one shared page of zeros.
  static const std::string* const kZeros = new std::string(1 << 20, '\0');
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<FileHandle> h, FindFile(handle));
  segs->clear();
  const snapshot::Content& c = h->content;
  if (offset >= c.size || size == 0) return Status::OK();
  uint64_t end = std::min<uint64_t>(c.size, offset + size);
  if (c.is_inline) {
    segs->push_back({nullptr, c.inline_data.data() + offset, static_cast<size_t>(end - offset), h});
    return Status::OK();
  }
  size_t i = std::upper_bound(h->starts.begin(), h->starts.end(), offset) - h->starts.begin() - 1;
  uint64_t pos = offset;
  for (; pos < end && i < c.parts.size(); ++i) {
    const snapshot::ContentPart& p = c.parts[i];
    uint64_t part_end = h->starts[i] + p.length;
    uint64_t take = std::min(end, part_end) - pos;
    if (p.is_hole()) {
      for (uint64_t left = take; left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeros->size()));
        segs->push_back({nullptr, kZeros->data(), n, nullptr});
        left -= n;
      }
    } else {
      auto chunk = chunks_->Get(p.chunk);
      if (!chunk.ok()) {
        spdlog::error("{}: read at {}: {}", h->path, pos, chunk.status().message());
        segs->clear();
        return Eio(chunk.status().message());
      }
      if ((*chunk)->size() != p.length) {
        spdlog::error("{}: chunk {} has {} bytes, the recipe says {}", h->path,
                      p.chunk.ShortHex(), (*chunk)->size(), p.length);
        segs->clear();
        return Eio("chunk length mismatch");
      }
      const char* data = (*chunk)->data() + (pos - h->starts[i]);
      segs->push_back({std::move(*chunk), data, static_cast<size_t>(take), nullptr});
    }
    pos += take;
  }
  // A reader that continues where it stopped gets the next chunks fetched ahead.
  bool sequential;
  {
    std::lock_guard<std::mutex> lock(h->mu);
    sequential = offset == h->next_offset;
    h->next_offset = end;
  }
  uint32_t ahead;
  {
    std::lock_guard<std::mutex> lock(config_mu_);
    ahead = config_.mount.readahead_chunks;
  }
  if (sequential && ahead > 0) {
    size_t last = std::upper_bound(h->starts.begin(), h->starts.end(), end - 1) - h->starts.begin() - 1;
    for (size_t j = last + 1, got = 0; j < c.parts.size() && got < ahead; ++j) {
      if (c.parts[j].is_hole()) continue;
      chunks_->Prefetch(c.parts[j].chunk);
      ++got;
    }
  }
  return Status::OK();
}

Result<uint64_t> View::SeekData(uint64_t handle, uint64_t offset, int whence) {
  KEEPFS_ASSIGN_OR_RETURN(std::shared_ptr<FileHandle> h, FindFile(handle));
  const snapshot::Content& c = h->content;
  Status nxio(StatusCode::kInvalidArgument, "past the end", ENXIO);
  if (offset >= c.size) return nxio;
  if (whence != SEEK_DATA && whence != SEEK_HOLE) {
    return Status(StatusCode::kInvalidArgument, "whence", EINVAL);
  }
  if (c.is_inline) return whence == SEEK_DATA ? offset : c.size;
  size_t i = std::upper_bound(h->starts.begin(), h->starts.end(), offset) - h->starts.begin() - 1;
  for (; i < c.parts.size(); ++i) {
    bool hole = c.parts[i].is_hole();
    if (hole == (whence == SEEK_HOLE)) return std::max(offset, h->starts[i]);
  }
  // No data after offset: ENXIO. No hole: the implicit one at the end.
  if (whence == SEEK_DATA) return nxio;
  return c.size;
}

bool View::IsGenerated(uint64_t handle) {
  auto h = FindFile(handle);
  return h.ok() && (*h)->generated;
}

Result<std::string> View::GetXattr(const Caller& c, uint64_t ino, std::string_view name) {
  auto n = FindNode(ino);
  if (!n) return Status(StatusCode::kNotFound, "inode is not known", ESTALE);
  KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *n));
  if (name == kPinXattr && (n->kind == Node::kEntry || n->kind == Node::kSnapRoot)) {
    return PinXattrValue(*n);
  }
  if (n->kind == Node::kEntry || n->kind == Node::kSnapRoot || n->shows_entry) {
    for (const auto& x : n->entry.xattrs) {
      if (x.name == name) return x.value;
    }
  }
  return Status(StatusCode::kNotFound, "no such attribute", ENODATA);
}

Result<std::vector<std::string>> View::ListXattr(const Caller& c, uint64_t ino) {
  auto n = FindNode(ino);
  if (!n) return Status(StatusCode::kNotFound, "inode is not known", ESTALE);
  KEEPFS_RETURN_IF_ERROR(CheckAccess(c, *n));
  std::vector<std::string> names;
  if (n->kind == Node::kEntry || n->kind == Node::kSnapRoot || n->shows_entry) {
    for (const auto& x : n->entry.xattrs) names.push_back(x.name);
  }
  return names;
}

Result<StatFsOut> View::StatFs() {
  std::lock_guard<std::mutex> lock(statfs_mu_);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (statfs_at_ != 0 && now - statfs_at_ < kStatFsRefreshSec) return statfs_;
  uint64_t pack_bytes = 0, snapshots = 0;
  {
    auto it = store_->kv().NewIterator("p");
    for (; it->Valid(); it->Next()) {
      auto info = ChunkStore::DecodePackInfo(it->value());
      if (info.ok()) pack_bytes += info->size;
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
    auto sit = store_->kv().NewIterator(snapshot::kSnapshotPrefix);
    for (; sit->Valid(); sit->Next()) ++snapshots;
    KEEPFS_RETURN_IF_ERROR(sit->status());
  }
  // A backend that cannot tell (PackStore::FreeBytes) shows no free space.
  auto free_bytes = store_->packs().FreeBytes();
  if (!free_bytes.ok() && free_bytes.status().code() != StatusCode::kNotSupported) {
    return free_bytes.status();
  }
  const uint64_t avail = free_bytes.ok() ? *free_bytes : 0;
  StatFsOut out;
  out.blocks = (pack_bytes + avail + out.block_size - 1) / out.block_size;
  out.bavail = avail / out.block_size;
  out.bfree = out.bavail;  // df: used = the store's packs, available = the disk's
  out.files = snapshots;
  statfs_ = out;
  statfs_at_ = now;
  return out;
}

}  // namespace keepfs::fs
