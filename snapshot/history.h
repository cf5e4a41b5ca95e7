// A file's history: each distinct version of the file at one path across
// all of a user's snapshots, oldest first (docs/usage.md, "versions"). The
// per-file history of the mount (/MOUNT/USER/.versions/PATH/) and the CLI's
// `keepfs versions` both come from here.
//
// A version is what the file held: its type and content (a file's content
// id, a symlink's target, a device's number). The same bytes seen again
// later, after a change or a gap, are the same version, listed once, under
// the first snapshot that held it: YYYY-MM-DD_HHMMSS[_N].EXT, EXT the
// file's own extension.
//
// Cost: one path lookup per snapshot (a few tree nodes each, cached by the
// store), no per-snapshot state kept beyond the versions found.
//
// Thread safety: a pure function over a Repo (safe from many threads).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/repo.h"
#include "snapshot/tree.h"
#include "store/status.h"

namespace keepfs::snapshot {

struct FileVersion {
  std::string name;            // "2026-10-01_030000.odt"
  std::string first_snapshot;  // the first snapshot holding this version
  std::string last_snapshot;   // the last one
  int64_t first_time = 0, last_time = 0;
  uint32_t snapshots = 0;      // how many snapshots hold it
  Entry entry;                 // as the first snapshot holds it (mtime, size, mode, ...)
};

// The versions of user's path, oldest first. NotFound when no snapshot of
// user holds path; InvalidArgument when it is a folder in every snapshot
// that holds it (a folder's history is its files').
Result<std::vector<FileVersion>> FileHistory(const Repo& repo, std::string_view user,
                                             std::string_view path);

// ".odt" of "docs/report.odt"; "" for "Makefile", ".bashrc" or "a.d/b".
std::string FileExtension(std::string_view path);

}  // namespace keepfs::snapshot
