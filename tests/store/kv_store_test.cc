#include "store/kv_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <string>
#include <utility>
#include <vector>

#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

class KvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(/*read_only=*/false); }

  void Open(bool read_only) {
    kv_.reset();
    KvOptions o;
    o.create_if_missing = !read_only;
    o.read_only = read_only;
    o.block_cache_bytes = 1 << 20;
    ASSERT_OK_AND_ASSIGN(kv_, KvStore::Open(dir_.Join("db"), o));
  }

  Status Put(std::string_view k, std::string_view v) {
    WriteBatch b;
    b.Put(k, v);
    return kv_->Write(b, /*sync=*/false);
  }

  // Every key/value under prefix, in iteration order.
  std::vector<std::pair<std::string, std::string>> Scan(std::string_view prefix) {
    std::vector<std::pair<std::string, std::string>> out;
    auto it = kv_->NewIterator(prefix);
    for (; it->Valid(); it->Next()) out.emplace_back(it->key(), it->value());
    EXPECT_OK(it->status());
    return out;
  }

  std::string GetOrMissing(std::string_view k) {
    std::string v;
    auto found = kv_->Get(k, &v);
    EXPECT_OK(found);
    return found.ok() && *found ? v : "<missing>";
  }

  testing::TempDir dir_;
  std::unique_ptr<KvStore> kv_;
};

TEST_F(KvStoreTest, GetPutDelete) {
  EXPECT_EQ(GetOrMissing("k"), "<missing>");
  ASSERT_OK_AND_ASSIGN(bool contains, kv_->Contains("k"));
  EXPECT_FALSE(contains);
  ASSERT_OK(Put("k", "v1"));
  EXPECT_EQ(GetOrMissing("k"), "v1");
  ASSERT_OK_AND_ASSIGN(contains, kv_->Contains("k"));
  EXPECT_TRUE(contains);
  ASSERT_OK(Put("k", "v2"));
  EXPECT_EQ(GetOrMissing("k"), "v2");
  WriteBatch del;
  del.Delete("k");
  ASSERT_OK(kv_->Write(del, /*sync=*/true));
  EXPECT_EQ(GetOrMissing("k"), "<missing>");
}

TEST_F(KvStoreTest, BinaryKeysAndValues) {
  std::string key("a\0b\xff", 4), value("\0\0\x01", 3);
  ASSERT_OK(Put(key, value));
  EXPECT_EQ(GetOrMissing(key), value);
  EXPECT_EQ(GetOrMissing(std::string("a\0b", 3)), "<missing>");
  ASSERT_OK(Put("empty", ""));
  EXPECT_EQ(GetOrMissing("empty"), "");
}

TEST_F(KvStoreTest, BatchIsAtomicAndCounts) {
  WriteBatch b;
  b.Put("a", "1");
  b.Put("b", "2");
  b.Delete("c");
  EXPECT_EQ(b.Count(), 3u);
  EXPECT_GT(b.ApproximateSize(), 0u);
  ASSERT_OK(kv_->Write(b, /*sync=*/true));
  EXPECT_EQ(GetOrMissing("a"), "1");
  EXPECT_EQ(GetOrMissing("b"), "2");
  b.Clear();
  EXPECT_EQ(b.Count(), 0u);
  WriteBatch moved = std::move(b);
  moved.Put("m", "x");
  ASSERT_OK(kv_->Write(moved, false));
  EXPECT_EQ(GetOrMissing("m"), "x");
}

TEST_F(KvStoreTest, PrefixIterationInByteOrder) {
  for (const char* k : {"b2", "a1", "b1", "b\xff", "c", "b", "ab"}) ASSERT_OK(Put(k, k));
  auto got = Scan("b");
  std::vector<std::string> keys;
  for (auto& [k, v] : got) {
    EXPECT_EQ(k, v);
    keys.push_back(k);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"b", "b1", "b2", "b\xff"}));
  EXPECT_EQ(Scan("a").size(), 2u);
  EXPECT_TRUE(Scan("z").empty());
  EXPECT_EQ(Scan("").size(), 7u);
}

TEST_F(KvStoreTest, SeekStaysWithinPrefix) {
  for (const char* k : {"p1", "p3", "p5", "q0"}) ASSERT_OK(Put(k, "v"));
  auto it = kv_->NewIterator("p");
  it->Seek("p2");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "p3");
  it->Seek("a");  // before the prefix: clamps to its start
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "p1");
  it->Seek("p6");
  EXPECT_FALSE(it->Valid()) << "q0 is outside the prefix";
  EXPECT_OK(it->status());
}

TEST_F(KvStoreTest, SeekToLastFindsTheLastKeyOfThePrefix) {
  for (const char* k : {"o9", "p1", "p3", "p5\xff", "q", "q0"}) ASSERT_OK(Put(k, "v"));
  auto it = kv_->NewIterator("p");
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "p5\xff") << "not q, the key right after the prefix";
  it->Next();
  EXPECT_FALSE(it->Valid());
  std::string ff_prefix("p5\xff", 3);
  auto ff = kv_->NewIterator(ff_prefix);  // a prefix ending in 0xff
  ff->SeekToLast();
  ASSERT_TRUE(ff->Valid());
  EXPECT_EQ(ff->key(), ff_prefix);
  auto none = kv_->NewIterator("r");
  none->SeekToLast();
  EXPECT_FALSE(none->Valid()) << "no key in the prefix";
  auto empty = kv_->NewIterator("n");
  empty->SeekToLast();
  EXPECT_FALSE(empty->Valid()) << "keys before but not in the prefix";
  EXPECT_OK(it->status());
}

TEST_F(KvStoreTest, IteratorIsASnapshot) {
  ASSERT_OK(Put("s1", "v"));
  auto it = kv_->NewIterator("s");
  ASSERT_OK(Put("s2", "v"));
  int n = 0;
  for (; it->Valid(); it->Next()) ++n;
  EXPECT_EQ(n, 1);
}

TEST_F(KvStoreTest, DeleteRangeWithLaterPutInSameBatchSurvives) {
  for (const char* k : {"r1", "r2", "r3", "s1"}) ASSERT_OK(Put(k, "old"));
  WriteBatch b;
  b.DeleteRange("r", "s");
  b.Put("r2", "new");
  ASSERT_OK(kv_->Write(b, /*sync=*/true));
  EXPECT_EQ(GetOrMissing("r1"), "<missing>");
  EXPECT_EQ(GetOrMissing("r2"), "new");
  EXPECT_EQ(GetOrMissing("r3"), "<missing>");
  EXPECT_EQ(GetOrMissing("s1"), "old") << "end of the range is exclusive";
  auto keys = Scan("r");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].first, "r2");
  // Survives a reopen too.
  Open(/*read_only=*/false);
  EXPECT_EQ(GetOrMissing("r2"), "new");
  EXPECT_EQ(GetOrMissing("r1"), "<missing>");
}

TEST_F(KvStoreTest, DataSurvivesReopenAndFlush) {
  ASSERT_OK(Put("durable", "yes"));
  ASSERT_OK(kv_->Flush());
  Open(/*read_only=*/false);
  EXPECT_EQ(GetOrMissing("durable"), "yes");
}

// A writable close writes big memtables out, so that the next open (every
// command, and the mount) need not replay a long log.
TEST_F(KvStoreTest, CloseAfterManyWritesLeavesNoLogToReplay) {
  auto log_bytes = [&] {
    uint64_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.Join("db"))) {
      if (e.path().extension() == ".log") total += e.file_size();
    }
    return total;
  };
  WriteBatch b;
  for (int i = 0; i < 2000; ++i) b.Put("big" + std::to_string(i), std::string(1000, 'x'));
  ASSERT_OK(kv_->Write(b, true));
  EXPECT_GE(log_bytes(), KvStore::kFlushOnCloseBytes) << "the batch is in the log before close";
  Open(/*read_only=*/true);  // closes the writer
  EXPECT_LT(log_bytes(), 4096u) << "what the log held is now in a table file";
  EXPECT_EQ(GetOrMissing("big1999"), std::string(1000, 'x'));

  // A few small writes (most commands) leave the log for the next open to
  // replay rather than write a table file each time.
  Open(/*read_only=*/false);
  ASSERT_OK(Put("small", "v"));
  Open(/*read_only=*/true);
  EXPECT_GT(log_bytes(), 0u) << "a tiny log is not flushed on close";
  EXPECT_EQ(GetOrMissing("small"), "v");
}

TEST_F(KvStoreTest, ReadOnlyRefusesWrites) {
  ASSERT_OK(Put("k", "v"));
  Open(/*read_only=*/true);
  EXPECT_TRUE(kv_->read_only());
  EXPECT_EQ(GetOrMissing("k"), "v");
  WriteBatch b;
  b.Put("k2", "v");
  EXPECT_FALSE(kv_->Write(b, false).ok());
  EXPECT_OK(kv_->Flush());  // a no-op for readers
}

TEST(KvStoreOpenTest, MissingDatabaseWithoutCreateFails) {
  testing::TempDir dir;
  KvOptions o;
  EXPECT_FALSE(KvStore::Open(dir.Join("nope"), o).ok());
  o.read_only = true;
  EXPECT_FALSE(KvStore::Open(dir.Join("nope"), o).ok());
}

}  // namespace
}  // namespace keepfs
