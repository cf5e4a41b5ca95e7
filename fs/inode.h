// Inode numbers of the mount (docs/mount.md, "Inode numbers").
//
//   ino = number << 36 | local
//
// number is a store-wide number (Store::AllocateNumber) of a snapshot or a
// user, never reused; 0 is the mount's own space. local is:
//   mount space (number 0):   1 = the mount root (FUSE_ROOT_ID)
//   user U's number:          0 = /MOUNT/U, 1 = /MOUNT/U/latest,
//                             2 = /MOUNT/U/.keepfs, 3..5 = the files in it,
//                             6 = /MOUNT/U/.deleted/INDEX.txt,
//                             7 = /MOUNT/U/.versions, 8 = /MOUNT/U/.deleted;
//                             2^35 | h for a folder below those two, h a
//                             35-bit hash of its kind and path (the next free
//                             value on a collision while both are in use)
//   snapshot S's number:      the entry's ordinal in the depth-first walk of S
//                             (0 = the snapshot root), below 2^35; or
//                             2^35 | i for hard-link group i of S's record.
// The ordinal of a directory's first child is the directory's ordinal + 1,
// and each next sibling's is the previous one's plus its EntrySpan, so an
// entry's number follows from its path alone: stable across remounts and
// distinct per snapshot, with nothing stored per inode.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>

namespace keepfs::fs {

inline constexpr int kLocalBits = 36;
inline constexpr uint64_t kLocalMask = (uint64_t{1} << kLocalBits) - 1;
inline constexpr uint64_t kLinkFlag = uint64_t{1} << 35;
inline constexpr uint64_t kMaxOrdinal = kLinkFlag - 1;
inline constexpr uint64_t kMaxNumber = (uint64_t{1} << (64 - kLocalBits)) - 1;

inline constexpr uint64_t kRootIno = 1;
inline constexpr uint64_t kUserDirLocal = 0;
inline constexpr uint64_t kLatestLocal = 1;
inline constexpr uint64_t kMetaDirLocal = 2;   // /MOUNT/U/.keepfs
inline constexpr uint64_t kMetaFileLocal = 3;  // its files: 3, 4, 5; then INDEX.txt, 6
inline constexpr uint64_t kVersionsLocal = 7;  // /MOUNT/U/.versions
inline constexpr uint64_t kDeletedLocal = 8;   // /MOUNT/U/.deleted
inline constexpr uint64_t kHashedLocal = kLinkFlag;  // | h: folders below them

inline constexpr uint64_t MakeIno(uint64_t number, uint64_t local) {
  return number << kLocalBits | local;
}
inline constexpr uint64_t InoNumber(uint64_t ino) { return ino >> kLocalBits; }
inline constexpr uint64_t InoLocal(uint64_t ino) { return ino & kLocalMask; }

}  // namespace keepfs::fs
