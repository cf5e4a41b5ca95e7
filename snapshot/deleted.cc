#include "snapshot/deleted.h"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "snapshot/catalog.h"
#include "store/text.h"

namespace keepfs::snapshot {

namespace {

const Entry* FindByName(const std::vector<Entry>& sorted, std::string_view name) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), name,
                             [](const Entry& e, std::string_view n) { return e.name < n; });
  return it != sorted.end() && it->name == name ? &*it : nullptr;
}

// Files and bytes below a deleted folder (the whole of it, once).
Status AddTotals(const Repo& repo, const ObjectId& tree, DeletedEntry* d) {
  return ForEachEntry(tree, repo.node_source(), [&](const Entry& e) -> Result<bool> {
    if (e.type == EntryType::kDir) {
      KEEPFS_RETURN_IF_ERROR(AddTotals(repo, e.ref, d));
    } else {
      ++d->files;
      if (e.type == EntryType::kFile) d->bytes += e.size;
    }
    return true;
  });
}

// Compares the folder `old_tree` of one snapshot with the same folder of the
// newest (`new_tree`, nullopt when the newest has no folder there) and
// records every path the old one has that the newest lacks, unless a newer
// snapshot recorded it already.
class Comparer {
 public:
  Comparer(const Repo& repo, std::vector<DeletedEntry>* out) : repo_(repo), out_(out) {}

  Status Compare(const SnapshotRecord& snap, const ObjectId& old_tree,
                 const std::optional<ObjectId>& new_tree, const std::string& prefix) {
    if (new_tree && *new_tree == old_tree) return Status::OK();  // the same folder
    std::vector<Entry> newest;
    if (new_tree) {
      KEEPFS_ASSIGN_OR_RETURN(newest, repo_.ListFolder(*new_tree));
    }
    return ForEachEntry(old_tree, repo_.node_source(), [&](const Entry& e) -> Result<bool> {
      std::string path = prefix.empty() ? e.name : prefix + "/" + e.name;
      const Entry* now = FindByName(newest, e.name);
      if (!now) {
        KEEPFS_RETURN_IF_ERROR(Record(snap, e, std::move(path)));
      } else if (e.type == EntryType::kDir) {
        // Still there: whatever changed inside may hide deletions. A folder
        // that became a file leaves everything that was in it deleted.
        std::optional<ObjectId> below;
        if (now->type == EntryType::kDir) below = now->ref;
        KEEPFS_RETURN_IF_ERROR(Compare(snap, e.ref, below, path));
      }
      return true;
    });
  }

 private:
  Status Record(const SnapshotRecord& snap, const Entry& e, std::string path) {
    if (!seen_.insert(path).second) return Status::OK();  // a newer snapshot had it
    DeletedEntry d;
    d.path = std::move(path);
    d.snapshot = snap.name;
    d.last_seen = snap.time_sec;
    d.entry = e;
    if (e.type == EntryType::kDir) {
      KEEPFS_RETURN_IF_ERROR(AddTotals(repo_, e.ref, &d));
    } else {
      d.files = 1;
      if (e.type == EntryType::kFile) d.bytes = e.size;
    }
    out_->push_back(std::move(d));
    return Status::OK();
  }

  const Repo& repo_;
  std::vector<DeletedEntry>* out_;
  std::unordered_set<std::string> seen_;
};

}  // namespace

Result<DeletedList> DeletedSince(const Repo& repo, std::string_view user, int64_t since_sec) {
  KEEPFS_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps, repo.ListUserSnapshots(user));
  DeletedList list;
  if (snaps.empty()) return list;
  const SnapshotRecord& newest = snaps.back();  // ListUserSnapshots: oldest first
  list.latest = newest.name;
  Comparer cmp(repo, &list.entries);
  // Newest first, so that each path is recorded with its last version.
  for (auto it = snaps.rbegin() + 1; it != snaps.rend(); ++it) {
    if (it->time_sec < since_sec) break;
    Status s = cmp.Compare(*it, it->root, newest.root, "");
    if (!s.ok()) return s.WithContext(std::string(user) + "/" + it->name);
  }
  std::sort(list.entries.begin(), list.entries.end(),
            [](const DeletedEntry& a, const DeletedEntry& b) { return a.path < b.path; });
  return list;
}

std::string DeletedReport(std::string_view user, const DeletedList& list, int64_t since_sec,
                          bool index) {
  const std::string who(user);
  if (list.latest.empty()) return who + " has no snapshots.\n";
  std::string out = std::string(index ? "# " : "") + "Deleted from " + who +
                    "'s files: held by a snapshot since " + FormatUtcTime(since_sec) +
                    " UTC, not by the newest, " + list.latest + ".\n";
  if (index) {
    out += "# Each is in this folder at its path, as last seen; copy it back with cp -a.\n"
           "# path\tsize\tlast seen in\n";
  }
  const char* sep = index ? "\t" : "  ";
  for (const DeletedEntry& d : list.entries) {
    const bool dir = d.entry.type == EntryType::kDir;
    out += d.path + (dir ? "/" : "") + sep + HumanBytes(d.bytes);
    if (dir) out += " in " + std::to_string(d.files) + (d.files == 1 ? " file" : " files");
    out += std::string(sep) + (index ? "" : "last seen ") + d.snapshot + "\n";
  }
  if (!index && list.entries.empty()) out += "Nothing.\n";
  return out;
}

}  // namespace keepfs::snapshot
