#include "tools/server/job_record.h"

#include "store/coding.h"
#include "store/kv_store.h"

namespace keepfs::server {

namespace {
constexpr char kPrefix = 'J';
constexpr uint8_t kVersion = 1;
constexpr size_t kMaxText = 4096;

std::string Key(const std::string& name) { return std::string(1, kPrefix) + name; }

std::string Encode(const JobRecord& r) {
  std::string out;
  Encoder e(&out);
  e.PutU8(kVersion);
  e.PutSignedVarint(r.started_unix);
  e.PutSignedVarint(r.finished_unix);
  e.PutLengthPrefixed(r.result);
  e.PutSignedVarint(r.exit_code);
  e.PutLengthPrefixed(r.summary.substr(0, kMaxText));
  return out;
}

Result<JobRecord> Decode(std::string_view name, std::string_view bytes) {
  Decoder d(bytes);
  JobRecord r;
  r.name = name;
  uint8_t version = 0;
  std::string_view result, summary;
  int64_t code = 0;
  if (!d.GetU8(&version) || version != kVersion || !d.GetSignedVarint(&r.started_unix) ||
      !d.GetSignedVarint(&r.finished_unix) || !d.GetLengthPrefixed(&result, kMaxText) ||
      !d.GetSignedVarint(&code) || !d.GetLengthPrefixed(&summary, kMaxText) || !d.empty()) {
    return Status::Corruption("job record " + std::string(name) + " is malformed");
  }
  r.result = result;
  r.exit_code = static_cast<int>(code);
  r.summary = summary;
  return r;
}
}  // namespace

Status SaveJobRecord(Store* store, const JobRecord& r) {
  WriteBatch batch;
  batch.Put(Key(r.name), Encode(r));
  return store->kv().Write(batch, /*sync=*/true);
}

Result<std::optional<JobRecord>> LoadJobRecord(Store* store, const std::string& name) {
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv().Get(Key(name), &value));
  if (!found) return std::optional<JobRecord>();
  KEEPFS_ASSIGN_OR_RETURN(JobRecord r, Decode(name, value));
  return std::optional<JobRecord>(std::move(r));
}

Result<std::vector<JobRecord>> LoadJobRecords(Store* store) {
  std::vector<JobRecord> out;
  auto it = store->kv().NewIterator(std::string(1, kPrefix));
  for (; it->Valid(); it->Next()) {
    KEEPFS_ASSIGN_OR_RETURN(JobRecord r, Decode(it->key().substr(1), it->value()));
    out.push_back(std::move(r));
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  return out;
}

}  // namespace keepfs::server
