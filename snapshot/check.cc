#include "snapshot/check.h"

#include <sys/stat.h>

#include <map>
#include <unordered_set>

#include "store/pack.h"

namespace keepfs::snapshot {

namespace {

class Checker {
 public:
  Checker(const Repo& repo, const CheckOptions& options,
          const std::function<void(const CheckProblem&)>& on_problem)
      : repo_(repo), options_(options), on_problem_(on_problem) {}

  Status Run() {
    KEEPFS_RETURN_IF_ERROR(CheckPacks());
    KEEPFS_RETURN_IF_ERROR(CheckChunkIndex());
    return CheckSnapshots();
  }
  CheckSummary summary;

 private:
  void Problem(CheckProblem p) {
    ++summary.problems;
    p.user = user_;
    p.snapshot = snapshot_;
    on_problem_(p);
  }

  Status CheckPacks() {
    Store& store = repo_.store();
    auto it = store.kv().NewIterator("p");
    for (; it->Valid(); it->Next()) {
      std::optional<uint64_t> pack_id = ChunkStore::PackIdFromKey(it->key());
      if (!pack_id) continue;
      uint64_t id = *pack_id;
      auto info = ChunkStore::DecodePackInfo(it->value());
      std::string name = "pack " + PackRelPath(id);
      if (!info.ok()) {
        Problem({name, "corrupt", info.status().message()});
        continue;
      }
      packs_[id] = info->size;
      // A condemned pack is being removed by the collector (or, after a
      // crash, by the next writable open): nothing points into it.
      if (info->condemned) continue;
      ++summary.packs;
      struct stat st;
      std::string path = store.dir() + "/" + PackRelPath(id);
      if (::stat(path.c_str(), &st) != 0) {
        Problem({name, "missing", "the pack file is gone"});
      } else if (static_cast<uint64_t>(st.st_size) != info->size) {
        Problem({name, "corrupt", "size " + std::to_string(st.st_size) + " but index says " +
                                      std::to_string(info->size)});
      }
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
    for (uint64_t id : ListPackFiles(store.dir())) {
      if (!packs_.count(id)) {
        Problem({"pack " + PackRelPath(id), "unknown", "a pack file the index does not know"});
      }
    }
    return Status::OK();
  }

  Status CheckChunkIndex() {
    Store& store = repo_.store();
    auto it = store.kv().NewIterator("c");
    std::string buf;
    for (; it->Valid(); it->Next()) {
      ++summary.chunks;
      auto id = ObjectId::FromBytes(it->key().substr(1));
      std::string name = "chunk " + (id.ok() ? id->ShortHex() : std::string("?"));
      auto loc = ChunkStore::DecodeLoc(it->value());
      if (!id.ok() || !loc.ok()) {
        Problem({name, "corrupt", "the index entry does not decode"});
        continue;
      }
      auto pack = packs_.find(loc->pack_id);
      if (pack == packs_.end()) {
        Problem({name, "dangling", "points at pack " + PackRelPath(loc->pack_id) +
                                       " which the index does not know"});
        continue;
      }
      if (loc->offset + loc->stored_len + kPackFooterSize > pack->second) {
        Problem({name, "dangling", "points outside its pack"});
        continue;
      }
      if (options_.verify_data) {
        Status s = store.chunks().Read(*id, &buf, ChunkStore::Verify::kRehash);
        if (!s.ok()) Problem({name, "corrupt", s.message()});
        summary.bytes_verified += loc->raw_len;
      }
    }
    return it->status();
  }

  Status CheckSnapshots() {
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, repo_.ListUsers());
    for (const std::string& user : users) {
      KEEPFS_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps, repo_.ListSnapshots(user));
      for (const SnapshotRecord& s : snaps) {
        ++summary.snapshots;
        user_ = user;
        snapshot_ = s.name;
        WalkTree(s.root, "");
      }
    }
    user_.clear();
    snapshot_.clear();
    return Status::OK();
  }

  void WalkTree(const ObjectId& id, const std::string& path) {
    if (!trees_.insert(id).second) return;
    ++summary.trees;
    Status s = ForEachEntry(id, repo_.node_source(), [&](const Entry& e) -> Result<bool> {
      std::string child = path.empty() ? e.name : path + "/" + e.name;
      if (e.type == EntryType::kDir) WalkTree(e.ref, child);
      if (e.type == EntryType::kFile) CheckContent(e.ref, child);
      return true;
    });
    if (!s.ok()) {
      CheckProblem p{"tree " + id.ShortHex(), s.IsCorruption() ? "corrupt" : "missing",
                     s.message()};
      p.path = path;
      Problem(p);
    }
  }

  void CheckContent(const ObjectId& id, const std::string& path) {
    if (!contents_.insert(id).second) return;
    ++summary.contents;
    auto content = repo_.GetContent(id);
    if (!content.ok()) {
      CheckProblem p{"content " + id.ShortHex(), "corrupt", content.status().message()};
      p.path = path;
      Problem(p);
      return;
    }
    if (options_.verify_data) CheckAlias(id, *content, path);
    for (const ContentPart& part : content->parts) {
      if (part.is_hole()) continue;
      auto found = repo_.store().kv().Contains(ChunkStore::ChunkKey(part.chunk));
      if (!found.ok() || !*found) {
        CheckProblem p{"chunk " + part.chunk.ShortHex(), "missing",
                       "referenced by content " + id.ShortHex() + " but not in the index"};
        p.path = path;
        Problem(p);
      }
    }
  }

  // An alias's bytes (its target's) must hash to what the sharing pass
  // proved equal when it made the alias.
  void CheckAlias(const ObjectId& id, const Content& data, const std::string& path) {
    auto record = repo_.GetContentRecord(id);
    if (!record.ok() || !record->is_alias()) return;
    auto hash = repo_.HashFileData(data);
    if (hash.ok() && *hash == record->file_hash) return;
    CheckProblem p{"content " + id.ShortHex(), "corrupt",
                   hash.ok() ? "an alias whose target " + record->alias_of.ShortHex() +
                                   " holds other bytes than it recorded"
                             : hash.status().message()};
    p.path = path;
    Problem(p);
  }

  const Repo& repo_;
  const CheckOptions& options_;
  const std::function<void(const CheckProblem&)>& on_problem_;
  std::map<uint64_t, uint64_t> packs_;  // id -> size
  std::unordered_set<ObjectId, ObjectIdHash> trees_, contents_;
  std::string user_, snapshot_;
};

}  // namespace

Result<CheckSummary> CheckStore(const Repo& repo, const CheckOptions& options,
                                const std::function<void(const CheckProblem&)>& on_problem) {
  Checker c(repo, options, on_problem);
  KEEPFS_RETURN_IF_ERROR(c.Run());
  return c.summary;
}

}  // namespace keepfs::snapshot
