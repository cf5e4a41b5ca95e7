#include "store/chunker.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "store/object_id.h"
#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

// Small sizes keep the tests fast while exercising every rule.
constexpr ChunkerParams kSmall{/*min_size=*/16 * 1024, /*avg_size=*/64 * 1024,
                               /*max_size=*/256 * 1024};

// Cuts all of data into chunk lengths, as a caller at end of input does.
std::vector<size_t> CutAll(const Chunker& c, std::string_view data) {
  std::vector<size_t> cuts;
  size_t off = 0;
  while (off < data.size()) {
    size_t n = c.FindCut(reinterpret_cast<const uint8_t*>(data.data()) + off, data.size() - off);
    EXPECT_GT(n, 0u);
    EXPECT_LE(n, data.size() - off);
    if (n == 0) break;
    cuts.push_back(n);
    off += n;
  }
  return cuts;
}

std::vector<ObjectId> ChunkIds(std::string_view data, const std::vector<size_t>& cuts) {
  std::vector<ObjectId> ids;
  size_t off = 0;
  for (size_t n : cuts) {
    ids.push_back(Sha256::Of(data.substr(off, n)));
    off += n;
  }
  return ids;
}

TEST(ChunkerTest, ValidateAcceptsGoodParams) {
  EXPECT_OK(ValidateChunkerParams(ChunkerParams{}));
  EXPECT_OK(ValidateChunkerParams(kSmall));
  EXPECT_OK(ValidateChunkerParams({64, 128, 256}));
  EXPECT_OK(ValidateChunkerParams({1 << 20, 16 << 20, 64 << 20}));
}

TEST(ChunkerTest, ValidateRejectsBadParams) {
  const ChunkerParams bad[] = {
      {63, 128, 256},                       // min too small
      {128, 128, 256},                      // min == avg
      {256, 128, 512},                      // min > avg
      {64, 256, 256},                       // avg == max
      {64, 100, 256},                       // avg not a power of two
      {64, 96, 256},                        // avg not a power of two
      {1 << 20, 16 << 20, (64 << 20) + 1},  // max over 64 MiB
      {0, 0, 0},
  };
  for (const ChunkerParams& p : bad) {
    SCOPED_TRACE(std::to_string(p.min_size) + "/" + std::to_string(p.avg_size) + "/" +
                 std::to_string(p.max_size));
    EXPECT_CODE(ValidateChunkerParams(p), StatusCode::kInvalidArgument);
  }
}

TEST(ChunkerTest, CutsAreDeterministic) {
  std::string data = testing::RandomBytes(4 << 20, 11);
  Chunker a(kSmall), b(kSmall);
  std::vector<size_t> cuts = CutAll(a, data);
  EXPECT_EQ(cuts, CutAll(b, data));
  EXPECT_EQ(cuts, CutAll(a, data));
  EXPECT_GT(cuts.size(), 4u);
}

TEST(ChunkerTest, CutsRespectMinAndMaxExceptLast) {
  Chunker c(kSmall);
  for (uint64_t seed : {1, 2, 3}) {
    std::string data = testing::RandomBytes((3 << 20) + seed * 12345, seed);
    std::vector<size_t> cuts = CutAll(c, data);
    ASSERT_FALSE(cuts.empty());
    size_t total = 0;
    for (size_t i = 0; i < cuts.size(); ++i) {
      total += cuts[i];
      if (i + 1 < cuts.size()) {
        EXPECT_GE(cuts[i], kSmall.min_size) << "chunk " << i;
        EXPECT_LE(cuts[i], kSmall.max_size) << "chunk " << i;
      } else {
        EXPECT_LE(cuts[i], kSmall.max_size);
      }
    }
    EXPECT_EQ(total, data.size());
    // The average lands in the right ballpark (normalized chunking).
    double avg = static_cast<double>(data.size()) / cuts.size();
    EXPECT_GT(avg, kSmall.min_size);
    EXPECT_LT(avg, 2.0 * kSmall.avg_size);
  }
}

TEST(ChunkerTest, ShortAndUniformInputs) {
  Chunker c(kSmall);
  std::string tiny = "hello";
  EXPECT_EQ(c.FindCut(reinterpret_cast<const uint8_t*>(tiny.data()), tiny.size()), tiny.size());
  std::string at_min(kSmall.min_size, 'x');
  EXPECT_EQ(c.FindCut(reinterpret_cast<const uint8_t*>(at_min.data()), at_min.size()),
            at_min.size());
  // Zeros never hit the mask early: every chunk is max-sized.
  std::string zeros(kSmall.max_size * 3 + 5, '\0');
  std::vector<size_t> cuts = CutAll(c, zeros);
  ASSERT_EQ(cuts.size(), 4u);
  EXPECT_EQ(cuts[0], kSmall.max_size);
  EXPECT_EQ(cuts[3], 5u);
}

TEST(ChunkerTest, CutDoesNotDependOnBytesAfterIt) {
  // A refill (more bytes after the window) must not move a real cut.
  Chunker c(kSmall);
  std::string data = testing::RandomBytes(2 << 20, 5);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t full = c.FindCut(p, data.size());
  ASSERT_LT(full, kSmall.max_size) << "want a content-defined cut for this check";
  EXPECT_EQ(c.FindCut(p, full), full);
  EXPECT_EQ(c.FindCut(p, kSmall.max_size), full);
}

TEST(ChunkerTest, InsertionChangesOnlyNearbyChunks) {
  Chunker c(kSmall);
  std::string data = testing::RandomBytes(20 << 20, 42);
  std::string edited = data;
  edited.insert(edited.size() / 2, "inserted in the middle of the file");
  std::vector<ObjectId> before = ChunkIds(data, CutAll(c, data));
  std::vector<ObjectId> after = ChunkIds(edited, CutAll(c, edited));
  ASSERT_GT(before.size(), 100u);
  std::set<ObjectId> old_ids(before.begin(), before.end());
  size_t shared = 0;
  for (const ObjectId& id : after) shared += old_ids.count(id);
  EXPECT_GE(shared + 3, after.size()) << "only chunks around the insertion may change";
  EXPECT_LT(shared, after.size()) << "the chunk holding the insertion must change";
  // The same holds for a deletion near the start.
  std::string cut = data;
  cut.erase(1000, 7);
  std::vector<ObjectId> deleted = ChunkIds(cut, CutAll(c, cut));
  shared = 0;
  for (const ObjectId& id : deleted) shared += old_ids.count(id);
  EXPECT_GE(shared + 3, deleted.size());
}

TEST(ChunkerTest, DefaultParamsChunkLargeInput) {
  Chunker c(ChunkerParams{});
  std::string data = testing::RandomBytes(12 << 20, 9);
  std::vector<size_t> cuts = CutAll(c, data);
  EXPECT_GE(cuts.size(), 3u);
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    EXPECT_GE(cuts[i], ChunkerParams{}.min_size);
    EXPECT_LE(cuts[i], ChunkerParams{}.max_size);
  }
}

}  // namespace
}  // namespace keepfs
