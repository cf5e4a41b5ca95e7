// PackStore: where sealed packs live (docs/format.md, "Pack backends").
//
// A pack is written once, through a PackUpload, and becomes visible whole at
// Seal or not at all: an error or a crash before Seal returns leaves nothing
// under its id that List() or Size() shows, only leftovers for
// RemoveUnsealed(). After Seal returns OK the pack is durable, so metadata may
// point into it (data before metadata: docs/commit.md). Sealed packs never
// change; Remove deletes one durably.
//
// Implementations: the store directory's packs/ (LocalPackStore, the embedded
// default) and a Ceph RADOS pool (RadosPackStore).
//
// Thread safety: every PackStore method may be called from many threads at
// once. One PackUpload is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace keepfs {

class PackUpload {
 public:
  virtual ~PackUpload() = default;  // an unsealed upload is discarded
  // Appends bytes at the end of the pack.
  virtual Status Append(std::string_view bytes) = 0;
  // Makes the pack durable and visible under its id, atomically. After an
  // error the upload is dead and nothing is visible under the id.
  virtual Status Seal() = 0;
};

class PackStore {
 public:
  virtual ~PackStore() = default;

  // How messages name the pack: "packs/2a/000000000000012a.pack" for the
  // local store, "rados:POOL/NAMESPACE/pack.000000000000012a" for RADOS.
  virtual std::string Describe(uint64_t pack_id) const = 0;
  // A local directory holding pack files that may be hard-linked by
  // store-backup ("" for a backend without one).
  virtual std::string LocalPath(uint64_t pack_id) const = 0;

  // Begins a new pack. AlreadyExists if a sealed pack has that id.
  virtual Result<std::unique_ptr<PackUpload>> Create(uint64_t pack_id) = 0;
  // Fills buf with len bytes at offset. Corruption when the pack is missing
  // or shorter than offset + len (its bytes are gone: check and repair deal
  // with it); IOError and friends when the backend fails.
  virtual Status Read(uint64_t pack_id, uint64_t offset, size_t len, char* buf) const = 0;
  // The sealed pack's size in bytes; nullopt when there is no such pack.
  virtual Result<std::optional<uint64_t>> Size(uint64_t pack_id) const = 0;
  // Ids of every sealed pack, in no particular order.
  virtual Result<std::vector<uint64_t>> List() const = 0;
  // Removes a sealed pack durably; OK when it is already gone. Reads that
  // are running may still finish (local: an open descriptor keeps the
  // bytes), later ones fail.
  virtual Status Remove(uint64_t pack_id) = 0;
  // Removes what uploads that never sealed left behind (a crash mid-write).
  // Only a writer that owns the store may call it.
  virtual Status RemoveUnsealed() = 0;
  // Bytes new packs may still take: the free space of the local file
  // system, or what the RADOS cluster reports available (raw, before
  // replication). For gc's free-space guard and the mount's statfs.
  // NotSupported when the backend cannot tell (a Ceph cluster without
  // ceph-mgr reports no capacity): gc then does not hold back, and the
  // mount shows no free space.
  virtual Result<uint64_t> FreeBytes() const = 0;
};

// The embedded default: STORE/packs/XX/ID.pack, written as STORE/tmp/ID.pack.tmp
// and renamed into place after an fsync; the directories are fsynced too.
std::unique_ptr<PackStore> NewLocalPackStore(const std::string& store_dir);

}  // namespace keepfs
