#include "snapshot/snapshot_record.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "store/coding.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

SnapshotRecord Sample() {
  SnapshotRecord r;
  r.user = "alice";
  r.name = "2026-10-01_030000_2";
  r.time_sec = 1790823600;
  r.seq = 2;
  r.root = Sha256::Of("root tree");
  r.source = "/home/alice";
  r.hostname = "nas";
  r.started_ns = 1790823600123456789;
  r.finished_ns = 1790823660987654321;
  r.stats = {10, 3, 2, 1 << 30, 12345, 6789, 4321, 7};
  r.errors = {{"docs/locked.txt", "opening: permission denied"}, {"", "source vanished"}};
  return r;
}

TEST(SnapshotRecordTest, RoundTrip) {
  SnapshotRecord r = Sample();
  ASSERT_OK_AND_ASSIGN(SnapshotRecord back, DecodeSnapshotRecord(EncodeSnapshotRecord(r)));
  EXPECT_EQ(back.user, "") << "user and name come from the key";
  EXPECT_EQ(back.name, "");
  EXPECT_EQ(back.time_sec, r.time_sec);
  EXPECT_EQ(back.seq, r.seq);
  EXPECT_EQ(back.root, r.root);
  EXPECT_EQ(back.source, r.source);
  EXPECT_EQ(back.hostname, r.hostname);
  EXPECT_EQ(back.started_ns, r.started_ns);
  EXPECT_EQ(back.finished_ns, r.finished_ns);
  EXPECT_EQ(back.stats.files, 10u);
  EXPECT_EQ(back.stats.dirs, 3u);
  EXPECT_EQ(back.stats.others, 2u);
  EXPECT_EQ(back.stats.bytes_logical, 1u << 30);
  EXPECT_EQ(back.stats.bytes_read, 12345u);
  EXPECT_EQ(back.stats.bytes_new, 6789u);
  EXPECT_EQ(back.stats.bytes_stored, 4321u);
  EXPECT_EQ(back.stats.files_cached, 7u);
  ASSERT_EQ(back.errors.size(), 2u);
  EXPECT_EQ(back.errors[0].path, "docs/locked.txt");
  EXPECT_EQ(back.errors[0].message, "opening: permission denied");
  EXPECT_EQ(back.errors[1].path, "");
}

TEST(SnapshotRecordTest, NumberAndLinksRoundTrip) {
  SnapshotRecord r = Sample();
  r.root_meta = RootMeta{0750, 1000, 100, 5, 6, {{"user.a", "b"}}};
  r.number = 123456;
  r.links = {{3, 2}, {99, 5}, {1ull << 60, 1}};
  ASSERT_OK_AND_ASSIGN(SnapshotRecord back, DecodeSnapshotRecord(EncodeSnapshotRecord(r)));
  EXPECT_EQ(back.number, 123456u);
  EXPECT_EQ(back.links, r.links);
  EXPECT_EQ(back.root_meta, r.root_meta);

  SnapshotRecord only_links = Sample();
  only_links.links = {{7, 2}};
  ASSERT_OK_AND_ASSIGN(back, DecodeSnapshotRecord(EncodeSnapshotRecord(only_links)));
  EXPECT_EQ(back.number, 0u);
  EXPECT_EQ(back.links, only_links.links);
}

TEST(SnapshotRecordTest, BadSectionsAreCorruption) {
  SnapshotRecord r = Sample();
  std::string base = EncodeSnapshotRecord(r);
  // links out of order, a zero count, a repeated tag, tags out of order, unknown tag
  for (std::string tail : {std::string("\x03\x02\x05\x01\x03\x01", 6),
                           std::string("\x03\x01\x05\x00", 4), std::string("\x02\x05\x02\x06"),
                           std::string("\x03\x01\x05\x01\x02\x07"), std::string("\x09\x01"),
                           std::string("\x02\x00", 2)}) {
    EXPECT_CODE(DecodeSnapshotRecord(base + tail), StatusCode::kCorruption);
  }
}

TEST(SnapshotRecordTest, MinimalRecordRoundTrips) {
  SnapshotRecord r;
  ASSERT_OK_AND_ASSIGN(SnapshotRecord back, DecodeSnapshotRecord(EncodeSnapshotRecord(r)));
  EXPECT_TRUE(back.root.IsZero());
  EXPECT_TRUE(back.errors.empty());
  EXPECT_EQ(back.time_sec, 0);
}

// seq is the _N of a name, 32 bits: a larger stored value is damage, not a
// number to cut down (found by snapshot_record_fuzzer).
TEST(SnapshotRecordTest, ASeqPast32BitsIsCorruption) {
  // The minimal record: version, time 0 and seq 0 take a byte each.
  std::string min = EncodeSnapshotRecord(SnapshotRecord());
  ASSERT_EQ(min[1], '\0');
  ASSERT_EQ(min[2], '\0');
  std::string big = min.substr(0, 2);
  Encoder(&big).PutVarint(uint64_t{1} << 33);
  big += min.substr(3);
  EXPECT_CODE(DecodeSnapshotRecord(big), StatusCode::kCorruption);
  std::string max = min.substr(0, 2);
  Encoder(&max).PutVarint(UINT32_MAX);
  max += min.substr(3);
  ASSERT_OK_AND_ASSIGN(SnapshotRecord r, DecodeSnapshotRecord(max));
  EXPECT_EQ(r.seq, UINT32_MAX);
}

TEST(SnapshotRecordTest, TruncatedIsCorruption) {
  std::string full = EncodeSnapshotRecord(Sample());
  for (size_t n = 0; n < full.size(); ++n) {
    ASSERT_CODE(DecodeSnapshotRecord(std::string_view(full).substr(0, n)), StatusCode::kCorruption)
        << "prefix " << n << " of " << full.size();
  }
}

TEST(SnapshotRecordTest, TrailingBytesAndBadVersionAreCorruption) {
  std::string full = EncodeSnapshotRecord(Sample());
  EXPECT_CODE(DecodeSnapshotRecord(full + "x"), StatusCode::kCorruption);
  std::string v2 = full;
  v2[0] = 2;
  EXPECT_CODE(DecodeSnapshotRecord(v2), StatusCode::kCorruption);
}

TEST(SnapshotRecordTest, RandomByteFlipsNeverCrash) {
  std::string full = EncodeSnapshotRecord(Sample());
  testing::Rng rng(17);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = full;
    bad[rng.Uniform(bad.size())] ^= static_cast<char>(1 + rng.Uniform(255));
    auto r = DecodeSnapshotRecord(bad);
    if (!r.ok()) {
      EXPECT_TRUE(r.status().IsCorruption());
    }
  }
}

}  // namespace
}  // namespace keepfs::snapshot
