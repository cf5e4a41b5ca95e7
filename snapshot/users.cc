#include "snapshot/users.h"

#include <ctime>
#include <mutex>

#include "snapshot/catalog.h"
#include "store/coding.h"

namespace keepfs::snapshot {

namespace {
constexpr uint8_t kVersion = 2;  // 1 (uid hint, no number) predates the mount
}

std::string EncodeUserRecord(const UserRecord& r) {
  std::string v;
  Encoder enc(&v);
  enc.PutU8(kVersion);
  enc.PutVarint(r.number);
  enc.PutSignedVarint(r.created_unix);
  return v;
}

Result<UserRecord> DecodeUserRecord(std::string_view bytes) {
  Decoder dec(bytes);
  uint8_t version = 0;
  UserRecord r;
  if (!dec.GetU8(&version) || version != kVersion || !dec.GetVarint(&r.number) || r.number == 0 ||
      !dec.GetSignedVarint(&r.created_unix) || !dec.empty()) {
    return Status::Corruption("user record is damaged");
  }
  return r;
}

Result<std::optional<UserRecord>> GetUser(Store& store, std::string_view user) {
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store.kv().Get(UserKey(user), &value));
  if (!found) return std::optional<UserRecord>();
  auto r = DecodeUserRecord(value);
  if (!r.ok()) return r.status().WithContext("user " + std::string(user));
  return std::optional<UserRecord>(*r);
}

Result<UserRecord> EnsureUser(Store* store, std::string_view user) {
  KEEPFS_RETURN_IF_ERROR(ValidateUserName(user));
  static std::mutex mu;  // two first backups of one user must not both create it
  std::lock_guard<std::mutex> lock(mu);
  KEEPFS_ASSIGN_OR_RETURN(std::optional<UserRecord> existing, GetUser(*store, user));
  if (existing) return *existing;
  UserRecord r;
  KEEPFS_ASSIGN_OR_RETURN(r.number, store->AllocateNumber());
  r.created_unix = static_cast<int64_t>(std::time(nullptr));
  WriteBatch batch;
  batch.Put(UserKey(user), EncodeUserRecord(r));
  KEEPFS_RETURN_IF_ERROR(store->kv().Write(batch, /*sync=*/true));
  return r;
}

}  // namespace keepfs::snapshot
