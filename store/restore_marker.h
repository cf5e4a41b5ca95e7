// RestoreMarker: STORE/RESTORING, the file that says a store directory is
// being restored by keepfs store-restore (store/store_restore.h) and is not
// to be used until the restore finishes. It is written (atomically, fsynced)
// before the restore changes anything else in the directory and removed
// (unlink, directory fsynced) only after the restored store passed its
// audit, so a kill at any instant leaves either no marker and a store that
// was never touched or is whole, or the marker. Store::Open and Store::Init
// refuse a directory that holds it (RefuseIfRestoring).
//
// Text, one record per line:
//   keepfs-store-restore 1
//   backup <absolute path of BACKUP, to the end of the line>
//   generation <N of the backup's MANIFEST>
//   store <store id of the backup>
//   started <unix time; names the *.replaced.TIME directories>
//   packs verified|unverified
//   meta ours|theirs
//   end
//
// Thread safety: plain functions on files; one restore per directory (it
// holds the store lock).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/status.h"

namespace keepfs {

inline constexpr char kRestoreMarkerName[] = "RESTORING";

struct RestoreMarker {
  std::string backup;  // absolute path of the backup copy
  uint64_t generation = 0;
  std::string store_id;
  int64_t started = 0;
  // False while packs/ may hold files of the store being replaced that have
  // not been checked against the manifest (--replace before its sweep): a
  // pack under its final name is then not known to be whole.
  bool packs_verified = true;
  // False while a meta/ there is the replaced store's (to be moved aside,
  // never deleted); true once any meta/ can only be the restore's own.
  bool meta_ours = true;
};

// Writes STORE/RESTORING atomically and durably (replacing an older one).
Status WriteRestoreMarker(const std::string& store_dir, const RestoreMarker& marker);
// nullopt when there is no marker; Corruption when it does not parse.
Result<std::optional<RestoreMarker>> ReadRestoreMarker(const std::string& store_dir);
// Removes the marker (and a leftover temporary file of it) and fsyncs the
// directory.
Status RemoveRestoreMarker(const std::string& store_dir);
// OK when store_dir holds no marker. Otherwise InvalidArgument saying what to
// do: finish the interrupted restore with --resume (or, while the store lock
// is held, that a restore is running). Calls Store::LockHolder, so it must not
// run in a process that holds this store's lock (closing any descriptor of the
// lock file drops a process's fcntl lock).
Status RefuseIfRestoring(const std::string& store_dir);

}  // namespace keepfs
