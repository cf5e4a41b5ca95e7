// faultfs_probe: runs a script of file operations, one per argument, so that
// FaultFsTest can check the shim's durability model in one process (the
// shim's state is per process). Operations:
//   write:PATH:TEXT    create or truncate PATH and write TEXT
//   append:PATH:TEXT   append TEXT
//   fsync:PATH         fsync a file or a directory
//   rename:FROM:TO     unlink:PATH    mkdir:PATH
//   power-loss         the shim drops what is not synced and kills us
// Exits 0 when the script ran, 2 at the first failing call (errno printed).
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = s.find(':', start);
    parts.push_back(s.substr(start, colon - start));
    if (colon == std::string::npos) return parts;
    start = colon + 1;
  }
}

bool WriteText(const std::string& path, const std::string& text, int flags) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | flags, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

bool Fsync(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::vector<std::string> p = Split(argv[i]);
    bool ok = true;
    if (p[0] == "write" && p.size() == 3) {
      ok = WriteText(p[1], p[2], O_TRUNC);
    } else if (p[0] == "append" && p.size() == 3) {
      ok = WriteText(p[1], p[2], O_APPEND);
    } else if (p[0] == "fsync" && p.size() == 2) {
      ok = Fsync(p[1]);
    } else if (p[0] == "rename" && p.size() == 3) {
      ok = ::rename(p[1].c_str(), p[2].c_str()) == 0;
    } else if (p[0] == "unlink" && p.size() == 2) {
      ok = ::unlink(p[1].c_str()) == 0;
    } else if (p[0] == "mkdir" && p.size() == 2) {
      ok = ::mkdir(p[1].c_str(), 0755) == 0;
    } else if (p[0] == "power-loss") {
      auto hook = reinterpret_cast<void (*)()>(::dlsym(RTLD_DEFAULT, "keepfs_faultfs_power_loss"));
      if (hook == nullptr) {
        std::fprintf(stderr, "faultfs_probe: the shim is not loaded\n");
        return 3;
      }
      hook();
    } else {
      std::fprintf(stderr, "faultfs_probe: bad operation %s\n", argv[i]);
      return 1;
    }
    if (!ok) {
      std::fprintf(stderr, "faultfs_probe: %s: %s\n", argv[i], std::strerror(errno));
      return 2;
    }
  }
  return 0;
}
