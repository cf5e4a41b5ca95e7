#include "gc/stats.h"

namespace keepfs::gc {

Result<StoreStats> ComputeStoreStats(const snapshot::Repo& repo) {
  StoreStats s;
  KvStore& kv = repo.store().kv();
  auto count = [&](const char* prefix, auto&& fn) -> Status {
    auto it = kv.NewIterator(prefix);
    for (; it->Valid(); it->Next()) KEEPFS_RETURN_IF_ERROR(fn(it->value()));
    return it->status();
  };
  KEEPFS_RETURN_IF_ERROR(count("p", [&](std::string_view v) -> Status {
    KEEPFS_ASSIGN_OR_RETURN(PackInfo p, ChunkStore::DecodePackInfo(v));
    ++s.packs;
    s.pack_bytes += p.size;
    return Status::OK();
  }));
  KEEPFS_RETURN_IF_ERROR(count("c", [&](std::string_view v) -> Status {
    KEEPFS_ASSIGN_OR_RETURN(ChunkLoc loc, ChunkStore::DecodeLoc(v));
    ++s.chunks;
    s.chunk_raw_bytes += loc.raw_len;
    s.chunk_stored_bytes += loc.stored_len;
    return Status::OK();
  }));
  KEEPFS_RETURN_IF_ERROR(count("o", [&](std::string_view) {
    ++s.contents;
    return Status::OK();
  }));
  KEEPFS_RETURN_IF_ERROR(count("t", [&](std::string_view) {
    ++s.trees;
    return Status::OK();
  }));
  KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, repo.ListUsers());
  s.users = users.size();
  for (const auto& u : users) {
    KEEPFS_ASSIGN_OR_RETURN(auto snaps, repo.ListSnapshots(u));
    s.snapshots += snaps.size();
    for (const auto& snap : snaps) s.logical_bytes += snap.stats.bytes_logical;
  }
  return s;
}

}  // namespace keepfs::gc
