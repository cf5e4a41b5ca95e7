// ObjectGuard: keeps the garbage collector away from objects that work in
// flight relies on but that no reference count covers yet (docs/gc.md,
// "In-flight safety").
//
// A backup reuses what it finds present (a chunk, a content, a tree) and
// only references it at commit; a mount reader needs the chunks of an open
// file after its snapshot may have been pruned. Both take a Hold and add the
// objects they rely on. The rule that makes this exact rather than timed:
//
//   "present, so I will use it"   check and Hold::Add under Shared()
//   "dead, so I will delete it"   IsHeld, the delete batch written, under Exclusive()
//
// so a lookup that said "present" has always added its hold before the
// collector looks at holds, and a lookup after a delete sees it absent (and
// stores the object again). Whoever adds must also add everything below the
// object that it will rely on (a reused content's chunks): holds are not
// followed down the DAG.
//
// A backup's hold is a Bloom filter of fixed size (kBackupBits): it never
// forgets an object, and a false positive only makes the collector keep a
// dead object until a later run. A reader's hold is an exact set.
//
// Thread safety: everything may be called from many threads. Hold::Add must
// be called with Shared() held; IsHeld with Exclusive() held.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>
#include <vector>

#include "store/object_id.h"

namespace keepfs {

class ObjectGuard {
 public:
  static constexpr size_t kBackupBits = size_t{1} << 25;  // 4 MiB per running backup

  class Hold {
   public:
    ~Hold();  // unregisters: from here on the objects are the collector's again
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    void Add(char kind, const ObjectId& id);
    bool MayHold(char kind, const ObjectId& id) const;

   private:
    friend class ObjectGuard;
    Hold(ObjectGuard* guard, bool exact);
    ObjectGuard* guard_;
    bool exact_;
    std::vector<std::atomic<uint64_t>> bits_;  // the Bloom filter (backups)
    mutable std::mutex mu_;
    std::unordered_set<uint64_t> keys_;  // GUARDED_BY(mu_): the exact set (readers)
  };

  ObjectGuard() = default;
  ObjectGuard(const ObjectGuard&) = delete;
  ObjectGuard& operator=(const ObjectGuard&) = delete;

  // For a backup (Bloom filter) or a reader (exact, for few objects).
  std::unique_ptr<Hold> NewBackupHold();
  std::unique_ptr<Hold> NewReaderHold();

  std::shared_lock<std::shared_mutex> Shared() { return std::shared_lock(gate_); }
  std::unique_lock<std::shared_mutex> Exclusive() { return std::unique_lock(gate_); }

  // True if any registered hold may hold the object. Call under Exclusive().
  bool IsHeld(char kind, const ObjectId& id) const;
  size_t hold_count() const;

  // Counts delete batches; bumped by the collector under Exclusive() after
  // each. A backup that read deletions() at its start under Shared() and
  // reads the same value later knows that nothing was deleted in between.
  uint64_t deletions() const { return deletions_.load(std::memory_order_acquire); }
  void NoteDeletions() { deletions_.fetch_add(1, std::memory_order_acq_rel); }

  // Tests: called by whoever adds to a hold, under Shared(), right after the
  // add (a forced interleaving of lookup and delete). Null: none.
  void SetAddHookForTest(std::function<void(char kind, const ObjectId& id)> fn);
  void RunAddHook(char kind, const ObjectId& id) const;

 private:
  void Unregister(const Hold* h);

  std::shared_mutex gate_;
  mutable std::mutex holds_mu_;
  std::vector<const Hold*> holds_;  // GUARDED_BY(holds_mu_)
  std::atomic<uint64_t> deletions_{0};
  std::function<void(char, const ObjectId&)> add_hook_;  // set only while no backup runs
};

}  // namespace keepfs
