#include "tests/testing/test_util.h"

#include "store/file_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace keepfs::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/keepfs_test.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
    std::abort();  // every test using a TempDir depends on it
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "keeping the failed test's directory %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) std::fprintf(stderr, "cannot remove %s: %s\n", path_.c_str(), ec.message().c_str());
}

std::string TempDir::Join(std::string_view rel) const { return path_ + "/" + std::string(rel); }

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string RandomBytes(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::string out(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng.Next();
    for (int b = 0; b < 8; ++b) out[i + b] = static_cast<char>(v >> (8 * b));
  }
  uint64_t v = rng.Next();
  for (; i < n; ++i, v >>= 8) out[i] = static_cast<char>(v);
  return out;
}

namespace {
Status WriteAllTo(int fd, std::string_view bytes, uint64_t offset, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "writing " + path);
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::OK();
}
}  // namespace

Status WriteFile(const std::string& path, std::string_view bytes, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno(errno, "creating " + path);
  Status s = WriteAllTo(fd, bytes, 0, path);
  ::close(fd);
  return s;
}

Status WriteFileWithHole(const std::string& path, std::string_view bytes, uint64_t hole_start,
                         uint64_t hole_end) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "creating " + path);
  Status s = WriteAllTo(fd, bytes.substr(0, hole_start), 0, path);
  if (s.ok()) s = WriteAllTo(fd, bytes.substr(hole_end), hole_end, path);
  if (s.ok() && ::ftruncate(fd, static_cast<off_t>(bytes.size())) != 0) {
    s = Status::FromErrno(errno, "truncating " + path);  // a trailing hole
  }
  ::close(fd);
  return s;
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "opening " + path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Status::FromErrno(errno, "reading " + path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status PatchFile(const std::string& path, uint64_t offset, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "opening " + path);
  Status s = WriteAllTo(fd, bytes, offset, path);
  ::close(fd);
  return s;
}

Status FlipByte(const std::string& path, uint64_t offset, uint8_t mask) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "opening " + path);
  char c = 0;
  ssize_t n = ::pread(fd, &c, 1, static_cast<off_t>(offset));
  Status s;
  if (n != 1) {
    s = Status::InvalidArgument(path + ": no byte at offset " + std::to_string(offset));
  } else {
    c = static_cast<char>(c ^ mask);
    s = WriteAllTo(fd, std::string_view(&c, 1), offset, path);
  }
  ::close(fd);
  return s;
}

Status UnshareFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path().string());
  }
  if (ec) return Status::FromErrno(ec.value(), "listing " + dir);
  for (const std::string& path : files) {
    KEEPFS_ASSIGN_OR_RETURN(std::string bytes, ReadSmallFile(path));
    KEEPFS_RETURN_IF_ERROR(WriteFile(path + ".unshare", bytes));
    if (::rename((path + ".unshare").c_str(), path.c_str()) != 0) {
      return Status::FromErrno(errno, "renaming over " + path);
    }
  }
  return Status::OK();
}

InitOptions SmallChunkOptions() {
  InitOptions o;
  o.chunker = {/*min_size=*/16 * 1024, /*avg_size=*/64 * 1024, /*max_size=*/256 * 1024};
  return o;
}

Result<std::unique_ptr<Store>> InitAndOpen(const std::string& dir, const InitOptions& options) {
  KEEPFS_RETURN_IF_ERROR(Store::Init(dir, options));
  return Store::Open(dir, OpenMode::kReadWrite);
}

size_t CountKeys(Store* store, const std::string& prefix) {
  size_t n = 0;
  for (auto it = store->kv().NewIterator(prefix); it->Valid(); it->Next()) ++n;
  return n;
}

pid_t SpawnQuiet(const std::vector<std::string>& args) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

std::string Shell(const std::string& cmd, int* code) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *code = ::pclose(p);
  return out;
}

}  // namespace keepfs::testing
