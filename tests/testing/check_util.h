// ExpectCheckClean: `keepfs check --verify-data` of a store, in process;
// every problem it reports is a test failure.
#pragma once

#include <gtest/gtest.h>

#include "snapshot/check.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

inline void ExpectCheckClean(Store* store) {
  snapshot::CheckOptions o;
  o.verify_data = true;
  auto s = snapshot::CheckStore(store, o, [&](const snapshot::CheckedObject& p) {
    if (!p.ok()) ADD_FAILURE() << p.kind << " " << p.id << " " << p.state << ": " << p.message;
  });
  EXPECT_OK(s);
  if (s.ok()) { EXPECT_EQ(s->problems, 0u); }
}

}  // namespace keepfs::testing
