#include "store/compress.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

std::string Compressible(size_t n) {
  std::string s;
  while (s.size() < n) s += "keepfs compresses repetitive text well. ";
  s.resize(n);
  return s;
}

TEST(CompressTest, CompressibleRoundTripUsesZstd) {
  Compressor c(3);
  Decompressor d;
  for (size_t n : {64u, 1000u, 100000u, 1u << 20}) {
    SCOPED_TRACE(n);
    std::string raw = Compressible(n);
    std::string stored, back;
    ASSERT_EQ(c.Compress(raw, &stored), Codec::kZstd);
    EXPECT_LT(stored.size(), raw.size());
    ASSERT_OK(d.Decompress(Codec::kZstd, stored, raw.size(), &back));
    EXPECT_EQ(back, raw);
  }
}

TEST(CompressTest, IncompressibleIsStoredRaw) {
  Compressor c(3);
  Decompressor d;
  std::string raw = testing::RandomBytes(256 * 1024, 7);
  std::string stored, back;
  ASSERT_EQ(c.Compress(raw, &stored), Codec::kRaw);
  EXPECT_EQ(stored, raw);
  ASSERT_OK(d.Decompress(Codec::kRaw, stored, raw.size(), &back));
  EXPECT_EQ(back, raw);
}

TEST(CompressTest, EmptyAndTinyInputs) {
  Compressor c(3);
  Decompressor d;
  for (std::string raw : {std::string(), std::string("x"), std::string("ab")}) {
    std::string stored, back = "junk";
    Codec codec = c.Compress(raw, &stored);
    ASSERT_OK(d.Decompress(codec, stored, raw.size(), &back));
    EXPECT_EQ(back, raw);
  }
}

TEST(CompressTest, ContextsAreReusable) {
  Compressor c(1);
  Decompressor d;
  for (int i = 0; i < 20; ++i) {
    std::string raw = Compressible(5000 + i) + testing::RandomBytes(i * 10, i);
    std::string stored, back;
    Codec codec = c.Compress(raw, &stored);
    ASSERT_OK(d.Decompress(codec, stored, raw.size(), &back));
    ASSERT_EQ(back, raw) << i;
  }
}

TEST(CompressTest, CorruptedZstdIsCorruption) {
  Compressor c(3);
  Decompressor d;
  std::string raw = Compressible(50000);
  std::string stored;
  ASSERT_EQ(c.Compress(raw, &stored), Codec::kZstd);
  // Damage the frame header, a byte in the middle, and the tail: each must be
  // Corruption or (if zstd cannot notice) different bytes, never a crash.
  int detected = 0;
  for (size_t pos : {size_t{0}, size_t{1}, size_t{4}, stored.size() / 2, stored.size() - 1}) {
    std::string bad = stored;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x5a);
    std::string back;
    Status s = d.Decompress(Codec::kZstd, bad, raw.size(), &back);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
      ++detected;
    } else {
      EXPECT_NE(back, raw) << "flip at " << pos << " was silently ignored";
    }
  }
  EXPECT_GE(detected, 2) << "magic-number damage must be detected";
  // Garbage that is not a zstd frame at all.
  std::string back;
  EXPECT_CODE(d.Decompress(Codec::kZstd, "not zstd at all", 100, &back), StatusCode::kCorruption);
  // Truncated frame.
  EXPECT_CODE(d.Decompress(Codec::kZstd, std::string_view(stored).substr(0, stored.size() / 2),
                           raw.size(), &back),
              StatusCode::kCorruption);
}

TEST(CompressTest, WrongLengthIsCorruption) {
  Compressor c(3);
  Decompressor d;
  std::string raw = Compressible(10000);
  std::string stored, back;
  ASSERT_EQ(c.Compress(raw, &stored), Codec::kZstd);
  EXPECT_CODE(d.Decompress(Codec::kZstd, stored, raw.size() - 1, &back), StatusCode::kCorruption);
  EXPECT_CODE(d.Decompress(Codec::kZstd, stored, raw.size() + 1, &back), StatusCode::kCorruption);
  EXPECT_CODE(d.Decompress(Codec::kRaw, raw, raw.size() + 1, &back), StatusCode::kCorruption);
  EXPECT_CODE(d.Decompress(Codec::kRaw, raw, raw.size() - 1, &back), StatusCode::kCorruption);
}

TEST(CompressTest, UnknownCodecIsCorruption) {
  Decompressor d;
  std::string back;
  EXPECT_CODE(d.Decompress(static_cast<Codec>(7), "abc", 3, &back), StatusCode::kCorruption);
}

// Found by tests/fuzz/blob_fuzzer: a damaged raw_len (here 1 GiB) sized the
// output buffer before zstd looked at the frame.
TEST(CompressTest, ZstdLengthIsCheckedBeforeAllocating) {
  Compressor c(3);
  std::string raw = Compressible(4000), stored;
  ASSERT_EQ(c.Compress(raw, &stored), Codec::kZstd);
  Decompressor d;
  std::string out;
  EXPECT_TRUE(d.Decompress(Codec::kZstd, stored, 1u << 30, &out).IsCorruption());
  EXPECT_TRUE(d.Decompress(Codec::kZstd, stored, raw.size() + 1, &out).IsCorruption());
  EXPECT_TRUE(d.Decompress(Codec::kZstd, "not zstd", raw.size(), &out).IsCorruption());
  EXPECT_LT(out.capacity(), size_t{1} << 20);
  ASSERT_TRUE(d.Decompress(Codec::kZstd, stored, raw.size(), &out).ok());
  EXPECT_EQ(out, raw);
}

}  // namespace
}  // namespace keepfs
