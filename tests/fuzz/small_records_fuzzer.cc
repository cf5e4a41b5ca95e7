// The small per-user records (snapshot/users.h, pins.h, quarantine.h,
// accounting.h): user records, pin records and keys, quarantine records
// and keys, holder lists and usage accounts.
// The first input byte picks the decoder; for the keyed records the rest is
// split at the first 0xff byte into key and value.
// Checks: errors are Corruption; decoded values keep the header's promises
// (a user's number > 0, a pin holds an object exactly when its type does, a
// holder is never empty, holder counts > 0); re-encoding round-trips.
#include "snapshot/accounting.h"
#include "snapshot/pins.h"
#include "snapshot/quarantine.h"
#include "snapshot/users.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;
using namespace keepfs::snapshot;

namespace {
void User(std::string_view v) {
  Result<UserRecord> r = DecodeUserRecord(v);
  if (!r.ok()) return fuzz::CheckCorruption(r.status());
  FUZZ_CHECK(r->number > 0);
  Result<UserRecord> r2 = DecodeUserRecord(EncodeUserRecord(*r));
  FUZZ_CHECK(r2.ok() && r2->number == r->number && r2->created_unix == r->created_unix);
}

void PinRecord(std::string_view key, std::string_view v) {
  Result<Pin> p = key.empty() ? DecodePin(v) : PinFromKey(key, v);
  if (!p.ok()) return fuzz::CheckCorruption(p.status());
  bool holds = p->type == EntryType::kFile || p->type == EntryType::kDir;
  FUZZ_CHECK(holds == (p->kind != 0));
  FUZZ_CHECK(p->kind == 0 || p->kind == 'o' || p->kind == 't');
  Result<Pin> p2 = DecodePin(EncodePin(*p));
  FUZZ_CHECK(p2.ok() && p2->type == p->type && p2->kind == p->kind && p2->id == p->id &&
             p2->created_unix == p->created_unix && p2->by_uid == p->by_uid);
}

void QuarantineRecord(std::string_view key, std::string_view v) {
  Result<Quarantine> q = DecodeQuarantine(key, v);
  if (!q.ok()) return fuzz::CheckCorruption(q.status());
  Result<Quarantine> q2 = DecodeQuarantine(QuarantineKey(q->user, q->snapshot), EncodeQuarantine(*q));
  FUZZ_CHECK(q2.ok() && q2->user == q->user && q2->snapshot == q->snapshot &&
             q2->snapshot_number == q->snapshot_number && q2->since_unix == q->since_unix &&
             q2->paths.size() == q->paths.size());
  for (size_t i = 0; i < q->paths.size(); ++i) {
    FUZZ_CHECK(q2->paths[i].path == q->paths[i].path && q2->paths[i].why == q->paths[i].why);
  }
}

void Holders(std::string_view v) {
  auto h = DecodeHolders(v);
  if (!h.ok()) return fuzz::CheckCorruption(h.status());
  for (const std::string& u : *h) FUZZ_CHECK(!u.empty());
  auto h2 = DecodeHolders(EncodeHolders(*h));
  FUZZ_CHECK(h2.ok() && *h2 == *h);
}

void Holdings(std::string_view v) {
  auto h = DecodeHoldings(v);
  if (!h.ok()) return fuzz::CheckCorruption(h.status());
  for (const auto& [holders, bytes] : h->bytes_by_holders) FUZZ_CHECK(holders > 0);
  auto h2 = DecodeHoldings(EncodeHoldings(*h));
  FUZZ_CHECK(h2.ok() && h2->bytes_by_holders == h->bytes_by_holders);
  (void)h->charged();  // sums of fuzzed counts: must not trap (UBSan)
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest = fuzz::Bytes(data + 1, size - 1);
  size_t cut = rest.find('\xff');
  std::string_view key = cut == std::string_view::npos ? std::string_view() : rest.substr(0, cut);
  std::string_view value = cut == std::string_view::npos ? rest : rest.substr(cut + 1);
  switch (data[0] % 5) {
    case 0: User(rest); break;
    case 1: PinRecord(key, value); break;
    case 2: QuarantineRecord(key, value); break;
    case 3: Holders(rest); break;
    case 4: Holdings(rest); break;
  }
  return 0;
}
