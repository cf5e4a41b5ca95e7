// The local directory's PackStore: the contract (tests/testing/
// pack_store_contract.cc) and what is particular to it.
#include "store/pack_store.h"

#include <gtest/gtest.h>

#include "store/file_util.h"
#include "tests/testing/pack_store_contract.h"
#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

std::unique_ptr<PackStore> MakeLocal(std::string* skip, std::shared_ptr<void>* keep) {
  auto dir = std::make_shared<testing::TempDir>();
  if (!MakeDirs(dir->Join("tmp")).ok() || !MakeDirs(dir->Join("packs")).ok()) {
    *skip = "cannot create a temporary store directory";
    return nullptr;
  }
  *keep = dir;
  return NewLocalPackStore(dir->path());
}

using testing::PackStoreContractTest;
INSTANTIATE_TEST_SUITE_P(Local, PackStoreContractTest,
                         ::testing::Values(testing::PackStoreBackend{"local", MakeLocal}),
                         testing::BackendName);

class LocalPackStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(MakeDirs(tmp_.Join("tmp")));
    ASSERT_OK(MakeDirs(tmp_.Join("packs")));
    packs_ = NewLocalPackStore(tmp_.path());
  }
  void PutPack(uint64_t id, const std::string& bytes) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<PackUpload> up, packs_->Create(id));
    ASSERT_OK(up->Append(bytes));
    ASSERT_OK(up->Seal());
  }

  testing::TempDir tmp_;
  std::unique_ptr<PackStore> packs_;
};

TEST_F(LocalPackStoreTest, PacksLiveInTheStoreDirectoryUnderTheirHexId) {
  PutPack(0x12a, "bytes");
  EXPECT_EQ(packs_->Describe(0x12a), "packs/2a/000000000000012a.pack");
  EXPECT_EQ(packs_->LocalPath(0x12a), tmp_.Join("packs/2a/000000000000012a.pack"));
  ASSERT_OK_AND_ASSIGN(std::string back, testing::ReadFile(packs_->LocalPath(0x12a)));
  EXPECT_EQ(back, "bytes");
}

TEST_F(LocalPackStoreTest, AnUploadWritesATemporaryFileThatIsRemovedUnlessSealed) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<PackUpload> up, packs_->Create(5));
    ASSERT_OK(up->Append("some bytes"));
    EXPECT_TRUE(PathExists(tmp_.Join("tmp/5.pack.tmp")));
  }
  EXPECT_FALSE(PathExists(tmp_.Join("tmp/5.pack.tmp")));
}

TEST_F(LocalPackStoreTest, RemoveUnsealedClearsWhatACrashLeftAndNothingElse) {
  PutPack(1, "sealed");
  ASSERT_OK(testing::WriteFile(tmp_.Join("tmp/2.pack.tmp"), "half a pack"));
  ASSERT_OK(testing::WriteFile(tmp_.Join("tmp/other"), "not ours"));
  ASSERT_OK(packs_->RemoveUnsealed());
  EXPECT_FALSE(PathExists(tmp_.Join("tmp/2.pack.tmp")));
  EXPECT_TRUE(PathExists(tmp_.Join("tmp/other")));
  ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> ids, packs_->List());
  EXPECT_EQ(ids, std::vector<uint64_t>{1});
}

TEST_F(LocalPackStoreTest, ASealedIdIsRefusedAtCreate) {
  PutPack(9, "first");
  EXPECT_CODE(packs_->Create(9), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace keepfs
