#include "store/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

TEST(CodingTest, FixedWidthRoundTripLittleEndian) {
  std::string buf;
  Encoder enc(&buf);
  enc.PutU8(0xab);
  enc.PutFixed32(0x01020304);
  enc.PutFixed64(0x0102030405060708ULL);
  enc.PutFixed32(UINT32_MAX);
  enc.PutFixed64(UINT64_MAX);
  ASSERT_EQ(buf.size(), 1u + 4 + 8 + 4 + 8);
  EXPECT_EQ(buf.substr(1, 4), std::string("\x04\x03\x02\x01", 4));

  Decoder dec(buf);
  uint8_t u8 = 0;
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  ASSERT_TRUE(dec.GetU8(&u8));
  EXPECT_EQ(u8, 0xab);
  ASSERT_TRUE(dec.GetFixed32(&u32));
  EXPECT_EQ(u32, 0x01020304u);
  ASSERT_TRUE(dec.GetFixed64(&u64));
  EXPECT_EQ(u64, 0x0102030405060708ULL);
  ASSERT_TRUE(dec.GetFixed32(&u32));
  EXPECT_EQ(u32, UINT32_MAX);
  ASSERT_TRUE(dec.GetFixed64(&u64));
  EXPECT_EQ(u64, UINT64_MAX);
  EXPECT_TRUE(dec.empty());
  EXPECT_FALSE(dec.GetU8(&u8));
}

TEST(CodingTest, VarintRoundTripsIncludingMax) {
  const uint64_t values[] = {0,
                             1,
                             127,
                             128,
                             255,
                             300,
                             16383,
                             16384,
                             UINT32_MAX,
                             uint64_t{1} << 35,
                             (uint64_t{1} << 63) - 1,
                             uint64_t{1} << 63,
                             UINT64_MAX - 1,
                             UINT64_MAX};
  std::string buf;
  Encoder enc(&buf);
  for (uint64_t v : values) enc.PutVarint(v);
  Decoder dec(buf);
  for (uint64_t v : values) {
    uint64_t got = 0;
    ASSERT_TRUE(dec.GetVarint(&got)) << v;
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(dec.empty());
}

TEST(CodingTest, VarintLengths) {
  struct Case {
    uint64_t v;
    size_t len;
  };
  const Case cases[] = {{0, 1}, {127, 1}, {128, 2}, {16383, 2}, {16384, 3}, {UINT64_MAX, 10}};
  for (const Case& c : cases) {
    std::string buf;
    Encoder(&buf).PutVarint(c.v);
    EXPECT_EQ(buf.size(), c.len) << c.v;
  }
}

TEST(CodingTest, SignedVarintRoundTripsIncludingExtremes) {
  const int64_t values[] = {0,
                            1,
                            -1,
                            63,
                            -64,
                            64,
                            -65,
                            INT32_MAX,
                            INT32_MIN,
                            std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::min()};
  for (int64_t v : values) {
    std::string buf;
    Encoder(&buf).PutSignedVarint(v);
    Decoder dec(buf);
    int64_t got = 0;
    ASSERT_TRUE(dec.GetSignedVarint(&got)) << v;
    EXPECT_EQ(got, v);
    EXPECT_TRUE(dec.empty());
  }
  // Zigzag keeps small negatives small.
  std::string buf;
  Encoder(&buf).PutSignedVarint(-1);
  EXPECT_EQ(buf.size(), 1u);
}

TEST(CodingTest, TruncatedVarintFailsAtEveryPrefix) {
  std::string buf;
  Encoder(&buf).PutVarint(UINT64_MAX);
  for (size_t n = 0; n < buf.size(); ++n) {
    Decoder dec(std::string_view(buf).substr(0, n));
    uint64_t v = 12345;
    EXPECT_FALSE(dec.GetVarint(&v)) << "prefix " << n;
    EXPECT_EQ(dec.remaining(), n) << "a failed read must not consume input";
  }
}

TEST(CodingTest, OverlongVarintOverflowFails) {
  // 10th byte may only carry bit 63: 0x02 there would be bit 64.
  std::string overflow(9, '\xff');
  overflow.push_back('\x02');
  uint64_t v = 0;
  EXPECT_FALSE(Decoder(overflow).GetVarint(&v));
  // Eleven bytes of continuation never terminate within 64 bits.
  std::string eleven(10, '\x80');
  eleven.push_back('\x01');
  EXPECT_FALSE(Decoder(eleven).GetVarint(&v));
  // The maximum value itself is accepted.
  std::string max(9, '\xff');
  max.push_back('\x01');
  Decoder dec(max);
  ASSERT_TRUE(dec.GetVarint(&v));
  EXPECT_EQ(v, UINT64_MAX);
}

TEST(CodingTest, TruncatedFixedFails) {
  std::string buf;
  Encoder(&buf).PutFixed64(42);
  for (size_t n = 0; n < 8; ++n) {
    uint64_t v64;
    uint32_t v32;
    Decoder d(std::string_view(buf).substr(0, n));
    EXPECT_FALSE(d.GetFixed64(&v64)) << n;
    if (n < 4) {
      EXPECT_FALSE(d.GetFixed32(&v32)) << n;
    }
  }
}

TEST(CodingTest, LengthPrefixedRoundTripAndLimits) {
  std::string buf;
  Encoder enc(&buf);
  enc.PutLengthPrefixed("");
  enc.PutLengthPrefixed(std::string("a\0b", 3));
  enc.PutLengthPrefixed(std::string(300, 'x'));
  Decoder dec(buf);
  std::string_view v;
  ASSERT_TRUE(dec.GetLengthPrefixed(&v));
  EXPECT_EQ(v, "");
  ASSERT_TRUE(dec.GetLengthPrefixed(&v));
  EXPECT_EQ(v, std::string_view("a\0b", 3));
  Decoder copy = dec;  // a failed Get* may consume input; callers give up on false
  EXPECT_FALSE(copy.GetLengthPrefixed(&v, /*max_len=*/299)) << "over max_len";
  ASSERT_TRUE(dec.GetLengthPrefixed(&v, /*max_len=*/300));
  EXPECT_EQ(v, std::string(300, 'x'));
  EXPECT_TRUE(dec.empty());
}

TEST(CodingTest, LengthPrefixLargerThanInputFails) {
  std::string buf;
  Encoder enc(&buf);
  enc.PutVarint(10);
  enc.PutBytes("short");
  std::string_view v;
  EXPECT_FALSE(Decoder(buf).GetLengthPrefixed(&v));
  // A prefix near 2^64 must not wrap around a size check.
  std::string huge;
  Encoder(&huge).PutVarint(UINT64_MAX);
  huge += "abc";
  EXPECT_FALSE(Decoder(huge).GetLengthPrefixed(&v));
}

TEST(CodingTest, GetBytes) {
  Decoder dec("abcdef");
  std::string_view v;
  ASSERT_TRUE(dec.GetBytes(2, &v));
  EXPECT_EQ(v, "ab");
  EXPECT_FALSE(dec.GetBytes(5, &v));
  EXPECT_EQ(dec.remaining(), 4u);
  ASSERT_TRUE(dec.GetBytes(4, &v));
  EXPECT_EQ(v, "cdef");
  ASSERT_TRUE(dec.GetBytes(0, &v));
  EXPECT_TRUE(dec.empty());
}

TEST(CodingTest, BigEndianSortsNumerically) {
  const uint64_t values[] = {0, 1, 255, 256, 65535, 1ull << 32, UINT64_MAX};
  std::string prev;
  for (uint64_t v : values) {
    std::string k;
    PutBigEndian64(&k, v);
    ASSERT_EQ(k.size(), 8u);
    EXPECT_EQ(GetBigEndian64(k.data()), v);
    if (!prev.empty()) {
      EXPECT_LT(prev, k) << v;
    }
    prev = k;
  }
}

// Decoders are total: random bytes never crash them.
TEST(CodingTest, RandomInputNeverCrashes) {
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    std::string junk = testing::RandomBytes(seed % 40, seed);
    Decoder dec(junk);
    uint64_t v;
    uint32_t f;
    int64_t s;
    std::string_view b;
    while (!dec.empty()) {
      size_t before = dec.remaining();
      bool any = dec.GetVarint(&v) || dec.GetSignedVarint(&s) || dec.GetLengthPrefixed(&b) ||
                 dec.GetFixed32(&f) || dec.GetBytes(1, &b);
      ASSERT_TRUE(any);
      ASSERT_LT(dec.remaining(), before);
    }
  }
}

}  // namespace
}  // namespace keepfs
