// The PackStore contract (store/pack_store.h) as value-parameterized tests
// (tests/testing/pack_store_contract.cc), instantiated once per backend: the
// local directory in store_test, RADOS in rados_test.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/pack_store.h"

namespace keepfs::testing {

struct PackStoreBackend {
  std::string name;
  // A new, empty pack store; nullptr with *skip set when the backend is not
  // available here (the test then skips, or fails if that is required).
  // *keep holds what the store needs (a temporary directory) until after
  // the store is gone.
  std::function<std::unique_ptr<PackStore>(std::string* skip, std::shared_ptr<void>* keep)> make;
};

class PackStoreContractTest : public ::testing::TestWithParam<PackStoreBackend> {
 protected:
  void SetUp() override;
  // Uploads bytes as pack id, in two appends, and seals it.
  void PutPack(uint64_t id, const std::string& bytes);
  // List(), sorted.
  std::vector<uint64_t> Listed();

  std::shared_ptr<void> keep_;  // destroyed after packs_
  std::unique_ptr<PackStore> packs_;
};

// gtest prints a parameter by this.
inline std::string BackendName(const ::testing::TestParamInfo<PackStoreBackend>& p) {
  return p.param.name;
}

}  // namespace keepfs::testing
