// Test helpers shared by every keepfs test executable: a temporary directory
// that is kept when the test fails, status assertions that print the status,
// and small file and data helpers.
//
// Thread safety: TempDir and the helpers may be used from the test's thread;
// RandomBytes and Rng are pure/values.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include <string_view>

#include "store/status.h"
#include "store/store.h"

namespace keepfs::testing {

// A fresh directory under $TMPDIR (or /tmp). Removed with everything in it on
// destruction, unless the current test has failed: then it is kept and its
// path printed, so the failure can be inspected.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + rel
  std::string Join(std::string_view rel) const;

 private:
  std::string path_;
};

// The Status of a Status or of a Result<T>.
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

template <typename T>
::testing::AssertionResult IsOkFormat(const char* expr_text, const T& value) {
  const Status& s = StatusOf(value);
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expr_text << " failed: " << s.ToString();
}

template <typename T>
::testing::AssertionResult HasCodeFormat(const char* expr_text, const char* code_text,
                                         const T& value, StatusCode code) {
  const Status& s = StatusOf(value);
  if (s.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expr_text << " returned " << s.ToString() << ", expected "
                                       << code_text << " (" << StatusCodeName(code) << ")";
}

// Deterministic pseudo-random generator (splitmix64): the same seed gives the
// same bytes on every platform and run.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform-ish in [0, n); n > 0.
  uint64_t Uniform(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

std::string RandomBytes(size_t n, uint64_t seed);
// Runs cmd with /bin/sh; returns its stdout and sets *code to pclose's status.
std::string Shell(const std::string& cmd, int* code);

// Creates (or truncates) path with exactly bytes; mode applies on creation.
Status WriteFile(const std::string& path, std::string_view bytes, int mode = 0644);
// Like WriteFile, but [hole_start, hole_end) is left a hole (those bytes of
// `bytes` must be zeros): the same file as WriteFile's under another recipe.
Status WriteFileWithHole(const std::string& path, std::string_view bytes, uint64_t hole_start,
                         uint64_t hole_end);
// Reads a whole file of any size.
Result<std::string> ReadFile(const std::string& path);
// Overwrites bytes of an existing file at offset (for corruption tests).
Status PatchFile(const std::string& path, uint64_t offset, std::string_view bytes);
// XORs one byte of an existing file with mask.
Status FlipByte(const std::string& path, uint64_t offset, uint8_t mask = 0xff);
// Gives every regular file under dir an inode of its own (a copy, renamed
// over it): a store-backup on the store's filesystem hard-links the packs,
// and a test that damages the store must not damage its copy with it.
Status UnshareFiles(const std::string& dir);
// Starts args[0] with args in the background, stdout and stderr to
// /dev/null; the caller waits for (or kills) the returned pid.
pid_t SpawnQuiet(const std::vector<std::string>& args);

// Polls cond every 50 ms until it holds or timeout passes; its last answer.
// For what another thread or process does in its own time.
bool WaitFor(const std::function<bool()>& cond,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The number of keys in the store's database that start with prefix.
size_t CountKeys(Store* store, const std::string& prefix);

// Chunk sizes small enough that test files of a few MiB span many chunks.
InitOptions SmallChunkOptions();
// Store::Init(dir, options) then Store::Open(dir, kReadWrite).
Result<std::unique_ptr<Store>> InitAndOpen(const std::string& dir,
                                           const InitOptions& options = SmallChunkOptions());

}  // namespace keepfs::testing

// ASSERT_OK(expr) / EXPECT_OK(expr): expr is a keepfs::Status or Result<T>.
#define ASSERT_OK(expr) ASSERT_PRED_FORMAT1(::keepfs::testing::IsOkFormat, expr)
#define EXPECT_OK(expr) EXPECT_PRED_FORMAT1(::keepfs::testing::IsOkFormat, expr)

// ASSERT_CODE(expr, StatusCode::kCorruption): expr's status has that code.
#define ASSERT_CODE(expr, code) ASSERT_PRED_FORMAT2(::keepfs::testing::HasCodeFormat, expr, code)
#define EXPECT_CODE(expr, code) EXPECT_PRED_FORMAT2(::keepfs::testing::HasCodeFormat, expr, code)

// ASSERT_OK_AND_ASSIGN(auto x, ResultExpr()): asserts OK, then moves the value into lhs.
#define KEEPFS_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                      \
  ASSERT_OK(tmp);                                         \
  lhs = std::move(tmp).value()
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  KEEPFS_ASSERT_OK_AND_ASSIGN_IMPL_(KEEPFS_CONCAT_(keepfs_test_result_, __LINE__), lhs, expr)
