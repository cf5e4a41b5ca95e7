#include "snapshot/quarantine.h"

#include <set>

#include "snapshot/catalog.h"
#include "snapshot/repo.h"
#include "snapshot/snapshot_record.h"
#include "store/coding.h"

namespace keepfs::snapshot {

namespace {
constexpr char kQuarantinePrefix[] = "X";
}  // namespace

std::string QuarantineKey(std::string_view user, std::string_view snapshot) {
  std::string k(kQuarantinePrefix);
  k.append(user);
  k.push_back('\0');
  k.append(snapshot);
  return k;
}

std::string EncodeQuarantine(const Quarantine& q) {
  std::string v;
  Encoder e(&v);
  e.PutU8(1);
  e.PutVarint(q.snapshot_number);
  e.PutSignedVarint(q.since_unix);
  e.PutVarint(q.paths.size());
  for (const auto& p : q.paths) {
    e.PutLengthPrefixed(p.path);
    e.PutLengthPrefixed(p.why);
  }
  return v;
}

Result<Quarantine> DecodeQuarantine(std::string_view key, std::string_view value) {
  Quarantine q;
  std::string_view snap;
  if (!SplitUserKey(key, &q.user, &snap)) return Status::Corruption("bad quarantine key");
  q.snapshot = std::string(snap);
  Decoder d(value);
  uint8_t version = 0;
  uint64_t n = 0;
  if (!d.GetU8(&version) || version != 1 || !d.GetVarint(&q.snapshot_number) ||
      !d.GetSignedVarint(&q.since_unix) || !d.GetVarint(&n) || n > value.size()) {
    return Status::Corruption("bad quarantine record of " + q.user + "/" + q.snapshot);
  }
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view path, why;
    if (!d.GetLengthPrefixed(&path) || !d.GetLengthPrefixed(&why)) {
      return Status::Corruption("bad quarantine record of " + q.user + "/" + q.snapshot);
    }
    q.paths.push_back({std::string(path), std::string(why)});
  }
  if (!d.empty()) return Status::Corruption("bad quarantine record of " + q.user + "/" + q.snapshot);
  return q;
}

Status ReplaceQuarantine(Store* store, const std::vector<Quarantine>& now) {
  WriteBatch batch;
  std::map<std::string, int64_t> since;  // key -> since_unix of the records there now
  auto it = store->kv().NewIterator(kQuarantinePrefix);
  for (; it->Valid(); it->Next()) {
    auto q = DecodeQuarantine(it->key(), it->value());
    if (q.ok()) since[std::string(it->key())] = q->since_unix;
    batch.Delete(it->key());
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  for (Quarantine q : now) {
    const std::string key = QuarantineKey(q.user, q.snapshot);
    if (auto s = since.find(key); s != since.end()) q.since_unix = s->second;
    batch.Put(key, EncodeQuarantine(q));
  }
  if (batch.Count() == 0) return Status::OK();
  return store->kv().Write(batch, /*sync=*/true);
}

Result<std::vector<Quarantine>> QuarantineProblems(Store* store,
                                                   const std::vector<CheckedObject>& problems,
                                                   int64_t now_unix) {
  std::map<std::pair<std::string, std::string>, Quarantine> by_snapshot;
  std::map<std::pair<std::string, std::string>, std::set<std::string>> listed;
  for (const CheckedObject& o : problems) {
    const std::string why =
        o.kind + " " + o.id + ": " + o.state + (o.message.empty() ? "" : ": " + o.message);
    for (const Affected& a : o.affects) {
      // A chunk lost with its pack names the same files as the pack.
      if (!listed[{a.user, a.snapshot}].insert(a.path).second) continue;
      Quarantine& q = by_snapshot[{a.user, a.snapshot}];
      q.user = a.user;
      q.snapshot = a.snapshot;
      q.paths.push_back({a.path, why});
    }
  }
  std::vector<Quarantine> out;
  Repo repo(store);
  for (auto& [who, q] : by_snapshot) {
    auto snap = repo.FindSnapshot(who.first, who.second);
    if (!snap.ok()) continue;
    q.snapshot_number = snap->number;
    q.since_unix = now_unix;
    out.push_back(std::move(q));
  }
  KEEPFS_RETURN_IF_ERROR(ReplaceQuarantine(store, out));
  return out;
}

Result<std::map<std::pair<std::string, std::string>, Quarantine>> ListQuarantine(
    Store* store, std::string_view user) {
  std::map<std::pair<std::string, std::string>, Quarantine> out;
  std::string prefix(kQuarantinePrefix);
  if (!user.empty()) {
    prefix.append(user);
    prefix.push_back('\0');
  }
  auto it = store->kv().NewIterator(prefix);
  for (; it->Valid(); it->Next()) {
    KEEPFS_ASSIGN_OR_RETURN(Quarantine q, DecodeQuarantine(it->key(), it->value()));
    std::string v;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv().Get(SnapshotKey(q.user, q.snapshot), &v));
    if (!found) continue;
    auto rec = DecodeSnapshotRecord(v);
    if (!rec.ok() || rec->number != q.snapshot_number) continue;  // gone, or another one now
    out.emplace(std::make_pair(q.user, q.snapshot), std::move(q));
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  return out;
}

}  // namespace keepfs::snapshot
