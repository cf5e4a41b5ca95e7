// A source tree with every kind of entry Linux has, for fidelity tests of
// restore and of the mount: files of many sizes and modes (setuid, setgid,
// sticky), odd names, hard links, symlinks (dangling, looping, long), fifo,
// devices, socket, a 1 GiB sparse file, xattrs, ACLs, chown'ed entries and a
// path far beyond PATH_MAX under deep/. Needs root (chown, mknod) and setfacl.
#pragma once

#include <string>

#include "tests/testing/test_util.h"  // Shell, which the tree's users call too

namespace keepfs::testing {

// Builds the tree at root (which must not exist). Uses gtest ASSERTs: check
// HasFatalFailure() after.
void BuildEveryKindTree(const std::string& root);
// The content of the file at the bottom of root/deep ("deep"), read with
// openat step by step; "<missing>" or "<unreadable>" otherwise.
std::string ReadDeepFile(const std::string& root);

}  // namespace keepfs::testing
