// The store's own backup: a consistent copy of a live store in a directory,
// made while backups, mounts and gc run, incremental, and verifiable on its
// own through a manifest of SHA-256 hashes (docs/integrity.md, "Store
// backup").
//
// DEST layout:
//   STARTED            the store id, while a first run has no MANIFEST yet
//   MANIFEST           the commit point: written (atomically) last; names
//                      everything below that belongs to this copy
//   config.N.toml      the store's config.toml
//   meta.N/            a RocksDB checkpoint of the store's metadata
//   packs/XX/ID.pack   the packs that metadata indexes (the store's layout)
//   tmp/               copies in progress
// N is the copy's generation, one more each run. Until the new MANIFEST is
// in place the previous one, and everything it names, is untouched: a run
// only adds files. After it, what the new manifest does not name (the old
// generation, packs gc retired since) is removed.
//
// Consistency with gc: the metadata checkpoint and hard links of the packs
// it indexes (into STORE/tmp/) are made together while no pack file can be
// removed (ChunkStore::retire_mu, held for milliseconds), so gc cannot retire
// a pack between the two; the copying happens afterwards from those links,
// while gc runs.
//
// Thread safety: one run per store at a time (the lock above is held only
// briefly); DEST must not be written by anything else.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "store/status.h"
#include "store/store.h"

namespace keepfs {

struct StoreBackupOptions {
  std::string dest;
  // Called now and then: "packs" (done, total) and "metadata".
  std::function<void(const std::string& phase, uint64_t done, uint64_t total)> progress;
};

struct StoreBackupResult {
  uint64_t generation = 0;
  uint64_t packs = 0;          // packs in the copy
  uint64_t packs_copied = 0;   // new since the previous copy (copied or hard-linked)
  uint64_t packs_linked = 0;   // of those, hard-linked (DEST on the store's filesystem)
  uint64_t packs_removed = 0;  // retired by gc since the previous copy, removed from DEST
  uint64_t bytes_copied = 0;   // pack and metadata bytes written to DEST
  uint64_t meta_files = 0;
};

Result<StoreBackupResult> BackupStore(Store* store, const StoreBackupOptions& options);

struct StoreBackupVerifyResult {
  uint64_t files = 0, bytes = 0;
  std::vector<std::string> problems;  // "packs/..: missing" / ": size ..." / ": hash differs"
  bool ok() const { return problems.empty(); }
};
// Re-hashes every file the copy's MANIFEST names. Needs no store.
Result<StoreBackupVerifyResult> VerifyStoreBackup(const std::string& dest);

}  // namespace keepfs
