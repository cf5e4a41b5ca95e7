#include "snapshot/content.h"

#include <gtest/gtest.h>

#include <string>

#include "store/coding.h"
#include "store/compress.h"
#include "tests/testing/test_util.h"

namespace keepfs::snapshot {
namespace {

Content Inline(std::string data) {
  Content c;
  c.is_inline = true;
  c.size = data.size();
  c.inline_data = std::move(data);
  return c;
}

Content Chunked() {
  Content c;
  c.parts = {{Sha256::Of("chunk 1"), 300000},
             {ObjectId(), 10 << 20},  // a hole
             {Sha256::Of("chunk 2"), 4096},
             {Sha256::Of("chunk 1"), 300000}};  // repeated chunk
  for (const ContentPart& p : c.parts) c.size += p.length;
  return c;
}

void ExpectSame(const Content& a, const Content& b) {
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.is_inline, b.is_inline);
  EXPECT_EQ(a.inline_data, b.inline_data);
  ASSERT_EQ(a.parts.size(), b.parts.size());
  for (size_t i = 0; i < a.parts.size(); ++i) {
    EXPECT_EQ(a.parts[i].chunk, b.parts[i].chunk) << i;
    EXPECT_EQ(a.parts[i].length, b.parts[i].length) << i;
  }
}

std::string Text(size_t n) {
  std::string s;
  while (s.size() < n) s += "inline text compresses. ";
  s.resize(n);
  return s;
}

TEST(ContentTest, InlineRoundTrip) {
  Compressor compressor(3);
  for (std::string data : {std::string(), std::string("x"), Text(63), Text(64), Text(4096),
                           testing::RandomBytes(4000, 1)}) {
    SCOPED_TRACE(data.size());
    Content c = Inline(data);
    for (Compressor* comp : {static_cast<Compressor*>(nullptr), &compressor}) {
      ASSERT_OK_AND_ASSIGN(Content back, DecodeContent(EncodeContent(c, comp)));
      ExpectSame(back, c);
      EXPECT_EQ(back.DataBytes(), data.size());
    }
  }
}

TEST(ContentTest, InlineTextIsCompressed) {
  Compressor compressor(3);
  Content c = Inline(Text(4096));
  EXPECT_LT(EncodeContent(c, &compressor).size(), 1000u);
  EXPECT_GT(EncodeContent(c, nullptr).size(), 4096u);
}

TEST(ContentTest, ChunkedRoundTripWithHoles) {
  Content c = Chunked();
  ASSERT_OK_AND_ASSIGN(Content back, DecodeContent(EncodeContent(c, nullptr)));
  ExpectSame(back, c);
  EXPECT_TRUE(back.parts[1].is_hole());
  EXPECT_FALSE(back.parts[0].is_hole());
  EXPECT_EQ(back.DataBytes(), 300000u + 4096 + 300000);
  EXPECT_EQ(back.size, back.DataBytes() + (10 << 20));
}

TEST(ContentTest, EmptyChunkedContent) {
  Content c;  // zero parts, size 0
  ASSERT_OK_AND_ASSIGN(Content back, DecodeContent(EncodeContent(c, nullptr)));
  EXPECT_EQ(back.size, 0u);
  EXPECT_TRUE(back.parts.empty());
}

TEST(ContentTest, ContentIdIndependentOfInlineCompression) {
  Compressor compressor(3);
  Content c = Inline(Text(3000));
  std::string packed = EncodeContent(c, &compressor);
  std::string plain = EncodeContent(c, nullptr);
  ASSERT_NE(packed, plain);
  ASSERT_OK_AND_ASSIGN(Content a, DecodeContent(packed));
  ASSERT_OK_AND_ASSIGN(Content b, DecodeContent(plain));
  EXPECT_EQ(ContentId(a), ContentId(c));
  EXPECT_EQ(ContentId(b), ContentId(c));
}

TEST(ContentTest, ContentIdDistinguishesContents) {
  EXPECT_NE(ContentId(Inline("a")), ContentId(Inline("b")));
  EXPECT_NE(ContentId(Inline("")), ContentId(Content()));  // inline vs chunked empty
  Content c1 = Chunked(), c2 = Chunked();
  c2.parts[1].length += 1;
  c2.size += 1;
  EXPECT_NE(ContentId(c1), ContentId(c2));
  EXPECT_EQ(ContentId(c1), ContentId(Chunked()));
}

TEST(ContentTest, LengthsThatDoNotAddUpAreCorruption) {
  Content c = Chunked();
  c.size += 1;
  EXPECT_CODE(DecodeContent(EncodeContent(c, nullptr)), StatusCode::kCorruption);
  c.size -= 2;
  EXPECT_CODE(DecodeContent(EncodeContent(c, nullptr)), StatusCode::kCorruption);
  Content in = Inline("hello");
  in.size = 6;  // claims one byte more than it holds
  EXPECT_CODE(DecodeContent(EncodeContent(in, nullptr)), StatusCode::kCorruption);
}

TEST(ContentTest, MalformedPartsAreCorruption) {
  Content zero_len;
  zero_len.parts = {{Sha256::Of("c"), 0}};
  EXPECT_CODE(DecodeContent(EncodeContent(zero_len, nullptr)), StatusCode::kCorruption);
  // A data part whose id is all zeros (hole flag 0) cannot be told from a hole.
  std::string bytes;
  Encoder enc(&bytes);
  enc.PutU8(1);  // chunked
  enc.PutVarint(10);
  enc.PutVarint(1);
  enc.PutU8(0);  // not a hole
  enc.PutBytes(ObjectId().AsBytes());
  enc.PutVarint(10);
  EXPECT_CODE(DecodeContent(bytes), StatusCode::kCorruption);
  bytes[3] = 2;  // hole flag out of range
  EXPECT_CODE(DecodeContent(bytes), StatusCode::kCorruption);
}

TEST(ContentTest, UnknownKindOrCodecIsCorruption) {
  std::string bytes = EncodeContent(Inline("abc"), nullptr);
  std::string bad_kind = bytes;
  bad_kind[0] = 7;
  EXPECT_CODE(DecodeContent(bad_kind), StatusCode::kCorruption);
  std::string bad_codec = bytes;
  bad_codec[2] = 9;  // kind, size varint, codec
  EXPECT_CODE(DecodeContent(bad_codec), StatusCode::kCorruption);
  EXPECT_CODE(DecodeContent(""), StatusCode::kCorruption);
}

TEST(ContentTest, HugeInlineSizeIsRejectedWithoutAllocating) {
  std::string bytes;
  Encoder enc(&bytes);
  enc.PutU8(2);  // inline
  enc.PutVarint(uint64_t{1} << 62);
  enc.PutU8(0);
  EXPECT_CODE(DecodeContent(bytes), StatusCode::kCorruption);
}

TEST(ContentTest, TruncatedPrefixesNeverCrash) {
  Compressor compressor(3);
  const std::string encodings[] = {EncodeContent(Chunked(), nullptr),
                                   EncodeContent(Inline(Text(2000)), &compressor),
                                   EncodeContent(Inline(testing::RandomBytes(300, 2)), nullptr)};
  for (const std::string& full : encodings) {
    ASSERT_OK(DecodeContent(full));
    for (size_t n = 0; n < full.size(); ++n) {
      ASSERT_CODE(DecodeContent(std::string_view(full).substr(0, n)), StatusCode::kCorruption)
          << "prefix " << n << " of " << full.size();
    }
  }
}

TEST(ContentTest, RandomByteFlipsNeverCrash) {
  Compressor compressor(3);
  const std::string encodings[] = {EncodeContent(Chunked(), nullptr),
                                   EncodeContent(Inline(Text(2000)), &compressor)};
  testing::Rng rng(5);
  for (const std::string& full : encodings) {
    for (int i = 0; i < 2000; ++i) {
      std::string bad = full;
      bad[rng.Uniform(bad.size())] ^= static_cast<char>(1 + rng.Uniform(255));
      auto r = DecodeContent(bad);
      if (r.ok()) {
        // Whatever decodes is self-consistent.
        uint64_t sum = 0;
        for (const ContentPart& p : r->parts) sum += p.length;
        if (!r->is_inline) {
          EXPECT_EQ(sum, r->size);
        } else {
          EXPECT_EQ(r->inline_data.size(), r->size);
        }
      } else {
        EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
      }
    }
  }
}

}  // namespace
}  // namespace keepfs::snapshot
