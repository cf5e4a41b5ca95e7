#include "store/object_id.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

TEST(ObjectIdTest, KnownSha256Vectors) {
  struct Case {
    std::string input;
    const char* hex;
  };
  const Case cases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      // FIPS 180-2: one million 'a'.
      {std::string(1000000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.hex);
    EXPECT_EQ(Sha256::Of(c.input).ToHex(), c.hex);
  }
}

TEST(ObjectIdTest, IncrementalMatchesOneShotAndResets) {
  std::string data = testing::RandomBytes(100000, 1);
  Sha256 h;
  for (size_t i = 0; i < data.size(); i += 777) h.Update(std::string_view(data).substr(i, 777));
  EXPECT_EQ(h.Finish(), Sha256::Of(data));
  // Finish resets: the same object hashes the next input from scratch.
  h.Update("abc");
  EXPECT_EQ(h.Finish().ToHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(h.Finish(), Sha256::Of(""));
}

TEST(ObjectIdTest, MovedHasherKeepsState) {
  Sha256 a;
  a.Update("ab");
  Sha256 b(std::move(a));
  b.Update("c");
  EXPECT_EQ(b.Finish(), Sha256::Of("abc"));
}

TEST(ObjectIdTest, HexRoundTrip) {
  ObjectId id = Sha256::Of("abc");
  ASSERT_OK_AND_ASSIGN(ObjectId back, ObjectId::FromHex(id.ToHex()));
  EXPECT_EQ(back, id);
  ASSERT_OK_AND_ASSIGN(
      ObjectId upper,
      ObjectId::FromHex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
  EXPECT_EQ(upper, id);
  EXPECT_EQ(id.ShortHex(), "ba7816bf8f01");
}

TEST(ObjectIdTest, FromHexRejectsBadInput) {
  std::string good = Sha256::Of("x").ToHex();
  const std::string bad[] = {"", good.substr(1), good + "0", "g" + good.substr(1),
                             good.substr(0, 63) + " "};
  for (const std::string& s : bad) {
    EXPECT_CODE(ObjectId::FromHex(s), StatusCode::kInvalidArgument) << s;
  }
}

TEST(ObjectIdTest, FromBytes) {
  ObjectId id = Sha256::Of("abc");
  ASSERT_OK_AND_ASSIGN(ObjectId back, ObjectId::FromBytes(id.AsBytes()));
  EXPECT_EQ(back, id);
  EXPECT_CODE(ObjectId::FromBytes(id.AsBytes().substr(1)), StatusCode::kCorruption);
  EXPECT_CODE(ObjectId::FromBytes(std::string(33, 'a')), StatusCode::kCorruption);
}

TEST(ObjectIdTest, ZeroAndOrdering) {
  ObjectId zero;
  EXPECT_TRUE(zero.IsZero());
  EXPECT_EQ(zero.ToHex(), std::string(64, '0'));
  ObjectId one;
  one.bytes[31] = 1;
  EXPECT_FALSE(one.IsZero());
  ObjectId high;
  high.bytes[0] = 1;
  EXPECT_LT(zero, one);
  EXPECT_LT(one, high);  // byte order, most significant first
  EXPECT_LT(one.AsBytes(), high.AsBytes());
}

TEST(ObjectIdTest, HashableInUnorderedSet) {
  std::unordered_set<ObjectId, ObjectIdHash> set;
  for (int i = 0; i < 1000; ++i) set.insert(Sha256::Of(std::to_string(i)));
  set.insert(Sha256::Of("0"));
  EXPECT_EQ(set.size(), 1000u);
  EXPECT_TRUE(set.count(Sha256::Of("999")));
}

}  // namespace
}  // namespace keepfs
