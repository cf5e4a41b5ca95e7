#include "store/pack.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "store/coding.h"
#include "store/file_util.h"
#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

struct Blob {
  ObjectId id;
  Codec codec;
  std::string stored;
  uint32_t raw_len;
};

class PackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(MakeDirs(dir_.Join("tmp")));
    ASSERT_OK(MakeDirs(dir_.Join("packs/07")));
    tmp_ = dir_.Join("tmp/7.pack.tmp");
    final_ = dir_.Join(PackRelPath(7));
    packs_ = NewLocalPackStore(dir_.path());
    for (int i = 0; i < 5; ++i) {
      std::string data = testing::RandomBytes(1000 + 37 * i, i);
      blobs_.push_back({Sha256::Of(data), i % 2 ? Codec::kZstd : Codec::kRaw, data,
                        static_cast<uint32_t>(2000 + i)});
    }
  }

  // Writes and seals blobs_ into final_.
  void WritePack() {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<PackWriter> w, NewWriter());
    for (const Blob& b : blobs_) ASSERT_OK(w->Add(b.id, b.codec, b.stored, b.raw_len));
    ASSERT_OK(w->Seal());
    size_ = w->size();
  }

  Result<std::unique_ptr<PackWriter>> NewWriter() {
    KEEPFS_ASSIGN_OR_RETURN(std::unique_ptr<PackUpload> upload, packs_->Create(7));
    return PackWriter::Create(7, std::move(upload));
  }

  // The index of pack 7, which must be final_.
  Result<std::vector<PackEntry>> ReadIndex(const std::string& path) {
    EXPECT_EQ(path, final_);
    KEEPFS_ASSIGN_OR_RETURN(std::optional<uint64_t> size, packs_->Size(7));
    if (!size) return Status::NotFound(path);
    return ReadPackIndex(*packs_, 7, *size);
  }

  testing::TempDir dir_;
  std::unique_ptr<PackStore> packs_;
  std::string tmp_, final_;
  std::vector<Blob> blobs_;
  uint64_t size_ = 0;
};

TEST(PackPathTest, RelPathUsesLowByteAsSubdir) {
  EXPECT_EQ(PackRelPath(0x12a), "packs/2a/000000000000012a.pack");
  EXPECT_EQ(PackRelPath(1), "packs/01/0000000000000001.pack");
  EXPECT_EQ(PackRelPath(UINT64_MAX), "packs/ff/ffffffffffffffff.pack");
}

TEST_F(PackTest, SealedPackIndexReturnsEntries) {
  WritePack();
  EXPECT_FALSE(PathExists(tmp_));
  ASSERT_TRUE(PathExists(final_));
  uint64_t expected_size =
      kPackHeaderSize + kPackTrailerEntrySize * blobs_.size() + kPackFooterSize;
  for (const Blob& b : blobs_) expected_size += b.stored.size();
  EXPECT_EQ(size_, expected_size);
  ASSERT_OK_AND_ASSIGN(std::vector<PackEntry> entries, ReadIndex(final_));
  ASSERT_EQ(entries.size(), blobs_.size());
  ASSERT_OK_AND_ASSIGN(std::string file, testing::ReadFile(final_));
  EXPECT_EQ(file.size(), size_);
  EXPECT_EQ(file.substr(0, 8), "KEEPPACK");
  EXPECT_EQ(file.substr(file.size() - 8), "KEEPEND1");
  uint64_t offset = kPackHeaderSize;
  for (size_t i = 0; i < blobs_.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(entries[i].id, blobs_[i].id);
    EXPECT_EQ(entries[i].codec, blobs_[i].codec);
    EXPECT_EQ(entries[i].raw_len, blobs_[i].raw_len);
    EXPECT_EQ(entries[i].stored_len, blobs_[i].stored.size());
    EXPECT_EQ(entries[i].offset, offset);
    EXPECT_EQ(file.substr(entries[i].offset, entries[i].stored_len), blobs_[i].stored);
    offset += blobs_[i].stored.size();
  }
}

TEST_F(PackTest, AddReturnsEntriesMatchingTheIndex) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PackWriter> w, NewWriter());
  EXPECT_EQ(w->pack_id(), 7u);
  EXPECT_EQ(w->size(), kPackHeaderSize);
  ASSERT_OK_AND_ASSIGN(PackEntry e, w->Add(blobs_[0].id, Codec::kRaw, blobs_[0].stored, 1000));
  EXPECT_EQ(e.offset, kPackHeaderSize);
  EXPECT_EQ(w->entries().size(), 1u);
  EXPECT_EQ(w->size(), kPackHeaderSize + blobs_[0].stored.size());
  ASSERT_OK(w->Seal());
  ASSERT_OK_AND_ASSIGN(std::vector<PackEntry> entries, ReadIndex(final_));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].offset, e.offset);
}

TEST_F(PackTest, EmptyPackSealsAndReadsBack) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PackWriter> w, NewWriter());
  ASSERT_OK(w->Seal());
  ASSERT_OK_AND_ASSIGN(std::vector<PackEntry> entries, ReadIndex(final_));
  EXPECT_TRUE(entries.empty());
}

TEST_F(PackTest, FlippedTrailerByteIsCorruption) {
  WritePack();
  uint64_t trailer = size_ - kPackFooterSize - kPackTrailerEntrySize * blobs_.size();
  // Every byte of the trailer and footer is covered by a check, except the
  // footer's reserved u32 (trailer_offset u64, count u32, reserved u32, ...).
  uint64_t reserved = size_ - kPackFooterSize + 12;
  for (uint64_t pos = trailer; pos < size_; pos += 3) {
    if (pos >= reserved && pos < reserved + 4) continue;
    SCOPED_TRACE(pos);
    ASSERT_OK(testing::FlipByte(final_, pos, 0x01));
    EXPECT_CODE(ReadIndex(final_), StatusCode::kCorruption);
    ASSERT_OK(testing::FlipByte(final_, pos, 0x01));  // undo
  }
  EXPECT_OK(ReadIndex(final_));
}

TEST_F(PackTest, BadHeaderMagicIsCorruption) {
  WritePack();
  ASSERT_OK(testing::FlipByte(final_, 0));
  EXPECT_CODE(ReadIndex(final_), StatusCode::kCorruption);
}

TEST_F(PackTest, NewerPackVersionIsRefusedWithAdvice) {
  WritePack();
  ASSERT_OK(testing::FlipByte(final_, 8, 0x01));  // version 2 -> 3
  auto r = ReadIndex(final_);
  EXPECT_CODE(r, StatusCode::kNotSupported);
  EXPECT_NE(r.status().message().find("version 3"), std::string::npos) << r.status().ToString();
}

TEST_F(PackTest, TruncatedPackIsCorruption) {
  WritePack();
  ASSERT_OK_AND_ASSIGN(std::string file, testing::ReadFile(final_));
  std::vector<uint64_t> lengths = {0,
                                   1,
                                   kPackHeaderSize,
                                   kPackHeaderSize + kPackFooterSize - 1,
                                   kPackHeaderSize + kPackFooterSize,
                                   size_ / 2,
                                   size_ - 1,
                                   size_ - kPackFooterSize};
  for (uint64_t len : lengths) {
    SCOPED_TRACE(len);
    ASSERT_OK(testing::WriteFile(final_, std::string_view(file).substr(0, len)));
    EXPECT_CODE(ReadIndex(final_), StatusCode::kCorruption);
  }
}

TEST_F(PackTest, FileSizeLargerThanPackIsCorruption) {
  WritePack();
  ASSERT_OK_AND_ASSIGN(std::string file, testing::ReadFile(final_));
  ASSERT_OK(testing::WriteFile(final_, file + "x"));
  EXPECT_CODE(ReadIndex(final_), StatusCode::kCorruption);
}

TEST_F(PackTest, UnsealedWriterRemovesTempFile) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<PackWriter> w, NewWriter());
    ASSERT_OK(w->Add(blobs_[0].id, Codec::kRaw, blobs_[0].stored, 1000));
    EXPECT_TRUE(PathExists(tmp_));
  }
  EXPECT_FALSE(PathExists(tmp_));
  EXPECT_FALSE(PathExists(final_));
}

TEST_F(PackTest, SealedWriterDestructorKeepsPack) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<PackWriter> w, NewWriter());
    ASSERT_OK(w->Seal());
  }
  EXPECT_TRUE(PathExists(final_));
}

TEST_F(PackTest, CreateInMissingDirectoryFails) {
  auto packs = NewLocalPackStore(dir_.Join("no/such/dir"));
  EXPECT_CODE(packs->Create(7), StatusCode::kNotFound);
}

// A footer whose trailer offset wraps around 2^64 with a huge count: the
// sum used to match the file size and size a ~240 GB trailer buffer.
TEST(ParsePackIndexTest, WrappingTrailerOffsetIsCorruption) {
  std::string pack(kPackMagic, 8);
  Encoder enc(&pack);
  enc.PutFixed32(kPackVersion);
  enc.PutFixed32(0);
  uint32_t count = 0xffffffff;
  uint64_t file_size = kPackHeaderSize + kPackFooterSize;
  enc.PutFixed64(file_size - kPackFooterSize - uint64_t{count} * kPackTrailerEntrySize);
  enc.PutFixed32(count);
  enc.PutFixed32(0);
  pack.append(32, '\0');
  pack.append(kPackEndMagic, 8);
  ASSERT_EQ(pack.size(), file_size);
  auto r = ParsePackIndex(pack, "p.pack");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

}  // namespace
}  // namespace keepfs
