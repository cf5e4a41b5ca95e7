// Helpers shared by the fuzz targets (docs/fuzzing.md).
//
// A target checks properties, not only survival: FUZZ_CHECK aborts with the
// failed condition, which libFuzzer reports as a crash and saves the input.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "store/status.h"

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace keepfs::fuzz {

inline std::string_view Bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A decoder of stored bytes fails only with Corruption: never another code,
// and never an OK status holding no value.
inline void CheckCorruption(const Status& s) { FUZZ_CHECK(s.code() == StatusCode::kCorruption); }

}  // namespace keepfs::fuzz
