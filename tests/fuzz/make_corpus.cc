// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/TARGET/)
// from real encodings, so each target starts from valid records and mutates
// outward. Run by hand after a format change:
//   build-fuzz/tests/fuzz/make_corpus tests/fuzz/corpus
// (docs/fuzzing.md). Deterministic: the same tree of files every run.
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "snapshot/accounting.h"
#include "snapshot/content.h"
#include "snapshot/pins.h"
#include "snapshot/quarantine.h"
#include "snapshot/snapshot_record.h"
#include "snapshot/tree.h"
#include "snapshot/users.h"
#include "store/backup_manifest.h"
#include "store/coding.h"
#include "store/compress.h"
#include "store/file_util.h"
#include "store/pack.h"
#include "store/blob_check.h"
#include "tools/cli/control_request.h"

using namespace keepfs;
using namespace keepfs::snapshot;
using namespace std::string_literals;  // "\0"s keeps its NUL

namespace {
std::string g_root;

void Put(const std::string& target, const std::string& name, const std::string& bytes) {
  std::string dir = g_root + "/" + target;
  ::mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

ObjectId Id(const std::string& s) { return Sha256::Of(s); }

void Trees() {
  Entry f{.name = "report.odt", .type = EntryType::kFile, .mode = 0644, .uid = 1000, .gid = 1000,
          .mtime_sec = 1790000000, .mtime_nsec = 123456789, .size = 5000, .ref = Id("c1")};
  Entry sparse = f;
  sparse.name = "disk.img";
  sparse.size = 1 << 20;
  sparse.hole_bytes = 1 << 19;
  sparse.xattrs = {{"user.a", "1"}, {"user.b", std::string("\0\1", 2)}};
  sparse.link_id = 7;
  Entry d{.name = "docs", .type = EntryType::kDir, .mode = 0755, .size = 12, .ref = Id("t1")};
  Entry l{.name = "link", .type = EntryType::kSymlink, .mode = 0777, .size = 6, .target = "../etc"};
  Entry dev{.name = "null", .type = EntryType::kCharDev, .mode = 0666, .rdev = 0x103};
  TreeNode leaf;
  leaf.entries = {sparse, d, l, dev, f};
  Put("tree_node_fuzzer", "leaf", EncodeTreeNode(leaf));
  TreeNode one;
  one.entries = {f};
  Put("tree_node_fuzzer", "one", EncodeTreeNode(one));
  Put("tree_node_fuzzer", "empty", EncodeTreeNode(TreeNode{}));
  TreeNode index;
  index.is_leaf = false;
  index.children = {{"a", Id("p1"), 300, 400}, {"m", Id("p2"), 280, 280}};
  Put("tree_node_fuzzer", "index", EncodeTreeNode(index));
}

void Contents() {
  Content chunked{.size = 3 * 4096};
  chunked.parts = {{Id("k1"), 4096}, {ObjectId{}, 4096}, {Id("k2"), 4096}};
  Put("content_fuzzer", "chunked", EncodeContent(chunked, nullptr));
  Content small{.size = 5, .is_inline = true, .inline_data = "hello"};
  Put("content_fuzzer", "inline_raw", EncodeContent(small, nullptr));
  Compressor compressor(3);
  Content big{.size = 600, .is_inline = true, .inline_data = std::string(600, 'x')};
  Put("content_fuzzer", "inline_zstd", EncodeContent(big, &compressor));
  Put("content_fuzzer", "alias", EncodeContentAlias(12288, Id("target"), Id("hash")));
}

SnapshotRecord Record() {
  SnapshotRecord r;
  r.time_sec = 1790000000;
  r.seq = 2;
  r.root = Id("root");
  r.source = "/home/alice";
  r.hostname = "nas";
  r.started_ns = 1790000000000000000;
  r.finished_ns = 1790000005000000000;
  r.stats = {10, 2, 1, 50000, 50000, 40000, 20000, 3};
  r.errors = {{"bad/file", "permission denied"}};
  r.root_meta = RootMeta{.mode = 0750, .uid = 1000, .gid = 100, .mtime_sec = 1789999999,
                         .mtime_nsec = 5, .xattrs = {{"user.x", "y"}}};
  r.number = 42;
  r.links = {{3, 2}, {9, 4}};
  return r;
}

void Records() {
  SnapshotRecord r = Record();
  // The first byte picks the decoder: even a record, odd a deleted record.
  Put("snapshot_record_fuzzer", "full", "\0"s + EncodeSnapshotRecord(r));
  SnapshotRecord plain;
  plain.root = Id("r2");
  Put("snapshot_record_fuzzer", "plain", "\0"s + EncodeSnapshotRecord(plain));
  r.husk_unix = 1790086400;
  Put("snapshot_record_fuzzer", "husk", "\0"s + EncodeSnapshotRecord(r));
  DeletedSnapshot d{Record(), 1790100000, true};
  Put("snapshot_record_fuzzer", "deleted", "\1" + EncodeDeletedSnapshot(d));
}

void SmallRecords() {
  // Byte 0 picks: 0 user, 1 pin, 2 quarantine, 3 holders, 4 holdings; keyed
  // records are KEY 0xff VALUE.
  Put("small_records_fuzzer", "user", "\0"s + EncodeUserRecord({7, 1790000000}));
  Pin p{.type = EntryType::kFile, .kind = 'o', .id = Id("c"), .created_unix = 1790000000,
        .by_uid = 1000};
  Put("small_records_fuzzer", "pin", "\1" + EncodePin(p));
  Put("small_records_fuzzer", "pin_key",
      "\1" + "Palice\0002026-10-01_030000\0docs/a"s + "\xff" + EncodePin(p));
  Pin link{.type = EntryType::kSymlink};
  Put("small_records_fuzzer", "pin_link", "\1" + EncodePin(link));
  Quarantine q{.snapshot_number = 42, .since_unix = 1790000000,
               .paths = {{"docs/a", "chunk 3fa2: corrupt"}, {"", "tree: missing"}}};
  Put("small_records_fuzzer", "quarantine",
      "\2" + QuarantineKey("alice", "2026-10-01_030000") + "\xff" + EncodeQuarantine(q));
  Put("small_records_fuzzer", "holders", "\3" + EncodeHolders({"alice", "bob"}));
  UserHoldings h;
  h.bytes_by_holders = {{1, 1000}, {2, 5000}, {3, 333}};
  Put("small_records_fuzzer", "holdings", "\4" + EncodeHoldings(h));
}

void Packs() {
  // A local pack store in a scratch directory beside the corpus.
  const std::string scratch = g_root + "/.packs";
  (void)MakeDirs(scratch + "/tmp");
  auto packs = NewLocalPackStore(scratch);
  auto read_pack = [&](uint64_t id) {
    std::ifstream in(packs->LocalPath(id), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  {
    auto w = PackWriter::Create(1, std::move(*packs->Create(1)));
    Compressor compressor(3);
    for (std::string raw : {std::string("hello"), std::string(3000, 'z')}) {
      std::string stored;
      Codec c = compressor.Compress(raw, &stored);
      (void)(*w)->Add(Sha256::Of(raw), c, stored, static_cast<uint32_t>(raw.size()));
    }
    (void)(*w)->Seal();
  }
  Put("pack_index_fuzzer", "two_blobs", read_pack(1));
  auto w = PackWriter::Create(2, std::move(*packs->Create(2)));
  (void)(*w)->Seal();
  Put("pack_index_fuzzer", "empty", read_pack(2));
  std::filesystem::remove_all(scratch);
}

std::string Blob(Codec c, const std::string& stored, uint32_t raw_len) {
  std::string out(1, static_cast<char>(c));
  Encoder(&out).PutFixed32(raw_len);
  return out + stored;
}

void Blobs() {
  Compressor compressor(3);
  std::string raw(4000, 'a');
  for (int i = 0; i < 4000; i += 7) raw[i] = static_cast<char>('a' + i % 26);
  std::string stored;
  Codec c = compressor.Compress(raw, &stored);
  Put("blob_fuzzer", "zstd", Blob(c, stored, static_cast<uint32_t>(raw.size())));
  Put("blob_fuzzer", "raw", Blob(Codec::kRaw, "plain bytes", 11));
}

void Configs() {
  // Byte 0: 0 ParseSize, 1 ParseDuration, else config.toml.
  Put("store_config_fuzzer", "size", "\0"s + "256 MiB");
  Put("store_config_fuzzer", "duration", "\1" "90min");
  Put("store_config_fuzzer", "config", "\2" R"([store]
format = 1
id = "0123456789abcdef0123456789abcdef"
[compression]
level = 3
[mount]
profile = "small"
cache_size = "8MiB"
threads = 4
admin_group = 100
path_cache_seconds = 0.5
deleted_window = "14d"
[gc]
undelete_window = "7d"
repack_dead_percent = 50
small_pack = "4MiB"
[users.alice]
uid = 1000
gid = 1000
[retention]
keep-within = "30d"
keep-monthly = -1
quota = "20G"
[retention.bob]
keep-last = 5
keep-first = true
)");
  Put("server_config_fuzzer", "minimal", R"(store = "/srv/keepfs/store"
mountpoint = "/backups"
spool = "/srv/spool"
)");
  Put("server_config_fuzzer", "full", R"(store = "/srv/keepfs/store"
mountpoint = "/backups"
spool = "/srv/spool"
socket = "/run/keepfs/keepfs.sock"
[mount]
threads = 8
[ingest]
max_concurrent = 2
rescan = "60s"
admit_slots = 4
admit_lease = "1h"
nice = 10
ionice = "best-effort:4"
read_limit = "50MiB"
[schedule]
prune = "daily 01:00"
gc = "weekly sun 02:30"
scrub = "hourly :15"
scrub_percent = 10
store_backup = "daily 04:00"
store_backup_dest = "/mnt/copy"
nice = 19
ionice = "idle"
[log]
file = "/var/log/keepfs.log"
max_size = "10MiB"
max_files = 5
level = "debug"
[attention]
no_backup_days = 3
)");
}

void Manifests() {
  BackupManifest m{.store_id = "3f9a0c", .generation = 3, .created = 1790000000};
  m.files["meta.3/CURRENT"] = {16, std::string(64, 'a')};
  m.files["packs/2a/000000000000012a.pack"] = {1 << 20, Id("p").ToHex()};
  m.files["config.3.toml"] = {300, Id("c").ToHex()};
  Put("backup_manifest_fuzzer", "three_files", EncodeBackupManifest(m));
  m.files.clear();
  Put("backup_manifest_fuzzer", "no_files", EncodeBackupManifest(m));
}

void Control() {
  cli::ControlRequest r{{"keepfs", "snapshots", "--user", "alice", "--json"}, "/home/alice",
                        true, false};
  Put("control_request_fuzzer", "snapshots", cli::EncodeControlRequest(r));
  Put("control_request_fuzzer", "empty", cli::EncodeControlRequest({}));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR (tests/fuzz/corpus)\n");
    return 2;
  }
  g_root = argv[1];
  ::mkdir(g_root.c_str(), 0755);
  Trees();
  Contents();
  Records();
  SmallRecords();
  Packs();
  Blobs();
  Configs();
  Manifests();
  Control();
  return 0;
}
