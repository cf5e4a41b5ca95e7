// Garbage collection as tests run it: RunGc expects success (a failure is a
// test failure and an empty result); ReclaimOptions reclaims everything
// unreferenced at once (no undelete window, no free-space floor).
#pragma once

#include <gtest/gtest.h>

#include <ctime>

#include "gc/collector.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {

inline gc::GcOptions ReclaimOptions(int64_t now_unix = std::time(nullptr)) {
  gc::GcOptions o;
  o.now_unix = now_unix;
  o.config.undelete_window_sec = 0;
  o.config.min_free_bytes = 0;
  return o;
}

inline gc::GcResult RunGc(Store* store, const gc::GcOptions& options) {
  auto r = gc::CollectGarbage(store, options);
  EXPECT_OK(r);
  return r.ok() ? *r : gc::GcResult{};
}

}  // namespace keepfs::testing
