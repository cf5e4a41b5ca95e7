#include "store/store.h"
#include "store/pack.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "store/chunk_store.h"
#include "store/file_util.h"
#include "store/restore_marker.h"
#include "tests/testing/test_util.h"

namespace keepfs {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  std::string Dir() const { return tmp_.Join("store"); }

  // Replaces the first occurrence of from in config.toml.
  void EditConfig(const std::string& from, const std::string& to) {
    std::string path = Dir() + "/config.toml";
    ASSERT_OK_AND_ASSIGN(std::string text, testing::ReadFile(path));
    size_t pos = text.find(from);
    ASSERT_NE(pos, std::string::npos) << "config.toml has no '" << from << "':\n" << text;
    text.replace(pos, from.size(), to);
    ASSERT_OK(testing::WriteFile(path, text));
  }

  testing::TempDir tmp_;
};

// Runs fn in a forked child and returns its exit code. fcntl locks belong to
// a process, so only another process can observe the store lock.
template <typename Fn>
int RunInChild(Fn fn) {
  fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  if (pid < 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -2;
  return WEXITSTATUS(status);
}

// Child exit codes for lock probes.
constexpr int kChildOpened = 0, kChildBusyWithPid = 10, kChildBusyNoPid = 11, kChildOther = 12;

int ProbeOpen(const std::string& dir, OpenMode mode, pid_t holder) {
  auto r = Store::Open(dir, mode);
  if (r.ok()) return kChildOpened;
  if (r.status().code() != StatusCode::kBusy) return kChildOther;
  std::string want = "in use by PID " + std::to_string(holder);
  return r.status().message().find(want) != std::string::npos ? kChildBusyWithPid : kChildBusyNoPid;
}

TEST_F(StoreTest, InitThenOpen) {
  InitOptions o;
  o.chunker = {4096, 16384, 65536};
  o.inline_max = 1000;
  o.compression_level = 5;
  ASSERT_OK(Store::Init(Dir(), o));
  for (const char* sub : {"/config.toml", "/meta", "/packs", "/tmp", "/lock"}) {
    EXPECT_TRUE(PathExists(Dir() + sub)) << sub;
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> s, Store::Open(Dir(), OpenMode::kReadWrite));
  EXPECT_TRUE(s->writable());
  EXPECT_EQ(s->dir(), Dir());
  const StoreMeta& m = s->meta();
  EXPECT_EQ(m.format_version, kFormatVersion);
  EXPECT_EQ(m.store_id.size(), 32u);
  EXPECT_EQ(m.chunker.min_size, 4096u);
  EXPECT_EQ(m.chunker.avg_size, 16384u);
  EXPECT_EQ(m.chunker.max_size, 65536u);
  EXPECT_EQ(m.inline_max, 1000u);
  EXPECT_EQ(m.compression_level, 5);
  EXPECT_GT(m.created_unix, 1600000000);
  std::string id = m.store_id;
  s.reset();
  ASSERT_OK_AND_ASSIGN(s, Store::Open(Dir(), OpenMode::kReadOnly));
  EXPECT_FALSE(s->writable());
  EXPECT_TRUE(s->kv().read_only());
  EXPECT_EQ(s->meta().store_id, id);
}

// NextNumber says what AllocateNumber hands out next, without taking it,
// also after a reopen (the NFS export's index asks it whether a number was
// ever given out).
TEST_F(StoreTest, NextNumberIsWhatAllocateNumberGivesNext) {
  ASSERT_OK(Store::Init(Dir(), {}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> s, Store::Open(Dir(), OpenMode::kReadWrite));
  ASSERT_OK_AND_ASSIGN(uint64_t next, s->NextNumber());
  EXPECT_EQ(next, 1u);
  ASSERT_OK_AND_ASSIGN(uint64_t a, s->AllocateNumber());
  EXPECT_EQ(a, next);
  ASSERT_OK_AND_ASSIGN(uint64_t b, s->AllocateNumber());
  EXPECT_EQ(b, a + 1);
  ASSERT_OK_AND_ASSIGN(next, s->NextNumber());
  EXPECT_EQ(next, b + 1);
  s.reset();
  ASSERT_OK_AND_ASSIGN(s, Store::Open(Dir(), OpenMode::kReadOnly));
  ASSERT_OK_AND_ASSIGN(next, s->NextNumber());
  EXPECT_EQ(next, b + 1);
}

TEST_F(StoreTest, StoreIdsAreUnique) {
  ASSERT_OK(Store::Init(tmp_.Join("a"), {}));
  ASSERT_OK(Store::Init(tmp_.Join("b"), {}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> a, Store::Open(tmp_.Join("a"), OpenMode::kReadOnly));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> b, Store::Open(tmp_.Join("b"), OpenMode::kReadOnly));
  EXPECT_NE(a->meta().store_id, b->meta().store_id);
}

TEST_F(StoreTest, InitIntoExistingEmptyDirectory) {
  ASSERT_OK(MakeDirs(Dir()));
  ASSERT_OK(Store::Init(Dir(), {}));
  EXPECT_OK(Store::Open(Dir(), OpenMode::kReadWrite));
}

TEST_F(StoreTest, InitTwiceIsAlreadyExists) {
  ASSERT_OK(Store::Init(Dir(), {}));
  EXPECT_CODE(Store::Init(Dir(), {}), StatusCode::kAlreadyExists);
  EXPECT_OK(Store::Open(Dir(), OpenMode::kReadOnly)) << "the failed init must not damage it";
}

TEST_F(StoreTest, InitRejectsBadOptions) {
  InitOptions bad_chunks;
  bad_chunks.chunker = {100, 1000, 2000};  // avg not a power of two
  EXPECT_CODE(Store::Init(Dir(), bad_chunks), StatusCode::kInvalidArgument);
  for (int level : {0, 20}) {
    InitOptions bad_level;
    bad_level.compression_level = level;
    EXPECT_CODE(Store::Init(Dir(), bad_level), StatusCode::kInvalidArgument) << level;
  }
  EXPECT_FALSE(PathExists(Dir() + "/config.toml"));
}

TEST_F(StoreTest, OpenMissingDirIsNotFoundWithAdvice) {
  auto r = Store::Open(tmp_.Join("missing"), OpenMode::kReadOnly);
  ASSERT_CODE(r, StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("keepfs init"), std::string::npos) << r.status().ToString();
}

TEST_F(StoreTest, OpenNonStoreDirIsNotFound) {
  ASSERT_OK(MakeDirs(Dir()));
  ASSERT_OK(testing::WriteFile(Dir() + "/unrelated.txt", "hello"));
  for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
    auto r = Store::Open(Dir(), mode);
    ASSERT_CODE(r, StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("keepfs init"), std::string::npos);
  }
  // A regular file is not a store either.
  auto r = Store::Open(Dir() + "/unrelated.txt", OpenMode::kReadOnly);
  EXPECT_CODE(r, StatusCode::kNotFound);
}

TEST_F(StoreTest, SecondWriterInAnotherProcessIsBusy) {
  ASSERT_OK(Store::Init(Dir(), {}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> s, Store::Open(Dir(), OpenMode::kReadWrite));
  pid_t me = ::getpid();
  std::string dir = Dir();
  EXPECT_EQ(RunInChild([&] { return ProbeOpen(dir, OpenMode::kReadWrite, me); }),
            kChildBusyWithPid);
  // Readers wait for the writer too: they take a shared lock.
  EXPECT_EQ(RunInChild([&] { return ProbeOpen(dir, OpenMode::kReadOnly, me); }), kChildBusyWithPid);
  // Once the writer closes, the child gets in.
  s.reset();
  EXPECT_EQ(RunInChild([&] { return ProbeOpen(dir, OpenMode::kReadWrite, me); }), kChildOpened);
}

TEST_F(StoreTest, ReadersShareButExcludeWriters) {
  ASSERT_OK(Store::Init(Dir(), {}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> s, Store::Open(Dir(), OpenMode::kReadOnly));
  pid_t me = ::getpid();
  std::string dir = Dir();
  EXPECT_EQ(RunInChild([&] { return ProbeOpen(dir, OpenMode::kReadOnly, me); }), kChildOpened);
  EXPECT_EQ(RunInChild([&] { return ProbeOpen(dir, OpenMode::kReadWrite, me); }),
            kChildBusyWithPid);
}

TEST_F(StoreTest, EditedChunkingIsInvalidArgument) {
  ASSERT_OK(Store::Init(Dir(), {}));
  EditConfig("avg_size = 1048576", "avg_size = 2097152");
  auto r = Store::Open(Dir(), OpenMode::kReadOnly);
  ASSERT_CODE(r, StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("chunking"), std::string::npos) << r.status().ToString();
  EditConfig("avg_size = 2097152", "avg_size = 1048576");
  EXPECT_OK(Store::Open(Dir(), OpenMode::kReadOnly));
}

TEST_F(StoreTest, EditedInlineMaxOrStoreIdIsInvalidArgument) {
  ASSERT_OK(Store::Init(Dir(), {}));
  EditConfig("inline_max = 4096", "inline_max = 8192");
  EXPECT_CODE(Store::Open(Dir(), OpenMode::kReadOnly), StatusCode::kInvalidArgument);
  EditConfig("inline_max = 8192", "inline_max = 4096");
  EditConfig("id = \"", "id = \"0");
  EXPECT_CODE(Store::Open(Dir(), OpenMode::kReadOnly), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, CompressionLevelIsTunable) {
  ASSERT_OK(Store::Init(Dir(), {}));
  EditConfig("level = 3", "level = 9");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> s, Store::Open(Dir(), OpenMode::kReadOnly));
  EXPECT_EQ(s->meta().compression_level, 9);
  s.reset();
  EditConfig("level = 9", "level = 42");
  EXPECT_CODE(Store::Open(Dir(), OpenMode::kReadOnly), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, MalformedConfigIsInvalidArgument) {
  ASSERT_OK(Store::Init(Dir(), {}));
  ASSERT_OK(testing::WriteFile(Dir() + "/config.toml", "[store\nthis is not toml"));
  auto r = Store::Open(Dir(), OpenMode::kReadOnly);
  ASSERT_CODE(r, StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("config.toml"), std::string::npos);
}

TEST_F(StoreTest, MissingConfigIsNotFound) {
  ASSERT_OK(Store::Init(Dir(), {}));
  ASSERT_EQ(::unlink((Dir() + "/config.toml").c_str()), 0);
  EXPECT_CODE(Store::Open(Dir(), OpenMode::kReadOnly), StatusCode::kNotFound);
}

// An init killed before it wrote config.toml leaves meta/ only; init again
// must finish the job rather than refuse forever.
TEST_F(StoreTest, InitAfterAnInterruptedInitStartsOver) {
  ASSERT_OK(Store::Init(Dir(), {}));
  ASSERT_EQ(::unlink((Dir() + "/config.toml").c_str()), 0);
  ASSERT_OK(Store::Init(Dir(), {}));
  EXPECT_OK(Store::Open(Dir(), OpenMode::kReadWrite));
}

TEST_F(StoreTest, InitRefusesADirectoryWithPacksButNoConfig) {
  ASSERT_OK(Store::Init(Dir(), {}));
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(Dir(), OpenMode::kReadWrite));
    Compressor c(3);
    std::string data = testing::RandomBytes(5000, 1);
    ASSERT_OK(store->chunks().Put(Sha256::Of(data), data, c));
    ASSERT_OK(store->chunks().Flush());
  }
  ASSERT_EQ(::unlink((Dir() + "/config.toml").c_str()), 0);
  auto s = Store::Init(Dir(), {});
  EXPECT_CODE(s, StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("packs"), std::string::npos) << s.ToString();
  EXPECT_FALSE(ListPackFiles(Dir()).empty()) << "nothing may be deleted";
}

// STORE/RESTORING (store/restore_marker.h): every way in refuses the
// directory with what to do, and names the restoring process while it runs.
TEST_F(StoreTest, OpenAndInitRefuseAHalfRestoredStore) {
  ASSERT_OK(Store::Init(Dir(), {}));
  RestoreMarker marker;
  marker.backup = "/backups/copy";
  marker.generation = 3;
  marker.store_id = "0123456789abcdef0123456789abcdef";
  ASSERT_OK(WriteRestoreMarker(Dir(), marker));
  ASSERT_OK_AND_ASSIGN(std::optional<RestoreMarker> back, ReadRestoreMarker(Dir()));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->backup, marker.backup);
  EXPECT_EQ(back->generation, 3u);
  const std::string advice = Dir() + " is half-restored from /backups/copy (keepfs store-restore "
                             "was interrupted); finish it with: keepfs store-restore --resume "
                             "/backups/copy " + Dir();
  for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
    auto r = Store::Open(Dir(), mode);
    EXPECT_CODE(r, StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), advice);
  }
  EXPECT_EQ(Store::Init(Dir(), {}).message(), advice);
  // While the restoring process holds the lock, it is named instead.
  {
    ASSERT_OK_AND_ASSIGN(UniqueFd lock, Store::LockExclusive(Dir()));
    std::string dir = Dir(), want = "is being restored from /backups/copy by PID " +
                                    std::to_string(::getpid());
    EXPECT_EQ(RunInChild([&] {
                auto r = Store::Open(dir, OpenMode::kReadOnly);
                return !r.ok() && r.status().message().find(want) != std::string::npos ? 0 : 1;
              }),
              0);
  }
  ASSERT_OK(RemoveRestoreMarker(Dir()));
  EXPECT_OK(Store::Open(Dir(), OpenMode::kReadWrite));
}

// A store restored from a store-backup copy has no file (and perhaps no
// packs/XX directory) for a pack condemned when the copy was taken; the
// read-write open that finishes removing it must not fail on that.
TEST_F(StoreTest, AReadWriteOpenFinishesACondemnedPackWhoseDirectoryIsGone) {
  ASSERT_OK(Store::Init(Dir(), {}));
  const uint64_t id = 0x4d;
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(Dir(), OpenMode::kReadWrite));
    PackInfo info;
    info.size = 1000;
    info.condemned = true;
    WriteBatch batch;
    batch.Put(ChunkStore::PackKey(id), ChunkStore::EncodePackInfo(info));
    ASSERT_OK(store->kv().Write(batch, /*sync=*/true));
  }
  ASSERT_FALSE(PathExists(Dir() + "/packs/4d"));
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(Dir(), OpenMode::kReadWrite));
  ASSERT_OK_AND_ASSIGN(auto pack, store->chunks().GetPack(id));
  EXPECT_FALSE(pack.has_value()) << "the condemned record is finished";
}

}  // namespace
}  // namespace keepfs
