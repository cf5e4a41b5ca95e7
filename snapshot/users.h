// Users of a store: the record every user gets at its first backup (or at
// 'keepfs user add'), holding the user's store-wide number. The mount builds
// the inode numbers of /MOUNT/USER and its 'latest' link from that number.
//
// Thread safety: EnsureUser may be called from many threads; it serializes
// creation within the process (the store lock makes this the only writer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/status.h"
#include "store/store.h"

namespace keepfs::snapshot {

struct UserRecord {
  uint64_t number = 0;  // Store::AllocateNumber, > 0
  int64_t created_unix = 0;
};

std::string EncodeUserRecord(const UserRecord& r);
Result<UserRecord> DecodeUserRecord(std::string_view bytes);

// The user's record; nullopt if the user has none.
Result<std::optional<UserRecord>> GetUser(Store& store, std::string_view user);
// The user's record, created (with a fresh number, synced) if it does not exist.
Result<UserRecord> EnsureUser(Store* store, std::string_view user);

}  // namespace keepfs::snapshot
