// Repo: read access to the snapshot layer's objects in a Store: snapshots,
// trees, contents and file data. Every missing or malformed object is a
// Corruption status naming what was being read, never a crash or wrong data.
//
// Thread safety: all const methods may be called from many threads.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "snapshot/content.h"
#include "snapshot/snapshot_record.h"
#include "snapshot/tree.h"
#include "store/store.h"

namespace keepfs::snapshot {

class Repo {
 public:
  explicit Repo(Store* store) : store_(store) {}  // store must outlive the Repo
  Store& store() const { return *store_; }

  Result<TreeNode> GetTreeNode(const ObjectId& id) const;
  // A file's data: the content record, or for an alias the content it points
  // at (Corruption if that is missing, an alias itself, or of another size).
  Result<Content> GetContent(const ObjectId& id) const;
  // GetContent for a reader that reads the chunks later: under the guard the
  // content is present, so its chunks are, and they go into a new reader
  // hold (*hold, null for an inline content) that keeps the garbage
  // collector off them until it is dropped, whatever prune, gc or the
  // sharing pass do meanwhile.
  Result<Content> GetContentHeld(const ObjectId& id,
                                 std::unique_ptr<ObjectGuard::Hold>* hold) const;
  // The record itself, alias or not; a non-alias is checked against its id.
  Result<Content> GetContentRecord(const ObjectId& id) const;
  NodeSource node_source() const;

  // Users that have at least one snapshot or a user record, sorted.
  Result<std::vector<std::string>> ListUsers() const;
  // Snapshots of user, oldest first (empty for an unknown user).
  Result<std::vector<SnapshotRecord>> ListSnapshots(std::string_view user) const;
  // Like ListSnapshots, but an invalid or unknown user is an error with
  // advice (the users the store has).
  Result<std::vector<SnapshotRecord>> ListUserSnapshots(std::string_view user) const;
  // OK for a valid name that ListUsers has (a user may have no snapshots
  // left); else the error ListUserSnapshots gives.
  Status RequireKnownUser(std::string_view user) const;
  // Finds "latest" or a snapshot name with one point lookup, or for "latest"
  // a seek to the user's last key and a scan of that one second's keys: only
  // the record returned is decoded. NotFound with advice for an
  // unknown user or snapshot; InvalidArgument for a malformed name.
  Result<SnapshotRecord> FindSnapshot(std::string_view user, std::string_view name) const;
  // The name of user's newest snapshot by (time, seq), from keys alone (as
  // FindSnapshot: one seek, whatever the number of snapshots); nullopt when
  // the user has none.
  Result<std::optional<std::string>> NewestSnapshotName(std::string_view user) const;
  // The _N suffix the next snapshot of user at time_sec gets: 0 when that
  // second is free, else one more than the highest taken.
  Result<uint32_t> NextSeq(std::string_view user, int64_t time_sec) const;

  // A folder's entries, in name order (as stored).
  Result<std::vector<Entry>> ListFolder(const ObjectId& tree) const;

  // Resolves a relative path ("", "docs", "docs/report.odt"; leading and
  // repeated slashes ignored) to its entry. The root is a synthesized dir
  // entry named "". NotFound names the missing component.
  //
  // With memo, each (folder tree, name) answer is kept in it and reused:
  // trees are content-addressed, so an answer stays exact, and resolving one
  // path in 1,000 snapshots (a file's history) reads the folders they share
  // once instead of 1,000 times. A memo grows with the distinct folders
  // walked; keep one for one such pass (FileHistory), not longer.
  struct LookupMemo {
    std::unordered_map<std::string, std::optional<Entry>> answers;  // tree id bytes + name
  };
  Result<Entry> ResolvePath(const SnapshotRecord& snap, std::string_view path,
                            LookupMemo* memo = nullptr) const;

  // Streams every byte of a file in order, holes as runs of zeros (a call
  // per stored part or per 64 KiB of hole).
  Status ReadBytes(const Content& content,
                   const std::function<Status(std::string_view bytes)>& sink) const;
  // SHA-256 of a file's bytes, holes read as zeros (what an alias records).
  Result<ObjectId> HashFileData(const Content& content) const;

  // Streams a file's data in order: sink(offset, bytes) for every non-hole
  // part. Corruption if a chunk is missing or damaged.
  Status ReadContent(const Content& content,
                     const std::function<Status(uint64_t offset, std::string_view data)>& sink) const;

 private:
  // Among snapshot keys starting with prefix (a user's, or a user's at one
  // second), the newest name by (time, seq); nullopt when there is none.
  Result<std::optional<std::string>> NewestName(std::string_view user,
                                                const std::string& prefix) const;
  Result<SnapshotRecord> LoadSnapshot(std::string_view user, std::string_view name,
                                      std::string_view value) const;
  Status UnknownUser(std::string_view user) const;
  // LookupInTree, through memo when there is one.
  Result<std::optional<Entry>> Lookup(const ObjectId& tree, std::string_view name,
                                      LookupMemo* memo) const;

  Store* store_;
};

}  // namespace keepfs::snapshot
