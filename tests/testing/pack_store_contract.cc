#include "tests/testing/pack_store_contract.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "tests/testing/test_util.h"

namespace keepfs::testing {

void PackStoreContractTest::SetUp() {
  std::string skip;
  packs_ = GetParam().make(&skip, &keep_);
  if (!packs_) {
    const char* req = std::getenv("KEEPFS_REQUIRE_RADOS");
    if (req && std::string(req) == "1") FAIL() << GetParam().name << " is required: " << skip;
    GTEST_SKIP() << GetParam().name << " is not available: " << skip;
  }
}

void PackStoreContractTest::PutPack(uint64_t id, const std::string& bytes) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PackUpload> up, packs_->Create(id));
  ASSERT_OK(up->Append(bytes.substr(0, bytes.size() / 2)));
  ASSERT_OK(up->Append(bytes.substr(bytes.size() / 2)));
  ASSERT_OK(up->Seal());
}

std::vector<uint64_t> PackStoreContractTest::Listed() {
  auto l = packs_->List();
  EXPECT_OK(l);
  std::vector<uint64_t> ids = l.ok() ? *l : std::vector<uint64_t>{};
  std::sort(ids.begin(), ids.end());
  return ids;
}

namespace {

TEST_P(PackStoreContractTest, ASealedPackReadsBackByRangeAndIsListed) {
  const std::string bytes = RandomBytes(100000, 1);
  PutPack(0x12a, bytes);
  ASSERT_OK_AND_ASSIGN(std::optional<uint64_t> size, packs_->Size(0x12a));
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(*size, bytes.size());
  std::string part(777, '\0');
  ASSERT_OK(packs_->Read(0x12a, 4242, part.size(), part.data()));
  EXPECT_EQ(part, bytes.substr(4242, 777));
  EXPECT_EQ(Listed(), std::vector<uint64_t>{0x12a});
  EXPECT_NE(packs_->Describe(0x12a).find("000000000000012a"), std::string::npos)
      << packs_->Describe(0x12a);
}

TEST_P(PackStoreContractTest, NothingIsVisibleBeforeSealOrAfterAnAbandonedUpload) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<PackUpload> up, packs_->Create(5));
    ASSERT_OK(up->Append("some bytes"));
    EXPECT_TRUE(Listed().empty());
    ASSERT_OK_AND_ASSIGN(std::optional<uint64_t> size, packs_->Size(5));
    EXPECT_FALSE(size.has_value());
  }
  ASSERT_OK(packs_->RemoveUnsealed());
  EXPECT_TRUE(Listed().empty());
  ASSERT_OK_AND_ASSIGN(std::optional<uint64_t> size, packs_->Size(5));
  EXPECT_FALSE(size.has_value());
}

TEST_P(PackStoreContractTest, ASealedPackIsNeverOverwritten) {
  PutPack(9, "first");
  // Either Create or Seal refuses; the pack keeps its bytes.
  auto up = packs_->Create(9);
  if (up.ok()) {
    ASSERT_OK((*up)->Append("other"));
    EXPECT_CODE((*up)->Seal(), StatusCode::kAlreadyExists);
  } else {
    EXPECT_CODE(up, StatusCode::kAlreadyExists);
  }
  std::string back(5, '\0');
  ASSERT_OK(packs_->Read(9, 0, 5, back.data()));
  EXPECT_EQ(back, "first");
}

TEST_P(PackStoreContractTest, MissingPacksAndShortReadsAreCorruptionNotWrongBytes) {
  std::string buf(10, 'x');
  EXPECT_CODE(packs_->Read(3, 0, 10, buf.data()), StatusCode::kCorruption);
  PutPack(3, "0123456789");
  EXPECT_CODE(packs_->Read(3, 5, 10, buf.data()), StatusCode::kCorruption);
  EXPECT_CODE(packs_->Read(3, 50, 1, buf.data()), StatusCode::kCorruption);
}

TEST_P(PackStoreContractTest, RemoveIsIdempotentAndReadsAfterItFail) {
  PutPack(1, "one");
  PutPack(2, "two");
  ASSERT_OK(packs_->Remove(1));
  ASSERT_OK(packs_->Remove(1));
  ASSERT_OK(packs_->Remove(77));  // never existed
  EXPECT_EQ(Listed(), std::vector<uint64_t>{2});
  std::string buf(3, '\0');
  EXPECT_CODE(packs_->Read(1, 0, 3, buf.data()), StatusCode::kCorruption);
  ASSERT_OK(packs_->Read(2, 0, 3, buf.data()));
  EXPECT_EQ(buf, "two");
}

TEST_P(PackStoreContractTest, FreeBytesIsKnownOrSaidToBeUnknown) {
  auto free_bytes = packs_->FreeBytes();
  if (free_bytes.ok()) {
    EXPECT_GT(*free_bytes, 0u);
  } else {
    EXPECT_CODE(free_bytes, StatusCode::kNotSupported);
  }
}

TEST_P(PackStoreContractTest, ManyThreadsUploadAndReadAtOnce) {
  constexpr int kThreads = 4, kPer = 12;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        const uint64_t id = static_cast<uint64_t>(t * 1000 + i + 1);
        const std::string bytes = RandomBytes(5000 + i, id);
        auto up = packs_->Create(id);
        if (!up.ok() || !(*up)->Append(bytes).ok() || !(*up)->Seal().ok()) {
          ++failures;
          continue;
        }
        std::string back(bytes.size(), '\0');
        if (!packs_->Read(id, 0, back.size(), back.data()).ok() || back != bytes) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Listed().size(), static_cast<size_t>(kThreads * kPer));
}

}  // namespace
}  // namespace keepfs::testing
