#include "store/chunk_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "store/coding.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "store/store.h"
#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

class ChunkStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.Join("store");
    ASSERT_OK_AND_ASSIGN(store_, testing::InitAndOpen(dir_));
  }

  void Reopen(OpenMode mode = OpenMode::kReadWrite) {
    store_.reset();
    ASSERT_OK_AND_ASSIGN(store_, Store::Open(dir_, mode));
  }

  // Puts raw under its hash and returns the id.
  ObjectId PutChunk(const std::string& raw, bool expect_new = true) {
    ObjectId id = Sha256::Of(raw);
    auto r = store_->chunks().Put(id, raw, compressor_);
    EXPECT_OK(r);
    if (r.ok()) {
      EXPECT_EQ(r->is_new, expect_new);
    }
    return id;
  }

  std::string PackPath(uint64_t pack_id) const { return dir_ + "/" + PackRelPath(pack_id); }
  // The index's record of a pack; fails the test if it is absent or damaged.
  PackInfo IndexedPackInfo(uint64_t pack_id) {
    std::string info;
    auto found = store_->kv().Get(ChunkStore::PackKey(pack_id), &info);
    EXPECT_TRUE(found.ok() && *found) << "no index record for pack " << pack_id;
    auto pi = ChunkStore::DecodePackInfo(info);
    EXPECT_OK(pi);
    return pi.ok() ? *pi : PackInfo{};
  }

  testing::TempDir tmp_;
  std::string dir_;
  std::unique_ptr<Store> store_;
  Compressor compressor_{3};
};

std::string TextChunk(size_t n, char seed) {
  std::string s;
  while (s.size() < n) s += std::string("chunk text ") + seed + " repeats nicely; ";
  s.resize(n);
  return s;
}

TEST_F(ChunkStoreTest, PutThenReadRoundTrip) {
  std::string text = TextChunk(100000, 'a');
  std::string random = testing::RandomBytes(70000, 3);
  ObjectId t = PutChunk(text);
  ObjectId r = PutChunk(random);
  ASSERT_OK(store_->chunks().Flush());
  std::string out;
  ASSERT_OK(store_->chunks().Read(t, &out));
  EXPECT_EQ(out, text);
  ASSERT_OK(store_->chunks().Read(r, &out));
  EXPECT_EQ(out, random);
  // And after reopening, read-only.
  Reopen(OpenMode::kReadOnly);
  ASSERT_OK(store_->chunks().Read(t, &out));
  EXPECT_EQ(out, text);
}

TEST_F(ChunkStoreTest, PutReportsStoredBytes) {
  std::string text = TextChunk(100000, 'b');
  ObjectId id = Sha256::Of(text);
  ASSERT_OK_AND_ASSIGN(ChunkPutResult put, store_->chunks().Put(id, text, compressor_));
  EXPECT_TRUE(put.is_new);
  EXPECT_GT(put.stored_bytes, 0u);
  EXPECT_LT(put.stored_bytes, text.size()) << "compressible data is stored compressed";
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(id));
  ASSERT_TRUE(loc.has_value());
  EXPECT_EQ(loc->codec, Codec::kZstd);
  EXPECT_EQ(loc->raw_len, text.size());
  EXPECT_EQ(loc->stored_len, put.stored_bytes);
}

TEST_F(ChunkStoreTest, DuplicatePutIsNotNew) {
  std::string data = testing::RandomBytes(5000, 1);
  ObjectId id = PutChunk(data);
  PutChunk(data, /*expect_new=*/false);  // pending in the open pack
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(ChunkPutResult again, store_->chunks().Put(id, data, compressor_));
  EXPECT_FALSE(again.is_new);  // indexed
  EXPECT_EQ(again.stored_bytes, 0u);
  Reopen();
  ASSERT_OK_AND_ASSIGN(ChunkPutResult after_reopen, store_->chunks().Put(id, data, compressor_));
  EXPECT_FALSE(after_reopen.is_new);
}

TEST_F(ChunkStoreTest, FlushMakesChunksIndexed) {
  std::string data = testing::RandomBytes(5000, 2);
  ObjectId id = PutChunk(data);
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> before, store_->chunks().Lookup(id));
  EXPECT_FALSE(before.has_value()) << "indexed before its pack is sealed";
  ASSERT_OK_AND_ASSIGN(bool pending, store_->chunks().Contains(id));
  EXPECT_TRUE(pending) << "Contains sees chunks in the open pack";
  std::string out;
  EXPECT_CODE(store_->chunks().Read(id, &out), StatusCode::kNotFound);

  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(id));
  ASSERT_TRUE(loc.has_value());
  EXPECT_EQ(loc->raw_len, data.size());
  EXPECT_EQ(loc->offset, kPackHeaderSize);
  EXPECT_TRUE(PathExists(PackPath(loc->pack_id)));
  ASSERT_OK_AND_ASSIGN(bool contains, store_->chunks().Contains(id));
  EXPECT_TRUE(contains);

  PackInfo pi = IndexedPackInfo(loc->pack_id);
  EXPECT_EQ(pi.chunk_count, 1u);
  EXPECT_GT(pi.size, data.size());
}

TEST_F(ChunkStoreTest, FlushWithNothingPendingIsOk) {
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK(store_->chunks().Flush());
  auto it = store_->kv().NewIterator("p");
  EXPECT_FALSE(it->Valid()) << "an empty flush must not create a pack";
}

TEST_F(ChunkStoreTest, UnknownChunkIsNotFound) {
  std::string out;
  EXPECT_CODE(store_->chunks().Read(Sha256::Of("never stored"), &out), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(bool contains, store_->chunks().Contains(Sha256::Of("never stored")));
  EXPECT_FALSE(contains);
}

TEST_F(ChunkStoreTest, ReadOnlyStoreRefusesPut) {
  Reopen(OpenMode::kReadOnly);
  std::string data = "x";
  EXPECT_FALSE(store_->chunks().Put(Sha256::Of(data), data, compressor_).ok());
}

TEST_F(ChunkStoreTest, FlippedPackBytesAreCorruptionNeverWrongBytes) {
  std::string text = TextChunk(200000, 'c');            // stored zstd
  std::string random = testing::RandomBytes(60000, 9);  // stored raw
  ObjectId t = PutChunk(text);
  ObjectId r = PutChunk(random);
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> tloc, store_->chunks().Lookup(t));
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> rloc, store_->chunks().Lookup(r));
  ASSERT_TRUE(tloc && rloc);
  ASSERT_EQ(tloc->codec, Codec::kZstd);
  ASSERT_EQ(rloc->codec, Codec::kRaw);
  store_.reset();

  struct Case {
    ObjectId id;
    ChunkLoc loc;
  };
  for (const Case& c : {Case{t, *tloc}, Case{r, *rloc}}) {
    for (uint64_t rel : {uint64_t{0}, uint64_t{5}, uint64_t{c.loc.stored_len / 2},
                         uint64_t{c.loc.stored_len - 1}}) {
      SCOPED_TRACE("codec " + std::to_string(static_cast<int>(c.loc.codec)) + " offset " +
                   std::to_string(rel));
      std::string pack = PackPath(c.loc.pack_id);
      ASSERT_OK(testing::FlipByte(pack, c.loc.offset + rel, 0x20));
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> s, Store::Open(dir_, OpenMode::kReadOnly));
      std::string out = "previous contents";
      Status st = s->chunks().Read(c.id, &out);
      EXPECT_CODE(st, StatusCode::kCorruption);
      EXPECT_NE(st.message().find(PackRelPath(c.loc.pack_id)), std::string::npos)
          << "the error names the pack: " << st.ToString();
      EXPECT_TRUE(out.empty()) << "a failed read must not leave chunk bytes behind";
      ASSERT_OK(testing::FlipByte(pack, c.loc.offset + rel, 0x20));  // repair
      ASSERT_OK(s->chunks().Read(c.id, &out));
    }
  }
}

// The check every read verifies is seeded with the wanted id
// (store/blob_check.h): an index entry that points at another chunk's intact
// blob, even one of the same length and codec, is Corruption, not its bytes.
TEST_F(ChunkStoreTest, IndexEntryPointingAtAnotherChunkIsCorruption) {
  ObjectId a = PutChunk(testing::RandomBytes(50000, 21));
  ObjectId b = PutChunk(testing::RandomBytes(50000, 22));
  ASSERT_OK(store_->chunks().Flush());
  std::string a_value, b_value;
  ASSERT_OK_AND_ASSIGN(bool found_a, store_->kv().Get(ChunkStore::ChunkKey(a), &a_value));
  ASSERT_OK_AND_ASSIGN(bool found_b, store_->kv().Get(ChunkStore::ChunkKey(b), &b_value));
  ASSERT_TRUE(found_a && found_b);
  ASSERT_OK_AND_ASSIGN(ChunkLoc aloc, ChunkStore::DecodeLoc(a_value));
  ASSERT_OK_AND_ASSIGN(ChunkLoc bloc, ChunkStore::DecodeLoc(b_value));
  ASSERT_EQ(aloc.codec, bloc.codec);
  ASSERT_EQ(aloc.stored_len, bloc.stored_len);

  auto point_a_at = [&](const std::string& value) {
    WriteBatch batch;
    batch.Put(ChunkStore::ChunkKey(a), value);
    ASSERT_OK(store_->kv().Write(batch, true));
  };
  // b's whole entry under a's key, and a's entry with b's offset.
  std::string moved;
  Encoder enc(&moved);  // docs/format.md, "c chunk location"
  enc.PutVarint(aloc.pack_id);
  enc.PutVarint(bloc.offset);
  enc.PutVarint(aloc.stored_len);
  enc.PutVarint(aloc.raw_len);
  enc.PutU8(static_cast<uint8_t>(aloc.codec));
  enc.PutFixed64(aloc.check);
  ASSERT_OK_AND_ASSIGN(ChunkLoc mloc, ChunkStore::DecodeLoc(moved));
  ASSERT_EQ(mloc.offset, bloc.offset);
  for (const std::string& value : {b_value, moved}) {
    point_a_at(value);
    for (auto verify : {ChunkStore::Verify::kChecksum, ChunkStore::Verify::kRehash}) {
      std::string out = "previous contents";
      EXPECT_CODE(store_->chunks().Read(a, &out, verify), StatusCode::kCorruption);
      EXPECT_TRUE(out.empty());
    }
  }
  point_a_at(a_value);
  std::string out;
  ASSERT_OK(store_->chunks().Read(a, &out));
  EXPECT_EQ(Sha256::Of(out), a);
}

TEST_F(ChunkStoreTest, MissingPackIsCorruption) {
  ObjectId id = PutChunk(testing::RandomBytes(1000, 4));
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(id));
  ASSERT_TRUE(loc);
  Reopen();
  ASSERT_EQ(::unlink(PackPath(loc->pack_id).c_str()), 0);
  std::string out;
  EXPECT_CODE(store_->chunks().Read(id, &out), StatusCode::kCorruption);
}

TEST_F(ChunkStoreTest, TruncatedPackIsCorruption) {
  std::string data = testing::RandomBytes(10000, 5);
  ObjectId id = PutChunk(data);
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(id));
  ASSERT_TRUE(loc);
  store_.reset();
  ASSERT_EQ(::truncate(PackPath(loc->pack_id).c_str(), kPackHeaderSize + 100), 0);
  Reopen(OpenMode::kReadOnly);
  std::string out;
  EXPECT_CODE(store_->chunks().Read(id, &out), StatusCode::kCorruption);
  EXPECT_TRUE(out.empty());
}

TEST_F(ChunkStoreTest, OrphanSealedPackIsAdoptedByNextWritableOpen) {
  std::string a = testing::RandomBytes(3000, 6), b = TextChunk(9000, 'd');
  ObjectId ida = PutChunk(a), idb = PutChunk(b);
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(ida));
  ASSERT_TRUE(loc);
  // Simulate a crash between the pack's rename and its index write.
  WriteBatch batch;
  batch.Delete(ChunkStore::ChunkKey(ida));
  batch.Delete(ChunkStore::ChunkKey(idb));
  batch.Delete(ChunkStore::PackKey(loc->pack_id));
  ASSERT_OK(store_->kv().Write(batch, /*sync=*/true));
  EXPECT_EQ(store_->chunks().adopted_packs(), 0u);

  // A reader does not adopt.
  Reopen(OpenMode::kReadOnly);
  EXPECT_EQ(store_->chunks().adopted_packs(), 0u);
  std::string out;
  EXPECT_CODE(store_->chunks().Read(ida, &out), StatusCode::kNotFound);

  Reopen(OpenMode::kReadWrite);
  EXPECT_EQ(store_->chunks().adopted_packs(), 1u);
  ASSERT_OK(store_->chunks().Read(ida, &out));
  EXPECT_EQ(out, a);
  ASSERT_OK(store_->chunks().Read(idb, &out));
  EXPECT_EQ(out, b);
  ASSERT_OK_AND_ASSIGN(bool found, store_->kv().Contains(ChunkStore::PackKey(loc->pack_id)));
  EXPECT_TRUE(found);

  // Adopted once: the next open has nothing to do.
  Reopen(OpenMode::kReadWrite);
  EXPECT_EQ(store_->chunks().adopted_packs(), 0u);
}

TEST_F(ChunkStoreTest, NewPacksDoNotReuseIdsOfOrphans) {
  ObjectId a = PutChunk(testing::RandomBytes(3000, 7));
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> la, store_->chunks().Lookup(a));
  Reopen();
  ObjectId b = PutChunk(testing::RandomBytes(3000, 8));
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> lb, store_->chunks().Lookup(b));
  ASSERT_TRUE(la && lb);
  EXPECT_GT(lb->pack_id, la->pack_id);
  std::string out;
  ASSERT_OK(store_->chunks().Read(a, &out));
  ASSERT_OK(store_->chunks().Read(b, &out));
}

TEST_F(ChunkStoreTest, LeftoverTempPackIsRemovedOnWritableOpen) {
  std::string leftover = dir_ + "/tmp/99.pack.tmp";
  ASSERT_OK(testing::WriteFile(leftover, "half a pack"));
  Reopen(OpenMode::kReadOnly);
  EXPECT_TRUE(PathExists(leftover)) << "readers never touch the store";
  Reopen(OpenMode::kReadWrite);
  EXPECT_FALSE(PathExists(leftover));
}

TEST_F(ChunkStoreTest, UnsealedPackIsDiscardedOnClose) {
  ObjectId id = PutChunk(testing::RandomBytes(3000, 10));
  Reopen();  // no Flush
  ASSERT_OK_AND_ASSIGN(bool contains, store_->chunks().Contains(id));
  EXPECT_FALSE(contains);
  EXPECT_EQ(store_->chunks().adopted_packs(), 0u);
}

TEST_F(ChunkStoreTest, ConcurrentPutOfSameChunkStoresItOnce) {
  std::string data = TextChunk(300000, 'e');
  ObjectId id = Sha256::Of(data);
  std::atomic<int> new_count{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      Compressor c(3);
      for (int round = 0; round < 5; ++round) {
        auto r = store_->chunks().Put(id, data, c);
        if (!r.ok()) {
          ++errors;
        } else if (r->is_new) {
          ++new_count;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(new_count.load(), 1);
  ASSERT_OK(store_->chunks().Flush());
  ASSERT_OK_AND_ASSIGN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(id));
  ASSERT_TRUE(loc);
  EXPECT_EQ(IndexedPackInfo(loc->pack_id).chunk_count, 1u);
}

TEST_F(ChunkStoreTest, ConcurrentDistinctPutsAndReads) {
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Compressor c(1);
      for (int i = 0; i < kPerThread; ++i) {
        std::string data = testing::RandomBytes(2000 + i, t * 1000 + i);
        auto r = store_->chunks().Put(Sha256::Of(data), data, c);
        if (!r.ok() || !r->is_new) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_OK(store_->chunks().Flush());
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      std::string data = testing::RandomBytes(2000 + i, t * 1000 + i);
      std::string out;
      ASSERT_OK(store_->chunks().Read(Sha256::Of(data), &out));
      ASSERT_EQ(out, data);
    }
  }
}

// Full packs are sealed outside the write lock while other threads keep
// putting: with a tiny pack target many seals overlap. Every chunk must be
// deduplicated while its pack seals, indexed after Flush, and read back.
TEST(ChunkStoreSealTest, OverlappingSealsLoseNothing) {
  testing::TempDir tmp;
  ASSERT_OK(MakeDirs(tmp.Join("s/tmp")));
  ASSERT_OK(MakeDirs(tmp.Join("s/packs")));
  KvOptions kvo;
  kvo.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto kv, KvStore::Open(tmp.Join("s/meta"), kvo));
  auto packs = NewLocalPackStore(tmp.Join("s"));
  ChunkStoreOptions o;
  o.store_dir = tmp.Join("s");
  o.packs = packs.get();
  o.writable = true;
  o.pack_target_size = 8 << 10;
  ObjectGuard guard;
  ASSERT_OK_AND_ASSIGN(auto chunks, ChunkStore::Open(kv.get(), &guard, o));
  constexpr int kThreads = 4, kPerThread = 60;
  std::atomic<int> failures{0}, news{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Compressor c(1);
      for (int i = 0; i < kPerThread; ++i) {
        // Half the chunks are shared by all threads: dedup races with sealing.
        int key = (i % 2) ? i : t * 1000 + i;
        std::string data = testing::RandomBytes(3000 + key % 500, key);
        auto r = chunks->Put(Sha256::Of(data), data, c);
        if (!r.ok()) ++failures;
        else if (r->is_new) ++news;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_OK(chunks->Flush());
  int distinct = kThreads * kPerThread / 2 + kPerThread / 2;
  EXPECT_EQ(news.load(), distinct) << "each distinct chunk stored exactly once";
  EXPECT_GT(ListPackFiles(o.store_dir).size(), 20u) << "the pack target should force many seals";
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      int key = (i % 2) ? i : t * 1000 + i;
      std::string data = testing::RandomBytes(3000 + key % 500, key);
      std::string out;
      ASSERT_OK(chunks->Read(Sha256::Of(data), &out));
      ASSERT_EQ(out, data);
    }
  }
}

TEST(ChunkStoreCodingTest, KeysAndDecoders) {
  ObjectId id = Sha256::Of("k");
  std::string ck = ChunkStore::ChunkKey(id);
  EXPECT_EQ(ck.size(), 33u);
  EXPECT_EQ(ck[0], 'c');
  EXPECT_EQ(ck.substr(1), id.AsBytes());
  std::string p1 = ChunkStore::PackKey(1), p256 = ChunkStore::PackKey(256);
  EXPECT_EQ(p1[0], 'p');
  EXPECT_LT(p1, p256) << "pack keys sort numerically";
  EXPECT_CODE(ChunkStore::DecodeLoc(""), StatusCode::kCorruption);
  EXPECT_CODE(ChunkStore::DecodeLoc(std::string("\x01\x10\x05\x05\x09", 5)),
              StatusCode::kCorruption);  // codec 9
  const std::string check(8, '\x07');
  EXPECT_CODE(ChunkStore::DecodeLoc(std::string("\x01\x10\x05\x05\x01", 5)),
              StatusCode::kCorruption);  // no check
  ASSERT_OK_AND_ASSIGN(ChunkLoc loc,
                       ChunkStore::DecodeLoc(std::string("\x01\x10\x05\x05\x01", 5) + check));
  EXPECT_EQ(loc.check, 0x0707070707070707u);
  EXPECT_EQ(loc.codec, Codec::kZstd);
  EXPECT_CODE(ChunkStore::DecodeLoc(std::string("\x01\x10\x05\x05\x01", 5) + check + "x"),
              StatusCode::kCorruption);  // trailing bytes
  EXPECT_CODE(ChunkStore::DecodePackInfo("\x80"), StatusCode::kCorruption);
  PackInfo info;
  info.size = 1000;
  info.chunk_count = 3;
  info.created_unix = -5;
  info.dead_bytes = 70;
  info.dead_chunks = 2;
  info.condemned = true;
  std::string v = ChunkStore::EncodePackInfo(info);
  ASSERT_OK_AND_ASSIGN(PackInfo back, ChunkStore::DecodePackInfo(v));
  EXPECT_EQ(back.size, 1000u);
  EXPECT_EQ(back.created_unix, -5);
  EXPECT_EQ(back.dead_bytes, 70u);
  EXPECT_EQ(back.dead_chunks, 2u);
  EXPECT_TRUE(back.condemned);
  EXPECT_EQ(back.blob_bytes(), 1000u - 16 - 56 - 3 * 57);
  EXPECT_CODE(ChunkStore::DecodePackInfo(v + "x"), StatusCode::kCorruption);
  info.dead_chunks = 4;  // more dead than there are
  EXPECT_CODE(ChunkStore::DecodePackInfo(ChunkStore::EncodePackInfo(info)),
              StatusCode::kCorruption);
}

}  // namespace
}  // namespace keepfs
