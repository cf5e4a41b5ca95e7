// Where a snapshot's file is stored, for tests that damage it on purpose:
// its content, its first chunk, that chunk's place in a pack. A lookup that
// fails is a test failure (and gives a zero id or location).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "snapshot/repo.h"
#include "store/chunk_store.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

inline ObjectId ContentOfFile(Store* store, const snapshot::SnapshotRecord& snap,
                              const std::string& path) {
  auto e = snapshot::Repo(store).ResolvePath(snap, path);
  EXPECT_OK(e);
  return e.ok() ? e->ref : ObjectId();
}

inline ObjectId FirstChunkOf(Store* store, const ObjectId& content) {
  auto c = snapshot::Repo(store).GetContent(content);
  EXPECT_OK(c);
  return c.ok() && !c->parts.empty() ? c->parts[0].chunk : ObjectId();
}

inline ChunkLoc LocationOf(Store* store, const ObjectId& chunk) {
  auto loc = store->chunks().Lookup(chunk);
  EXPECT_OK(loc);
  EXPECT_TRUE(loc.ok() && loc->has_value()) << "chunk " << chunk.ToHex() << " is not indexed";
  return loc.ok() && *loc ? **loc : ChunkLoc{};
}

}  // namespace keepfs::testing
