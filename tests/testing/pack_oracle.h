// ExpectPacksExact: the pack records against the pack files and the chunk
// index, recomputed from scratch. Every record's file exists and every file
// has a record; no index entry points into a condemned pack or outside its
// pack's blobs; each pack's dead counters equal the blobs no index entry
// points at (the exactness the collector's repack decisions rely on).
// Returns the store's pack bytes on disk. For tests only.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>

#include "store/chunk_store.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

inline uint64_t ExpectPacksExact(Store* store) {
  auto packs = store->chunks().ListPacks();
  EXPECT_OK(packs);
  if (!packs.ok()) return 0;
  std::map<uint64_t, PackInfo> records(packs->begin(), packs->end());
  std::set<uint64_t> files;
  auto listed = store->packs().List();
  EXPECT_OK(listed);
  if (!listed.ok()) return 0;
  for (uint64_t id : *listed) files.insert(id);
  std::set<uint64_t> recorded;
  for (const auto& [id, info] : records) recorded.insert(id);
  EXPECT_EQ(files, recorded) << "pack files and pack records differ";
  // What the index points at, by pack and offset.
  std::map<uint64_t, std::map<uint64_t, ObjectId>> pointed;
  for (auto it = store->kv().NewIterator("c"); it->Valid(); it->Next()) {
    auto loc = ChunkStore::DecodeLoc(it->value());
    EXPECT_OK(loc);
    if (!loc.ok()) continue;
    auto id = ObjectId::FromBytes(it->key().substr(1));
    EXPECT_OK(id);
    EXPECT_TRUE(records.count(loc->pack_id)) << "an index entry points at an unknown pack";
    if (records.count(loc->pack_id)) {
      EXPECT_FALSE(records[loc->pack_id].condemned) << "an index entry points into a condemned pack";
    }
    pointed[loc->pack_id][loc->offset] = *id;
  }
  uint64_t bytes = 0;
  for (const auto& [id, info] : records) {
    const std::string path = store->packs().Describe(id);
    auto size = store->packs().Size(id);
    if (!size.ok() || !*size) {
      ADD_FAILURE() << "cannot stat " << path;
      continue;
    }
    bytes += **size;
    EXPECT_EQ(info.size, **size) << path;
    auto entries = ReadPackIndex(store->packs(), id, **size);
    EXPECT_OK(entries);
    if (!entries.ok()) continue;
    uint64_t dead_bytes = 0, dead_chunks = 0, live = 0;
    for (const PackEntry& e : *entries) {
      auto p = pointed[id].find(e.offset);
      if (p != pointed[id].end() && p->second == e.id) {
        ++live;
      } else {
        dead_bytes += e.stored_len;
        ++dead_chunks;
      }
    }
    EXPECT_EQ(live, pointed[id].size()) << path << ": index entries outside its blobs";
    EXPECT_EQ(info.dead_bytes, dead_bytes) << path;
    EXPECT_EQ(info.dead_chunks, dead_chunks) << path;
  }
  return bytes;
}

}  // namespace keepfs::testing
