// Accounting: per-user reference counts over the DAG snapshot -> tree ->
// content -> chunk, and per-user usage, kept exact and transactional: a
// commit's increments go in the same synced WriteBatch as its snapshot record
// (docs/accounting.md has the rule and a worked example; docs/format.md the
// keys).
//
//   r USER 0x00 KIND ID   varint: references to the object from USER's DAG
//                         (KIND 't' tree node, 'o' content, 'c' chunk). A
//                         snapshot's root counts one; a tree node counts one
//                         per child node and entry; a content one per chunk
//                         part (an alias, one to its target content). An object is expanded (its children counted)
//                         only when its count goes 0 -> 1, so an unchanged
//                         subtree costs one increment.
//   h KIND ID             the users whose DAG holds this object (any kind):
//                         varint n, n x lp user, in the order they came.
//                         One point lookup answers "does anyone reference
//                         it?" for the garbage collector, and "by how many
//                         is it shared?" for a charged object (a chunk, or a
//                         content with inline data).
//   Q KIND ID             empty: the object left some user's DAG in this
//                         batch, so it may be referenced by nothing now; the
//                         garbage collector's candidate queue (gc/collector.h).
//   a USER                the user's held stored bytes by holder count:
//                         varint k, k x { varint holders, varint bytes }.
//                         holders = 1 is the user's exclusive data.
//
// charged(USER) = sum over held objects of stored / holders: exclusive bytes
// plus each shared object's share, so shared data is never charged twice.
//
// Thread safety: AddSnapshotRefs must run under the store's commit lock
// (Store::commit_mu) from computing the records until they are written.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "snapshot/tree.h"
#include "store/object_id.h"
#include "store/kv_store.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::snapshot {

// The user's held bytes by holder count (the `a` record).
struct UserHoldings {
  std::map<uint64_t, uint64_t> bytes_by_holders;

  uint64_t exclusive() const;
  uint64_t shared() const;   // held bytes that other users hold too
  uint64_t charged() const;  // exclusive + sum of shared / holders (rounded down)
};

// Keys (docs/format.md). kind_and_id: the kind byte followed by the 32 id
// bytes, as the suffix of every per-object key.
std::string RefKey(std::string_view user, char kind, const ObjectId& id);
std::string RefPrefix(std::string_view user);  // "r" USER 0x00: all of one user's counts
std::string HolderKey(char kind, const ObjectId& id);
std::string HolderKey(std::string_view kind_and_id);
std::string CandidateKey(std::string_view kind_and_id);  // "Q" KIND ID
std::string EncodeHolders(const std::vector<std::string>& users);
Result<std::vector<std::string>> DecodeHolders(std::string_view bytes);
std::string AccountKey(std::string_view user);
std::string EncodeHoldings(const UserHoldings& h);
Result<UserHoldings> DecodeHoldings(std::string_view bytes);

Result<UserHoldings> LoadHoldings(Store* store, std::string_view user);

// One object of the DAG as accounting sees it: the objects it references
// (a tree node's child nodes, folders and files; a chunked content's
// chunks; an alias's target content), and for a charged object (a chunk, an inline content) its stored
// bytes. Other walks of the DAG (pinned bytes) use it too, so that they
// follow exactly the edges the counts do.
struct ObjectLinks {
  std::vector<std::pair<char, ObjectId>> children;
  std::optional<uint64_t> charged;
  void Clear() {
    children.clear();
    charged.reset();
  }
};
void AppendNodeLinks(const TreeNode& node, ObjectLinks* out);
// Reads the object (kind 't', 'o' or 'c') from the store into *out (cleared
// first). Corruption if it is missing or damaged. An inline content's data
// is not decompressed: only its record's size is needed.
Status ReadObjectLinks(Store* store, char kind, const ObjectId& id, ObjectLinks* out);

// Objects a backup stored itself because it found them absent: until its
// commit nobody references or holds them (writers are serialized), and what
// accounting needs of them is known here, so the commit's walk reads none of
// their records back. A large backup stops recording past kMaxContents and
// chunks, and the walk reads those back as usual (memory stays bounded).
//
// Thread safety: Add* from many threads; lookups after the adds are done.
class NewObjects {
 public:
  static constexpr size_t kMaxContents = 1 << 20;  // ~64 MiB of entries at most
  static constexpr size_t kMaxChunks = 1 << 20;
  static constexpr size_t kMaxTrees = 1 << 20;

  void AddChunk(const ObjectId& id, uint64_t stored_bytes);
  // record_size: the stored content record's size (what an inline content is
  // charged); chunks: its non-hole chunks in order (empty when inline).
  void AddContent(const ObjectId& id, bool is_inline, uint64_t record_size,
                  const std::vector<ObjectId>& chunks);
  // A tree node the backup wrote (its links are read back from the store).
  void AddTree(const ObjectId& id);

  bool Has(char kind, const ObjectId& id) const;
  // Every object recorded, as (kind, id).
  void ForEach(const std::function<void(char kind, const ObjectId& id)>& fn) const;
  // The links of a new content or chunk into *out (cleared first); false
  // when it is not one of them.
  bool Links(char kind, const ObjectId& id, ObjectLinks* out) const;

 private:
  struct Entry {
    bool is_inline;
    uint64_t record_size;
    uint32_t first_chunk, chunk_count;  // a range of chunk_lists_
  };
  mutable std::mutex mu_;
  std::unordered_map<ObjectId, uint64_t, ObjectIdHash> chunks_;  // GUARDED_BY(mu_)
  std::unordered_map<ObjectId, Entry, ObjectIdHash> contents_;   // GUARDED_BY(mu_)
  std::vector<ObjectId> chunk_lists_;                            // GUARDED_BY(mu_)
  std::unordered_set<ObjectId, ObjectIdHash> trees_;             // GUARDED_BY(mu_)
};

// Reference count changes of one user over what the store holds. Counts,
// holder lists and accounts are read once, then kept and changed here, so
// several snapshots can be added or removed in turn (a prune plan asks what
// each next one would free). Nothing is written until AddTo's batch is.
class RefChanges {
 public:
  RefChanges(Store* store, std::string_view user);
  ~RefChanges();
  RefChanges(const RefChanges&) = delete;
  RefChanges& operator=(const RefChanges&) = delete;

  // One more (or one fewer) reference from a snapshot of the user to root;
  // objects entering (leaving) the user's DAG take their children with them.
  // RemoveRoot is Corruption if a count would go negative. After an error
  // the object must not be used.
  Status AddRoot(const ObjectId& root) { return Walk(kTreeKind, root, +1); }
  Status RemoveRoot(const ObjectId& root) { return Walk(kTreeKind, root, -1); }
  // The same for a pin: a root that is a tree ('t') or a content ('o').
  Status AddObject(char kind, const ObjectId& id) { return Walk(kind, id, +1); }
  Status RemoveObject(char kind, const ObjectId& id) { return Walk(kind, id, -1); }

  // From here on the changes are user's (the sharing pass changes every
  // holder of an object in one batch). Counts, holders and accounts read so
  // far are kept, so the records stay consistent across users.
  Status SwitchUser(std::string_view user);

  // Tree nodes not written yet (a husk being planned): the walk reads them
  // from here instead of the store.
  void AddPendingNode(const ObjectId& id, std::string encoded);
  // Objects the caller's backup stored (not owned; must outlive this): their
  // links need no read. no_holders_yet: nothing committed since the backup
  // stored them could hold them, so their counts and holder lists need no
  // read either. Untrue once another backup has committed meanwhile: it may
  // have stored (and now holds) the same content, tree or chunk.
  void SetNewObjects(const NewObjects* fresh, bool no_holders_yet = true) {
    new_objects_ = fresh;
    trust_new_ = no_holders_yet;
  }

  // Whether the user's DAG holds the object, with the changes so far (only
  // for objects the changes touched; false for any other).
  bool Touched(char kind, const ObjectId& id) const;

  // Objects whose count, holders or account changed so far (the records
  // AddTo would write, about).
  size_t touched() const { return counts_.size() + holders_.size(); }

  // Stored bytes that no user holds any more after the removals so far:
  // what deleting them frees once the garbage collector has run.
  uint64_t freed() const { return freed_; }
  // The user's (or another user's) account with the changes so far.
  Result<UserHoldings> Holdings(const std::string& user);

  // Puts (and deletes, for counts and holder lists that reached zero).
  void AddTo(WriteBatch* batch) const;
  // The same as records to put; only for changes that delete nothing (adds).
  std::vector<std::pair<std::string, std::string>> Puts() const;

 private:
  Status Init();
  // Every changed record: its new value, or null when it is to be deleted.
  void ForEachRecord(
      const std::function<void(const std::string& key, const std::string* value)>& fn) const;
  static constexpr char kTreeKind = 't';
  Status Walk(char kind, const ObjectId& root, int step);
  Status Step(char kind, const ObjectId& id, int step);
  // Into links_: from the pending nodes, the new objects or the store.
  Status Links(char kind, const ObjectId& id);
  Result<std::vector<std::string>*> Holders(char kind, const ObjectId& id);
  // charged: the object's stored bytes when it is charged (a chunk or an
  // inline content), nullopt for trees and chunked contents.
  Status Hold(char kind, const ObjectId& id, std::optional<uint64_t> charged);
  Status Release(char kind, const ObjectId& id, std::optional<uint64_t> charged);
  static Status Move(UserHoldings* h, uint64_t from, uint64_t to, uint64_t bytes,
                     const ObjectId& id);
  Result<UserHoldings*> Account(const std::string& user);

  Store* store_;
  std::string user_;
  std::vector<std::pair<char, ObjectId>> stack_;
  ObjectLinks links_;  // of the object Step expands; reused
  std::unordered_map<std::string, uint64_t> counts_;                   // RefKey -> count
  std::unordered_map<std::string, std::vector<std::string>> holders_;  // HolderKey -> users
  std::map<std::string, UserHoldings> accounts_;
  std::unordered_map<ObjectId, std::string, ObjectIdHash> pending_nodes_;
  const NewObjects* new_objects_ = nullptr;
  bool trust_new_ = true;  // new_objects_ have no counts or holders yet
  uint64_t freed_ = 0;
  bool initialized_ = false;
  bool fresh_user_ = false;  // never committed: every count starts at 0
};

// The records that add one reference from user to the snapshot root tree
// (and, for every object that becomes referenced by user, to its children),
// with the holder and account records that change. Reads the store; writes
// nothing. Corruption if an object of the DAG is missing or damaged. fresh:
// what the backup being committed stored itself (RefChanges::SetNewObjects);
// those the snapshot does not reach (a file read again because it changed
// meanwhile, a recipe that turned out to be a unified alias's) are queued
// for the garbage collector with the same records. others_committed: another
// snapshot committed after the backup began (SetNewObjects).
Result<std::vector<std::pair<std::string, std::string>>> AddSnapshotRefs(
    Store* store, std::string_view user, const ObjectId& root,
    const NewObjects* fresh = nullptr, bool others_committed = false);

}  // namespace keepfs::snapshot
