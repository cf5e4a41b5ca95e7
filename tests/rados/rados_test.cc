// Packs on Ceph RADOS (store/rados_pack_store.h) against a real single-node
// cluster (tests/testing/ceph_cluster.h): the PackStore contract, the
// namespace marker, and backup, mount, read, prune, gc, check, kill -9 and
// store-backup of a store whose packs are in RADOS.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "store/file_util.h"
#include "store/object_id.h"
#include "store/pack.h"
#include "store/rados_pack_store.h"
#include "store/store.h"
#include "tests/testing/ceph_cluster.h"
#include "tests/testing/mount_util.h"
#include "tests/testing/pack_store_contract.h"
#include "tests/testing/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace keepfs {
namespace {

using testing::CliRun;
using testing::RunCli;

std::unique_ptr<PackStore> MakeRados(std::string* skip, std::shared_ptr<void>*) {
  const testing::CephCluster* c = testing::Ceph(skip);
  if (!c) return nullptr;
  RadosLocation loc;
  loc.pool = c->pool;
  loc.ns = testing::FreshNamespace("contract");
  loc.ceph_conf = c->conf;
  auto packs = OpenRadosPackStore(loc, "contract-test-store", /*create_marker=*/true);
  if (!packs.ok()) {
    *skip = packs.status().ToString();
    return nullptr;
  }
  return std::move(*packs);
}

using testing::PackStoreContractTest;
INSTANTIATE_TEST_SUITE_P(Rados, PackStoreContractTest,
                         ::testing::Values(testing::PackStoreBackend{"rados", MakeRados}),
                         testing::BackendName);

TEST(RadosSpecTest, ParsesPoolAndNamespaceAndRefusesTheRest) {
  ASSERT_OK_AND_ASSIGN(RadosLocation a, ParseRadosSpec("rados:keepfs/school"));
  EXPECT_EQ(a.pool, "keepfs");
  EXPECT_EQ(a.ns, "school");
  EXPECT_EQ(a.Spec(), "rados:keepfs/school");
  ASSERT_OK_AND_ASSIGN(RadosLocation b, ParseRadosSpec("rados:keepfs"));
  EXPECT_EQ(b.ns, "");
  for (const char* bad : {"keepfs/school", "rados:", "rados:/ns", "rados:pool/", "rados:a/b/c",
                          "rados:po ol/x", "local"}) {
    EXPECT_CODE(ParseRadosSpec(bad), StatusCode::kInvalidArgument) << bad;
  }
}

class RadosStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KEEPFS_REQUIRE_CEPH_OR_SKIP(ceph);
    ceph_ = ceph;
    ns_ = testing::FreshNamespace("store");
    store_ = tmp_.Join("store");
    src_ = tmp_.Join("src");
    ASSERT_OK(MakeDirs(src_ + "/docs"));
    // Big enough for several chunks and, with a small pack target, packs.
    ASSERT_OK(testing::WriteFile(src_ + "/big.bin", testing::RandomBytes(6 << 20, 1)));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/a.txt", "hello from alice\n"));
    ASSERT_OK(testing::WriteFile(src_ + "/docs/mid.bin", testing::RandomBytes(300000, 2)));
  }

  std::string Spec() const { return "rados:" + ceph_->pool + "/" + ns_; }

  CliRun Init(const std::string& store, const std::string& spec) {
    return RunCli({"init", "--store", store, "-q", "--packs", spec, "--ceph-conf", ceph_->conf});
  }

  // The pack objects in our namespace, by id.
  std::set<std::string> PackObjects() {
    std::string out;
    EXPECT_EQ(testing::Rados(*ceph_, ns_, "ls", &out), 0) << out;
    std::set<std::string> packs;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("pack.", 0) == 0) packs.insert(line);
    }
    return packs;
  }

  CliRun Backup(const std::string& time) {
    return RunCli({"backup", "--store", store_, "--user", "alice", "--time", time, "-q", src_});
  }

  const testing::CephCluster* ceph_ = nullptr;
  testing::TempDir tmp_;
  std::string ns_, store_, src_;
};

TEST_F(RadosStoreTest, InitClaimsTheNamespaceForOneStoreAndWritesTheConfig) {
  CliRun init = Init(store_, Spec());
  ASSERT_EQ(init.code, 0) << init.err;
  ASSERT_OK_AND_ASSIGN(std::string config, testing::ReadFile(store_ + "/config.toml"));
  EXPECT_NE(config.find("backend = \"rados\""), std::string::npos) << config;
  EXPECT_NE(config.find("namespace = \"" + ns_ + "\""), std::string::npos) << config;
  std::string out;
  ASSERT_EQ(testing::Rados(*ceph_, ns_, "getxattr keepfs.store store_id", &out), 0) << out;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(store_, OpenMode::kReadOnly));
  EXPECT_EQ(out, store->meta().store_id);
  EXPECT_EQ(store->meta().packs, Spec());

  // A second store may not share the namespace: it would adopt and remove
  // the first one's packs.
  CliRun second = Init(tmp_.Join("other"), Spec());
  EXPECT_EQ(second.code, 1) << second.err;
  EXPECT_NE(second.err.find("another keepfs store"), std::string::npos) << second.err;
  EXPECT_FALSE(PathExists(tmp_.Join("other/config.toml")));
}

TEST_F(RadosStoreTest, InitRefusesANamespaceThatHoldsPacksAndAPoolThatDoesNotExist) {
  std::string out;
  ASSERT_EQ(testing::Rados(*ceph_, ns_, "put pack.0000000000000001 /etc/hostname", &out), 0) << out;
  CliRun busy = Init(store_, Spec());
  EXPECT_NE(busy.code, 0);
  EXPECT_NE(busy.err.find("already holds 1 packs"), std::string::npos) << busy.err;
  CliRun nopool = Init(tmp_.Join("s2"), "rados:no-such-pool/x");
  EXPECT_NE(nopool.code, 0);
  EXPECT_NE(nopool.err.find("does not exist"), std::string::npos) << nopool.err;
  CliRun bad = Init(tmp_.Join("s3"), "rados:");
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_NE(bad.err.find("rados:POOL/NAMESPACE"), std::string::npos) << bad.err;
}

TEST_F(RadosStoreTest, AStoreOpensOnlyOverItsOwnNamespace) {
  ASSERT_EQ(Init(store_, Spec()).code, 0);
  // config.toml pointed at another namespace: refused, as [chunking] edits are.
  ASSERT_OK_AND_ASSIGN(std::string config, testing::ReadFile(store_ + "/config.toml"));
  std::string moved = config;
  moved.replace(moved.find("namespace = \"" + ns_), 13 + ns_.size(), "namespace = \"elsewhere");
  ASSERT_OK(testing::WriteFile(store_ + "/config.toml", moved));
  auto open = Store::Open(store_, OpenMode::kReadOnly);
  EXPECT_CODE(open, StatusCode::kInvalidArgument);
  ASSERT_OK(testing::WriteFile(store_ + "/config.toml", config));
  // The marker gone (the namespace emptied by someone): refused with advice.
  std::string out;
  ASSERT_EQ(testing::Rados(*ceph_, ns_, "rm keepfs.store", &out), 0) << out;
  open = Store::Open(store_, OpenMode::kReadOnly);
  EXPECT_CODE(open, StatusCode::kNotFound);
  EXPECT_NE(open.status().message().find("no keepfs store marker"), std::string::npos);
}

TEST_F(RadosStoreTest, BackupMountReadPruneGcAndCheckAllWorkOnRados) {
  ASSERT_EQ(Init(store_, Spec()).code, 0);
  CliRun b1 = Backup("2026-10-01");
  ASSERT_EQ(b1.code, 0) << b1.err;
  const std::set<std::string> first = PackObjects();
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(ListPackFiles(store_).empty()) << "no pack lives on the local disk";

  // Every pack object carries the SHA-256 of its bytes.
  for (const std::string& oid : first) {
    std::string sum, bytes;
    ASSERT_EQ(testing::Rados(*ceph_, ns_, "getxattr " + oid + " sha256", &sum), 0) << sum;
    ASSERT_EQ(testing::Rados(*ceph_, ns_, "get " + oid + " " + tmp_.Join("obj"), &bytes), 0);
    ASSERT_OK_AND_ASSIGN(std::string got, testing::ReadFile(tmp_.Join("obj")));
    EXPECT_EQ(sum, Sha256::Of(got).ToHex()) << oid;
  }

  // A second backup of changed data, then read both back.
  ASSERT_OK(testing::WriteFile(src_ + "/big.bin", testing::RandomBytes(6 << 20, 3)));
  CliRun b2 = Backup("2026-10-02");
  ASSERT_EQ(b2.code, 0) << b2.err;
  EXPECT_GT(PackObjects().size(), first.size());
  CliRun check = RunCli({"check", "--store", store_, "--verify-data"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  CliRun cat = RunCli({"cat", "--store", store_, "--user", "alice", "2026-10-01_000000", "big.bin"});
  ASSERT_EQ(cat.code, 0) << cat.err;
  EXPECT_TRUE(cat.out == testing::RandomBytes(6 << 20, 1)) << "old version byte-identical";

  // Through a real mount.
  KEEPFS_REQUIRE_FUSE_OR_SKIP();
  const std::string mnt = tmp_.Join("mnt");
  ASSERT_OK(MakeDirs(mnt));
  std::string why;
  pid_t mount = testing::StartMountProcess(KEEPFS_BINARY, store_, mnt, tmp_.Join("mount.log"), &why);
  ASSERT_GT(mount, 0) << why;
  auto read_mounted = [&](const std::string& rel) { return testing::ReadFile(mnt + "/" + rel); };
  auto latest = read_mounted("alice/2026-10-02_000000/big.bin");
  auto older = read_mounted("alice/2026-10-01_000000/big.bin");
  auto small = read_mounted("alice/2026-10-01_000000/docs/a.txt");
  ::kill(mount, SIGTERM);
  int status = 0;
  ::waitpid(mount, &status, 0);
  ASSERT_OK(latest);
  ASSERT_OK(older);
  EXPECT_TRUE(*latest == testing::RandomBytes(6 << 20, 3));
  EXPECT_TRUE(*older == testing::RandomBytes(6 << 20, 1));
  ASSERT_OK(small);
  EXPECT_EQ(*small, "hello from alice\n");

  // Prune the first snapshot away and collect at once: its packs leave RADOS.
  ASSERT_OK_AND_ASSIGN(std::string config, testing::ReadFile(store_ + "/config.toml"));
  ASSERT_OK(testing::WriteFile(store_ + "/config.toml", config + "\n[gc]\nundelete_window = 0\n"));
  CliRun prune = RunCli({"prune", "--store", store_, "-q", "--keep-last", "1"});
  ASSERT_EQ(prune.code, 0) << prune.err;
  CliRun gc = RunCli({"gc", "--store", store_, "--json"});
  ASSERT_EQ(gc.code, 0) << gc.out << gc.err;
  EXPECT_NE(gc.out.find("\"delete_only\":false"), std::string::npos) << gc.out;
  // The first backup's pack held mostly the old big.bin: repacked, and gone from RADOS.
  const std::set<std::string> after = PackObjects();
  size_t gone = 0;
  for (const std::string& oid : first) gone += after.count(oid) == 0;
  EXPECT_GT(gone, 0u) << gc.out;
  check = RunCli({"check", "--store", store_, "--verify-data"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  cat = RunCli({"cat", "--store", store_, "--user", "alice", "latest", "big.bin"});
  EXPECT_TRUE(cat.out == testing::RandomBytes(6 << 20, 3));
}

TEST_F(RadosStoreTest, AMissingPackObjectIsNamedByCheckAndNeverReadsAsOtherBytes) {
  ASSERT_EQ(Init(store_, Spec()).code, 0);
  ASSERT_EQ(Backup("2026-10-01").code, 0);
  const std::set<std::string> packs = PackObjects();
  ASSERT_FALSE(packs.empty());
  std::string out;
  ASSERT_EQ(testing::Rados(*ceph_, ns_, "rm " + *packs.begin(), &out), 0) << out;
  CliRun check = RunCli({"check", "--store", store_});
  EXPECT_EQ(check.code, 1) << check.out;
  EXPECT_NE(check.out.find(*packs.begin()), std::string::npos) << check.out;
  CliRun cat = RunCli({"cat", "--store", store_, "--user", "alice", "latest", "big.bin"});
  EXPECT_NE(cat.code, 0);
  EXPECT_TRUE(cat.out.empty() || testing::RandomBytes(6 << 20, 1).rfind(cat.out, 0) == 0)
      << "what was written before the error is a prefix of the true bytes";
}

TEST_F(RadosStoreTest, AKilledBackupLeavesSealedPacksThatTheNextOpenAdopts) {
  ASSERT_EQ(Init(store_, Spec()).code, 0);
  ASSERT_OK_AND_ASSIGN(std::string config, testing::ReadFile(store_ + "/config.toml"));
  // The next backup waits out the killed one's lease (store/shard.h): 3 s.
  ASSERT_NE(config.find("\nlease = 30\n"), std::string::npos) << config;
  config.replace(config.find("\nlease = 30\n"), 12, "\nlease = 3\n");
  ASSERT_OK(testing::WriteFile(store_ + "/config.toml", config));
  // 128 MiB: four 32 MiB packs sealed one after another, the first long
  // before the commit.
  constexpr int kFiles = 32;
  ASSERT_OK(MakeDirs(src_ + "/many"));
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_OK(testing::WriteFile(src_ + "/many/" + std::to_string(i) + ".bin",
                                 testing::RandomBytes(4 << 20, 100 + i)));
  }
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execl(KEEPFS_BINARY, "keepfs", "backup", "--store", store_.c_str(), "--user", "alice", "-q",
            src_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Killed as soon as a first pack is sealed in RADOS, or at the end.
  for (int i = 0; i < 3000 && PackObjects().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const size_t sealed_at_kill = PackObjects().size();
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the backup finished before the kill; the test proves nothing";
  ASSERT_GT(sealed_at_kill, 0u);
  CliRun none = RunCli({"snapshots", "--store", store_, "--user", "alice"});
  EXPECT_EQ(none.out.find("alice"), std::string::npos) << "the killed backup committed nothing: "
                                                         << none.out;
  CliRun again = Backup("2026-10-05");
  ASSERT_EQ(again.code, 0) << again.err;
  CliRun check = RunCli({"check", "--store", store_, "--verify-data"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  for (int i = 0; i < kFiles; ++i) {
    CliRun cat = RunCli({"cat", "--store", store_, "--user", "alice", "latest",
                         "many/" + std::to_string(i) + ".bin"});
    EXPECT_TRUE(cat.out == testing::RandomBytes(4 << 20, 100 + i)) << i;
  }
}

TEST_F(RadosStoreTest, StoreBackupCopiesThePacksOutOfRadosAndRestoreSaysItCannotYet) {
  ASSERT_EQ(Init(store_, Spec()).code, 0);
  ASSERT_EQ(Backup("2026-10-01").code, 0);
  const std::string copy = tmp_.Join("copy");
  CliRun sb = RunCli({"store-backup", "--store", store_, copy});
  ASSERT_EQ(sb.code, 0) << sb.err;
  CliRun verify = RunCli({"store-backup", "--verify", copy});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  EXPECT_EQ(ListPackFiles(copy).size(), PackObjects().size());
  CliRun restore = RunCli({"store-restore", copy, tmp_.Join("restored")});
  EXPECT_NE(restore.code, 0);
  EXPECT_NE(restore.err.find("local packs only"), std::string::npos) << restore.err;
  EXPECT_FALSE(PathExists(tmp_.Join("restored/meta")));
}

}  // namespace
}  // namespace keepfs
