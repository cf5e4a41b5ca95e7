#include "fs/mountinfo.h"

#include <fstream>
#include <sstream>

namespace keepfs::fs {

std::optional<MountEntry> FindMount(const std::string& mountpoint) {
  // Fields: id parent major:minor root mountpoint options [optional...] - fstype source ...
  std::ifstream in("/proc/self/mountinfo");
  std::optional<MountEntry> found;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, device, root, mp;
    f >> id >> parent >> device >> root >> mp;
    if (mp != mountpoint) continue;
    std::string tok;
    while (f >> tok && tok != "-") {
    }
    MountEntry e;
    e.device = device;
    f >> e.fstype >> e.source;
    found = std::move(e);  // later lines are newer mounts on top
  }
  return found;
}

}  // namespace keepfs::fs
