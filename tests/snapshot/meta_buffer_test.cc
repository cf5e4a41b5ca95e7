#include "snapshot/meta_buffer.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

class MetaBufferTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(tmp_.Join("s"))); }

  bool Has(const std::string& key) {
    auto r = store_->kv().Contains(key);
    EXPECT_OK(r);
    return r.ok() && *r;
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
};

TEST_F(MetaBufferTest, MaybeFlushWaitsForTheLimit) {
  MetaBuffer buf(store_.get(), /*flush_bytes=*/1000);
  buf.Put("xsmall", "v");
  ASSERT_OK(buf.MaybeFlush());
  EXPECT_FALSE(Has("xsmall")) << "under the limit nothing is written";
  buf.Put("xbig", std::string(2000, 'b'));
  ASSERT_OK(buf.MaybeFlush());
  EXPECT_TRUE(Has("xsmall"));
  EXPECT_TRUE(Has("xbig"));
}

TEST_F(MetaBufferTest, FlushSealsChunksFirst) {
  // A record that references a chunk is written only after the chunk's pack
  // is sealed and indexed.
  MetaBuffer buf(store_.get(), /*flush_bytes=*/1);
  Compressor c(3);
  std::string data = testing::RandomBytes(5000, 1);
  ObjectId id = Sha256::Of(data);
  ASSERT_OK(store_->chunks().Put(id, data, c));
  buf.Put("xref", std::string(id.AsBytes()));
  ASSERT_OK(buf.MaybeFlush());
  EXPECT_TRUE(Has("xref"));
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(id));
  EXPECT_TRUE(loc.has_value()) << "the chunk must be indexed by the time its referrer is";
}

TEST_F(MetaBufferTest, CommitWritesPendingAndLast) {
  MetaBuffer buf(store_.get(), /*flush_bytes=*/1 << 20);
  buf.Put("xa", "1");
  buf.Put("xb", "2");
  buf.Delete("xold");
  MetaBuffer::Records last = {{"xcommit", "done"}};
  Compressor c(3);
  std::string data = testing::RandomBytes(100, 2);
  ASSERT_OK(store_->chunks().Put(Sha256::Of(data), data, c));
  ASSERT_OK(buf.Commit(last));
  EXPECT_TRUE(Has("xa"));
  EXPECT_TRUE(Has("xb"));
  EXPECT_TRUE(Has("xcommit"));
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(Sha256::Of(data)));
  EXPECT_TRUE(loc.has_value());
}

TEST_F(MetaBufferTest, DeleteRemovesExistingKeys) {
  WriteBatch seed;
  seed.Put("xgone", "v");
  ASSERT_OK(store_->kv().Write(seed, false));
  MetaBuffer buf(store_.get(), 1 << 20);
  buf.Delete("xgone");
  ASSERT_OK(buf.Commit({}));
  EXPECT_FALSE(Has("xgone"));
}

TEST_F(MetaBufferTest, ConcurrentPutsAllLand) {
  MetaBuffer buf(store_.get(), /*flush_bytes=*/4096);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        buf.Put("x" + std::to_string(t) + "_" + std::to_string(i), std::string(50, 'v'));
        buf.MaybeFlush().IgnoreError();  // checked by the key count below
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_OK(buf.Commit({}));
  auto it = store_->kv().NewIterator("x");
  int n = 0;
  for (; it->Valid(); it->Next()) ++n;
  EXPECT_EQ(n, 2000);
}

}  // namespace
}  // namespace keepfs::snapshot
