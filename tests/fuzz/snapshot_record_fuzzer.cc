// DecodeSnapshotRecord and DecodeDeletedSnapshot (snapshot/snapshot_record.h):
// the records that make a snapshot visible and keep a forgotten one.
// The first input byte picks the decoder (even: record, odd: deleted record).
// Checks: errors are Corruption; decoded values keep the header's ranges
// (root metadata, link groups sorted by id and non-zero, a non-zero number
// when present); re-encoding gives the same value and the same bytes.
#include "snapshot/snapshot_record.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;
using namespace keepfs::snapshot;

namespace {
bool Same(const SnapshotRecord& a, const SnapshotRecord& b) {
  const SnapshotStats &x = a.stats, &y = b.stats;
  if (a.errors.size() != b.errors.size()) return false;
  for (size_t i = 0; i < a.errors.size(); ++i) {
    if (a.errors[i].path != b.errors[i].path || a.errors[i].message != b.errors[i].message) {
      return false;
    }
  }
  return a.time_sec == b.time_sec && a.seq == b.seq && a.root == b.root && a.source == b.source &&
         a.hostname == b.hostname && a.started_ns == b.started_ns &&
         a.finished_ns == b.finished_ns && x.files == y.files && x.dirs == y.dirs &&
         x.others == y.others && x.bytes_logical == y.bytes_logical &&
         x.bytes_read == y.bytes_read && x.bytes_new == y.bytes_new &&
         x.bytes_stored == y.bytes_stored && x.files_cached == y.files_cached &&
         a.root_meta == b.root_meta && a.number == b.number && a.links == b.links &&
         a.husk_unix == b.husk_unix;
}

void CheckRecord(const SnapshotRecord& r) {
  if (r.root_meta) FUZZ_CHECK(r.root_meta->mode <= 07777 && r.root_meta->mtime_nsec < 1000000000);
  for (size_t i = 0; i < r.links.size(); ++i) {
    FUZZ_CHECK(r.links[i].first != 0 && r.links[i].second != 0);
    if (i > 0) FUZZ_CHECK(r.links[i - 1].first < r.links[i].first);
  }
  std::string again = EncodeSnapshotRecord(r);
  Result<SnapshotRecord> r2 = DecodeSnapshotRecord(again);
  FUZZ_CHECK(r2.ok() && Same(*r2, r));
  FUZZ_CHECK(EncodeSnapshotRecord(*r2) == again);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view bytes = fuzz::Bytes(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    Result<SnapshotRecord> r = DecodeSnapshotRecord(bytes);
    if (!r.ok()) {
      fuzz::CheckCorruption(r.status());
      return 0;
    }
    CheckRecord(*r);
  } else {
    Result<DeletedSnapshot> d = DecodeDeletedSnapshot(bytes);
    if (!d.ok()) {
      fuzz::CheckCorruption(d.status());
      return 0;
    }
    CheckRecord(d->record);
    Result<DeletedSnapshot> d2 = DecodeDeletedSnapshot(EncodeDeletedSnapshot(*d));
    FUZZ_CHECK(d2.ok() && d2->deleted_unix == d->deleted_unix && d2->husk_left == d->husk_left &&
               Same(d2->record, d->record));
  }
  return 0;
}
