// Pins: files or folders of a snapshot that its user wants kept whatever
// retention decides. A pin names a path in a snapshot and holds the stored
// object found there (a file's content, a folder's tree), so the pinned bytes
// stay byte for byte even when later snapshots change or delete the file.
// Pins are roots of the user's reference counts (docs/accounting.md); when
// prune removes a snapshot that holds pins, a husk with only the pinned paths
// stays (gc/pins.h, docs/retention.md).
//
//   P USER 0x00 SNAPSHOT 0x00 PATH -> pin record (docs/format.md)
//
// This file is the record and reading it; pinning and unpinning are
// gc/pins.h.
//
// Thread safety: pure functions and reads of the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/tree.h"
#include "store/object_id.h"
#include "store/status.h"
#include "store/store.h"

namespace keepfs::snapshot {

struct Pin {
  std::string user;
  std::string snapshot;
  std::string path;  // relative, components joined by '/'; "" = the whole snapshot
  EntryType type = EntryType::kFile;
  // The object held: 'o' a file's content, 't' a folder's tree; 0 for the
  // kinds that hold no stored object (symlinks, devices, fifos, sockets).
  char kind = 0;
  ObjectId id;
  int64_t created_unix = 0;
  uint32_t by_uid = 0;  // who pinned it (0 also for the CLI run as root)
};

std::string EncodePin(const Pin& p);
// user, snapshot and path come from the key and are filled by the caller.
Result<Pin> DecodePin(std::string_view bytes);
// A whole pin record: its key (user, snapshot, path) and its value.
Result<Pin> PinFromKey(std::string_view key, std::string_view value);

// "docs//report.odt/" -> "docs/report.odt"; "/" and "" -> "". InvalidArgument
// for "." or ".." components.
Result<std::string> NormalizePinPath(std::string_view path);

// Pins of every user (user ""), of one user, or of one snapshot, in key
// order (user, snapshot, path).
Result<std::vector<Pin>> ListPins(Store* store, std::string_view user = {},
                                  std::string_view snapshot = {});
Result<std::optional<Pin>> FindPin(Store* store, std::string_view user, std::string_view snapshot,
                                   std::string_view path);
// The pin on path or on the nearest folder above it in that snapshot;
// nullopt when nothing pins it.
Result<std::optional<Pin>> FindCoveringPin(Store* store, std::string_view user,
                                           std::string_view snapshot, std::string_view path);

}  // namespace keepfs::snapshot
