#include "tools/bench/synthetic_files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace keepfs::bench {

namespace {
constexpr const char* kWords[] = {
    "the",     "backup",  "of",      "a",       "file",    "and",     "snapshot", "store",
    "report",  "budget",  "meeting", "notes",   "project", "draft",   "final",    "version",
    "school",  "office",  "family",  "photo",   "invoice", "letter",  "summary",  "table",
    "chapter", "section", "figure",  "data",    "result",  "method",  "review",   "plan",
    "monday",  "tuesday", "friday",  "weekend", "january", "march",   "october",  "year",
    "total",   "amount",  "price",   "number",  "value",   "index",   "list",     "item",
    "to",      "in",      "for",     "with",    "on",      "at",      "by",       "from",
    "is",      "was",     "will",    "should",  "could",   "not",     "all",      "some"};
constexpr size_t kWordCount = sizeof kWords / sizeof kWords[0];

Status Unsupported() { return Status::NotSupported("not part of the synthetic source"); }

class OneFile final : public snapshot::SourceFile {
 public:
  explicit OneFile(const OneFileDir* dir) : dir_(dir) {}
  Status Stat(struct stat* st) override {
    *st = dir_->FileStat();
    return Status::OK();
  }
  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    const std::string& d = dir_->data();
    if (offset >= d.size()) return size_t{0};
    size_t k = std::min<uint64_t>(n, d.size() - offset);
    std::memcpy(buf, d.data() + offset, k);
    return k;
  }
  Result<std::optional<uint64_t>> NextData(uint64_t) override { return Unsupported(); }
  Result<uint64_t> NextHole(uint64_t) override { return Unsupported(); }
  Result<std::vector<snapshot::Xattr>> Xattrs() override {
    return std::vector<snapshot::Xattr>();
  }

 private:
  const OneFileDir* dir_;
};
}  // namespace

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string SyntheticText(uint64_t seed, uint64_t file, uint32_t version, size_t size) {
  std::string out;
  out.reserve(size + 16);
  // The first line makes every (file, version) distinct even when short.
  out += "file " + std::to_string(file) + " version " + std::to_string(version) + "\n";
  uint64_t state = Mix(seed ^ Mix(file * 1000003 + version));
  size_t words_on_line = 0;
  while (out.size() < size) {
    state = Mix(state);
    out += kWords[state % kWordCount];
    out += ++words_on_line % 12 == 0 ? '\n' : ' ';
  }
  out.resize(size);
  return out;
}

OneFileDir::OneFileDir(std::string name, std::string data, int64_t mtime_sec, uint64_t ino)
    : name_(std::move(name)), data_(std::move(data)), mtime_sec_(mtime_sec), ino_(ino) {}

struct stat OneFileDir::FileStat() const {
  struct stat st {};
  st.st_mode = S_IFREG | 0644;
  st.st_nlink = 1;
  st.st_uid = 1000;
  st.st_gid = 1000;
  st.st_ino = ino_;
  st.st_size = static_cast<off_t>(data_.size());
  st.st_blocks = static_cast<blkcnt_t>((data_.size() + 511) / 512);
  st.st_mtim.tv_sec = mtime_sec_;
  st.st_ctim.tv_sec = mtime_sec_;
  return st;
}

Status OneFileDir::StatSelf(struct stat*) { return Unsupported(); }
Result<std::vector<snapshot::Xattr>> OneFileDir::XattrsSelf() { return Unsupported(); }
Result<std::vector<std::string>> OneFileDir::List() { return std::vector<std::string>{name_}; }
Status OneFileDir::Stat(const std::string& name, struct stat* st) {
  if (name != name_) return Status::FromErrno(ENOENT, name);
  *st = FileStat();
  return Status::OK();
}
Result<std::vector<snapshot::Xattr>> OneFileDir::Xattrs(const std::string&) {
  return std::vector<snapshot::Xattr>();
}
Result<std::string> OneFileDir::ReadLink(const std::string&) { return Unsupported(); }
Result<std::unique_ptr<snapshot::SourceDir>> OneFileDir::OpenDir(const std::string&) {
  return Unsupported();
}
Result<std::unique_ptr<snapshot::SourceFile>> OneFileDir::OpenFile(const std::string& name) {
  if (name != name_) return Status::FromErrno(ENOENT, name);
  return std::unique_ptr<snapshot::SourceFile>(std::make_unique<OneFile>(this));
}

}  // namespace keepfs::bench
