// FileFingerprint: a cheap 128-bit hash of a file's logical bytes, holes
// read as zeros, that does not depend on how the file was chunked or which
// of its zero ranges were holes. The sharing pass (gc/sharing.h) groups
// contents by it to find identical files stored under different recipes (a
// sparse copy and a dense one); it then proves identity with SHA-256 before
// unifying anything, so a collision costs a wasted read, never data.
//
// Definition (format; docs/format.md, "Fingerprint records"): the logical
// bytes are cut into 64 KiB blocks (the last may be short); each block's
// XXH3-64 (seed 0) is appended as 8 little-endian bytes to a stream,
// followed by the total size as 8 little-endian bytes; the fingerprint is
// XXH3-128 (seed 0) of that stream, high half first, big-endian. A run of
// zeros covering whole blocks costs one precomputed hash per block, so a
// huge hole is cheap.
//
// Thread safety: a value owned by one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

struct XXH3_state_s;

namespace keepfs {

class FileFingerprint {
 public:
  using Digest = std::array<uint8_t, 16>;
  static constexpr size_t kBlock = 64 * 1024;

  FileFingerprint();
  ~FileFingerprint();
  FileFingerprint(const FileFingerprint&) = delete;
  FileFingerprint& operator=(const FileFingerprint&) = delete;

  // The next n bytes of the file, in order.
  void AddData(const void* data, size_t n);
  // The next n bytes are zeros (a hole).
  void AddZeros(uint64_t n);
  // The digest of everything added; then starts over for another file.
  Digest Finish();
  // Drops what was added (a file read again from the start).
  void Reset();

  // One call for a whole buffer (tests, the pass's re-checks).
  static Digest Of(const void* data, size_t n);

 private:
  void FlushBlock();
  void AppendBlockHash(uint64_t h);

  struct StateDeleter {
    void operator()(XXH3_state_s* s) const;
  };
  std::unique_ptr<XXH3_state_s, StateDeleter> state_;
  std::unique_ptr<uint8_t[]> block_;
  size_t fill_ = 0;
  uint64_t total_ = 0;
  uint64_t pending_[512];  // block hashes not yet fed to the state
  size_t npending_ = 0;
};

}  // namespace keepfs
