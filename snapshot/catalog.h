// Names and keys of the snapshot layer: user names, snapshot names and
// times, and the RocksDB key schema for trees, contents, snapshots, users and
// the files cache (docs/format.md).
//
// Thread safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/object_id.h"
#include "store/status.h"

namespace keepfs::snapshot {

// A user name is 1-32 of [a-z0-9_.-], starting with a letter, digit or '_'
// (the portable subset of Linux user names, safe as a mount folder name).
Status ValidateUserName(std::string_view user);

// "2026-10-01_030000", or "2026-10-01_030000_2" when seq is 2.
std::string FormatSnapshotName(int64_t time_sec, uint32_t seq);
// Parses a snapshot name back into time and seq. InvalidArgument if malformed.
Status ParseSnapshotName(std::string_view name, int64_t* time_sec, uint32_t* seq);
// Parses an ISO 8601 UTC time: "2026-10-01T03:00:00Z" (also "2026-10-01 03:00:00",
// "2026-10-01", or a snapshot name).
Result<int64_t> ParseUtcTime(std::string_view text);
// "2026-10-01 03:00:00" (UTC)
std::string FormatUtcTime(int64_t time_sec);

std::string TreeKey(const ObjectId& id);
std::string ContentKey(const ObjectId& id);
std::string SnapshotKey(std::string_view user, std::string_view name);
std::string SnapshotPrefix(std::string_view user);  // all snapshots of user
// The parts of a key KIND USER 0x00 REST (snapshot, deleted-snapshot and pin
// keys): false if there is no 0x00.
bool SplitUserKey(std::string_view key, std::string* user, std::string_view* rest);
inline constexpr char kSnapshotPrefix[] = "s";
// Forgotten snapshots that can still be undeleted (DeletedSnapshot).
std::string DeletedKey(std::string_view user, std::string_view name);
std::string DeletedPrefix(std::string_view user);  // "" = every user's
// Pins (snapshot/pins.h): P USER 0x00 SNAPSHOT 0x00 PATH.
std::string PinKey(std::string_view user, std::string_view snapshot, std::string_view path);
// A user's pins ("" = everyone's), or with a snapshot, that snapshot's.
std::string PinPrefix(std::string_view user, std::string_view snapshot = {});
// Fingerprint records: F FINGERPRINT(16) CONTENT-ID(32), empty value, one per
// chunked content a backup stored (store/file_fingerprint.h). Contents with
// the same fingerprint are probably identical files under different recipes:
// the sharing pass's work list (gc/sharing.h).
inline constexpr char kFingerprintPrefix[] = "F";
std::string FingerprintKey(const std::array<uint8_t, 16>& fingerprint, const ObjectId& content);
std::string UserKey(std::string_view user);
inline constexpr char kUserPrefix[] = "u";
// The content generation: a counter that every deletion of content records
// bumps in the same batch. Files-cache entries stamped with the current
// generation need no existence check. Absent means 0.
inline constexpr char kContentGenerationKey[] = "G";
Result<uint64_t> DecodeContentGeneration(std::string_view value);
// Files cache entries of one (user, source root).
std::string FilesCachePrefix(std::string_view user, std::string_view source_root);

}  // namespace keepfs::snapshot
