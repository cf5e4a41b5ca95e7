// The MANIFEST of a store backup (store/store_backup.h): the commit point of
// a copy, naming every file that belongs to it with its size and SHA-256.
// One parser for the three readers: store-backup (the previous copy),
// store-backup --verify, and store-restore (store/store_restore.h).
//
// Text, one record per line:
//   keepfs-store-backup 1
//   store <store id>
//   generation <N>
//   created <unix time>
//   file <path relative to the copy> <size> <sha256, 64 hex digits>
//   ...
//   end
// Paths are relative, never contain "..", and have no spaces. A manifest
// without its "end" line, store id or generation is damaged (Corruption).
//
// Thread safety: plain values and functions; CopyHashing touches only the
// two paths it is given.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "store/status.h"

namespace keepfs {

struct BackupFile {
  uint64_t size = 0;
  std::string sha256;  // 64 lowercase hex digits
};

struct BackupManifest {
  std::string store_id;
  uint64_t generation = 0;
  int64_t created = 0;
  std::map<std::string, BackupFile> files;  // path relative to the copy

  // This generation's metadata directory ("meta.N") and config ("config.N.toml").
  std::string MetaDir() const { return "meta." + std::to_string(generation); }
  std::string ConfigFile() const { return "config." + std::to_string(generation) + ".toml"; }
};

std::string EncodeBackupManifest(const BackupManifest& m);
// where names the file in error messages.
Result<BackupManifest> ParseBackupManifest(const std::string& text, const std::string& where);
// Reads and parses DIR/MANIFEST: NotFound (saying it is not a copy) when
// there is none, Corruption when it does not parse.
Result<BackupManifest> ReadBackupManifest(const std::string& dir);

// Fills buf with up to len next bytes of a source; 0 at its end.
using ReadNext = std::function<Result<size_t>(char* buf, size_t len)>;
// Streams what read gives into dst (created or truncated), fsyncs dst, and
// returns the size and SHA-256 of the bytes read. dst empty: only hashes.
Result<BackupFile> CopyHashing(const ReadNext& read, const std::string& dst);
// The same from the file src.
Result<BackupFile> CopyHashing(const std::string& src, const std::string& dst);

}  // namespace keepfs
