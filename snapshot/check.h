// Check: structural consistency of a store, optionally re-reading and
// re-hashing every chunk.
//
//  - every pack the index knows exists with its recorded size, and every pack
//    file on disk is known to the index;
//  - every chunk index entry points inside its pack;
//  - every snapshot's trees, contents and chunks exist and decode;
//  - with verify_data, every chunk decompresses and matches its hash.
//
// Problems are reported as they are found, with the user, snapshot and path
// they affect where known. This is the first cut of `keepfs check`; memory is
// bounded by the number of distinct trees and contents (visited sets).
//
// Thread safety: read-only over the store; may run beside readers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "snapshot/repo.h"

namespace keepfs::snapshot {

struct CheckOptions {
  bool verify_data = false;
};

struct CheckProblem {
  std::string object;  // "pack 12", "chunk 3fa2…", "tree …", "content …", "snapshot alice/…"
  std::string state;   // "missing", "corrupt", "dangling", "unknown"
  std::string message;
  std::string user, snapshot, path;  // what it affects, when known
};

struct CheckSummary {
  uint64_t snapshots = 0, trees = 0, contents = 0, chunks = 0, packs = 0;
  uint64_t bytes_verified = 0;
  uint64_t problems = 0;
};

Result<CheckSummary> CheckStore(const Repo& repo, const CheckOptions& options,
                                const std::function<void(const CheckProblem&)>& on_problem);

}  // namespace keepfs::snapshot
