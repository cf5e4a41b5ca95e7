#include "snapshot/check.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/check_map.h"
#include "snapshot/content.h"
#include "snapshot/pins.h"
#include "snapshot/repo.h"
#include "snapshot/snapshot_record.h"
#include "snapshot/tree.h"
#include "store/chunk_store.h"
#include "store/coding.h"
#include "store/pack.h"

namespace keepfs::snapshot {

namespace {

constexpr char kCursorKey[] = "K";        // the interrupted check's cursor
constexpr char kProblemPrefix[] = "k";    // k KIND KEY: a problem it found
constexpr char kVerifiedPrefix[] = "v";   // v be64(pack): when its data was last verified

enum Phase : uint8_t { kPacks, kChunks, kContents, kTrees, kSnapshots, kPins, kMap };
constexpr const char* kPhaseRange[] = {"p", "c", "o", "t", "s", "P"};
constexpr const char* kPhaseName[] = {"packs", "chunks", "contents", "trees", "snapshots", "pins", "report"};

std::string VerifiedKey(uint64_t pack) {
  std::string key = kVerifiedPrefix;
  PutBigEndian64(&key, pack);
  return key;
}

// Where a run is: the phase, and the last key of its range fully done.
struct Cursor {
  Phase phase = kPacks;
  std::string after;                 // "" = the phase has not started
  std::string position;              // the caller's sink position after `after`'s line
  // The run's options, so that a resume verifies what the run chose.
  bool verify_data = false;
  int64_t percent = 100, within_sec = 0, now = 0;
  std::vector<uint64_t> verify;      // packs whose data this run verifies
  CheckSummary counts;
};

std::string EncodeCursor(const Cursor& c) {
  std::string v;
  Encoder e(&v);
  e.PutU8(1);
  e.PutU8(c.phase);
  e.PutLengthPrefixed(c.after);
  e.PutLengthPrefixed(c.position);
  e.PutU8(c.verify_data ? 1 : 0);
  e.PutSignedVarint(c.percent);
  e.PutSignedVarint(c.within_sec);
  e.PutSignedVarint(c.now);
  e.PutVarint(c.verify.size());
  for (uint64_t p : c.verify) e.PutVarint(p);
  const CheckSummary& s = c.counts;
  for (uint64_t n : {s.packs, s.chunks, s.contents, s.trees, s.snapshots, s.pins,
                     s.packs_verified, s.bytes_verified, s.problems}) {
    e.PutVarint(n);
  }
  return v;
}

Result<Cursor> DecodeCursor(std::string_view v) {
  Decoder d(v);
  Cursor c;
  uint8_t version = 0, phase = 0;
  std::string_view after, position;
  uint64_t n = 0;
  bool ok = d.GetU8(&version) && version == 1 && d.GetU8(&phase) && phase <= kMap &&
            d.GetLengthPrefixed(&after) && d.GetLengthPrefixed(&position);
  uint8_t verify = 0;
  ok = ok && d.GetU8(&verify) && verify <= 1 && d.GetSignedVarint(&c.percent) &&
       d.GetSignedVarint(&c.within_sec) && d.GetSignedVarint(&c.now) && d.GetVarint(&n) &&
       n <= d.remaining();
  c.verify_data = verify == 1;
  for (uint64_t i = 0; ok && i < n; ++i) {
    uint64_t p = 0;
    ok = d.GetVarint(&p);
    c.verify.push_back(p);
  }
  CheckSummary& s = c.counts;
  for (uint64_t* f : {&s.packs, &s.chunks, &s.contents, &s.trees, &s.snapshots, &s.pins,
                      &s.packs_verified, &s.bytes_verified, &s.problems}) {
    ok = ok && d.GetVarint(f);
  }
  if (!ok || !d.empty()) return Status::Corruption("the check cursor (K) is damaged");
  c.phase = static_cast<Phase>(phase);
  c.after = std::string(after);
  c.position = std::string(position);
  return c;
}

// A problem as kept until the end: its key names the object (kind byte, then
// the object's own key bytes), its value says what is wrong.
struct Problem {
  std::string kind, id, state, message;
};

std::string EncodeProblem(const Problem& p) {
  std::string v;
  Encoder e(&v);
  for (const std::string* s : {&p.kind, &p.id, &p.state, &p.message}) e.PutLengthPrefixed(*s);
  return v;
}

Result<Problem> DecodeProblem(std::string_view v) {
  Decoder d(v);
  Problem p;
  for (std::string* s : {&p.kind, &p.id, &p.state, &p.message}) {
    std::string_view f;
    if (!d.GetLengthPrefixed(&f)) return Status::Corruption("a check problem record (k) is damaged");
    *s = std::string(f);
  }
  return p;
}

// The id part of an object key as hex, whatever its length (for a report).
std::string HexOfKey(std::string_view key) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char ch : key.substr(1)) {
    out += kHex[ch >> 4];
    out += kHex[ch & 15];
  }
  return out;
}

class Checker {
 public:
  Checker(Store* store, const CheckOptions& options,
          const std::function<void(const CheckedObject&)>& on_object)
      : store_(store),
        repo_(store),
        opt_(options),
        on_object_(on_object),
        persist_(store->writable()),
        now_(options.now_unix ? options.now_unix : std::time(nullptr)) {
    // What a resume must repeat exactly is kept in the cursor.
    cur_.verify_data = options.verify_data;
    cur_.percent = options.verify_percent;
    cur_.within_sec = options.verified_within_sec;
    cur_.now = now_;
  }

  Result<CheckSummary> Run() {
    std::unique_lock<std::mutex> one(store_->check_mu(), std::try_to_lock);
    if (!one.owns_lock()) return Status::Busy("a check is already running on this store");
    KEEPFS_RETURN_IF_ERROR(Start());
    for (int phase = cur_.phase; phase < kMap; ++phase) {
      if (phase != cur_.phase) {
        cur_.phase = static_cast<Phase>(phase);
        cur_.after.clear();
      }
      phase_done_ = 0;
      if (opt_.progress) opt_.progress(kPhaseName[phase], 0);
      if (phase == kChunks && cur_.after.empty()) KEEPFS_RETURN_IF_ERROR(ChooseVerify());
      KEEPFS_RETURN_IF_ERROR(Scan());
      if (Cancelled()) {
        KEEPFS_RETURN_IF_ERROR(Checkpoint());
        cur_.counts.cancelled = true;
        return cur_.counts;
      }
      if (phase == kPacks) KEEPFS_RETURN_IF_ERROR(UnknownPackFiles());
      if (phase == kChunks) KEEPFS_RETURN_IF_ERROR(RecordVerified());
    }
    if (cur_.phase != kMap) cur_.after.clear();
    if (opt_.progress) opt_.progress(kPhaseName[kMap], 0);
    KEEPFS_RETURN_IF_ERROR(MapAndReport());
    if (persist_) {
      WriteBatch done;
      done.Delete(kCursorKey);
      done.DeleteRange(kProblemPrefix, "l");
      KEEPFS_RETURN_IF_ERROR(store_->kv().Write(done, /*sync=*/false));
    }
    return cur_.counts;
  }

 private:
  bool Cancelled() const { return opt_.cancel && opt_.cancel->load(); }

  Status Start() {
    std::string v;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(kCursorKey, &v));
    if (opt_.resume) {
      if (!found) {
        return Status::NotFound("there is no interrupted check to resume; run 'keepfs check'");
      }
      KEEPFS_ASSIGN_OR_RETURN(cur_, DecodeCursor(v));
      cur_.counts.resumed = true;
      cur_.counts.cancelled = false;
      if (opt_.on_resume) KEEPFS_RETURN_IF_ERROR(opt_.on_resume(cur_.position));
      return Status::OK();
    }
    if (found && persist_) {  // a new check drops the old one's state
      WriteBatch fresh;
      fresh.Delete(kCursorKey);
      fresh.DeleteRange(kProblemPrefix, "l");
      KEEPFS_RETURN_IF_ERROR(store_->kv().Write(fresh, false));
    }
    return Checkpoint();  // from here on a kill leaves something to resume
  }

  // After each object: its line went out, so the cursor moves past it (with
  // the problem, if it was one, kept for the report at the end).
  // The cursor is saved every kCheckpointEvery objects (and on a stop), not
  // after each: a resume redoes the objects after the last save, and the
  // caller's sink is cut back to the position saved with it, so their lines
  // are not written twice. A problem is saved at once, under its own key
  // (finding it again after a resume overwrites the same record).
  static constexpr int kCheckpointEvery = 1024;

  Status Done(std::string_view key, const std::optional<Problem>& problem = std::nullopt,
              const std::string& problem_key = {}) {
    cur_.after = std::string(key);
    if (problem && !persist_) problems_.emplace(problem_key.substr(1), *problem);
    if (!persist_) return Status::OK();
    if (problem) {
      WriteBatch b;
      b.Put(problem_key, EncodeProblem(*problem));
      KEEPFS_RETURN_IF_ERROR(store_->kv().Write(b, /*sync=*/false));
    }
    ++phase_done_;
    if (++since_checkpoint_ < kCheckpointEvery) return Status::OK();
    if (opt_.progress) opt_.progress(kPhaseName[cur_.phase], phase_done_);
    return Checkpoint();
  }

  Status Checkpoint() {
    since_checkpoint_ = 0;
    if (!persist_) return Status::OK();
    if (opt_.sink_position) cur_.position = opt_.sink_position();
    WriteBatch b;
    b.Put(kCursorKey, EncodeCursor(cur_));
    return store_->kv().Write(b, /*sync=*/false);
  }

  // An ok object's line goes out at once; a problem waits for its paths.
  Status Report(std::string_view key, const std::string& kind, const std::string& id,
                const std::string& state, const std::string& message) {
    if (state == "ok") {
      on_object_({kind, id, "ok", "", {}});
      return Done(key);
    }
    return Done(key, Problem{kind, id, state, message}, ProblemKey(key));
  }

  // "k" + the object's own key (a pack file without a record: the key its
  // record would have).
  static std::string ProblemKey(std::string_view object_key) {
    return kProblemPrefix + std::string(object_key);
  }

  // A problem found while checking another object (a chunk a content names
  // that is not indexed): reported once, under its own key.
  Status ExtraProblem(const std::string& kind, const std::string& object_key, const std::string& id,
                      const std::string& state, const std::string& message) {
    std::string pkey = ProblemKey(object_key);
    if (persist_) {
      KEEPFS_ASSIGN_OR_RETURN(bool known, store_->kv().Contains(pkey));
      if (known) return Status::OK();
    } else if (problems_.count(object_key)) {
      return Status::OK();
    }
    Problem p{kind, id, state, message};
    if (!persist_) {
      problems_.emplace(object_key, p);
      return Status::OK();
    }
    WriteBatch b;
    b.Put(pkey, EncodeProblem(p));
    return store_->kv().Write(b, false);
  }

  Status Scan() {
    const std::string range = kPhaseRange[cur_.phase];
    auto it = store_->kv().NewIterator(range);
    if (cur_.after.empty()) {
      it->Seek(range);
    } else {
      it->Seek(cur_.after);
      if (it->Valid() && it->key() == cur_.after) it->Next();
    }
    for (; it->Valid() && !Cancelled(); it->Next()) {
      std::string key(it->key());
      std::string value(it->value());
      switch (cur_.phase) {
        case kPacks: KEEPFS_RETURN_IF_ERROR(CheckPack(key, value)); break;
        case kChunks: KEEPFS_RETURN_IF_ERROR(CheckChunk(key, value)); break;
        case kContents: KEEPFS_RETURN_IF_ERROR(CheckContent(key, value)); break;
        case kTrees: KEEPFS_RETURN_IF_ERROR(CheckTree(key, value)); break;
        case kSnapshots: KEEPFS_RETURN_IF_ERROR(CheckSnapshot(key, value)); break;
        case kPins: KEEPFS_RETURN_IF_ERROR(CheckPin(key, value)); break;
        case kMap: break;
      }
    }
    return it->status();
  }

  Status CheckPack(const std::string& key, const std::string& value) {
    std::optional<uint64_t> id = ChunkStore::PackIdFromKey(key);
    if (!id) return Done(key);
    auto info = ChunkStore::DecodePackInfo(value);
    const std::string name = std::to_string(*id);
    if (!info.ok()) return Report(key, "pack", name, "corrupt", info.status().message());
    if (info->condemned) return Done(key);  // being removed by gc: nothing points into it
    ++cur_.counts.packs;
    const PackStore& packs = store_->packs();
    // The size LoadPackFiles read serves here too: one stat per pack and run
    // (a round trip each with RADOS). A pack recorded since is looked at now.
    KEEPFS_RETURN_IF_ERROR(LoadPackFiles());
    std::optional<uint64_t> size;
    if (auto f = pack_files_.find(*id); f != pack_files_.end()) {
      if (f->second.on_disk >= 0) size = static_cast<uint64_t>(f->second.on_disk);
    } else {
      KEEPFS_ASSIGN_OR_RETURN(size, packs.Size(*id));
    }
    if (!size) {
      return Report(key, "pack", name, "missing", "the pack " + packs.Describe(*id) + " is gone");
    }
    if (*size != info->size) {
      return Report(key, "pack", name, "corrupt",
                    packs.Describe(*id) + " has " + std::to_string(*size) +
                        " bytes where the index says " + std::to_string(info->size));
    }
    return Report(key, "pack", name, "ok", "");
  }

  Status UnknownPackFiles() {
    KEEPFS_ASSIGN_OR_RETURN(auto packs, store_->chunks().ListPacks());
    std::unordered_set<uint64_t> known;
    for (const auto& [id, info] : packs) known.insert(id);
    KEEPFS_ASSIGN_OR_RETURN(std::vector<uint64_t> sealed, store_->packs().List());
    for (uint64_t id : sealed) {
      if (known.count(id)) continue;
      KEEPFS_RETURN_IF_ERROR(ExtraProblem("pack", ChunkStore::PackKey(id), std::to_string(id),
                                          "unknown",
                                          store_->packs().Describe(id) + " is not in the index"));
    }
    return Status::OK();
  }

  // The packs whose data this run verifies: never-verified first, then the
  // longest ago, until verify_percent of all pack bytes.
  Status ChooseVerify() {
    cur_.verify.clear();
    if (!cur_.verify_data) return Status::OK();
    KEEPFS_RETURN_IF_ERROR(LoadPackFiles());
    if (!opt_.verify_packs.empty()) {
      for (uint64_t id : opt_.verify_packs) {
        if (pack_files_.count(id)) cur_.verify.push_back(id);
      }
      std::sort(cur_.verify.begin(), cur_.verify.end());
      cur_.verify.erase(std::unique(cur_.verify.begin(), cur_.verify.end()), cur_.verify.end());
      return Status::OK();
    }
    std::vector<std::tuple<int64_t, uint64_t, uint64_t>> order;  // verified, id, size
    uint64_t total = 0;
    for (const auto& [id, pack] : pack_files_) {
      const uint64_t size = pack.recorded;
      std::string v;
      KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(VerifiedKey(id), &v));
      int64_t when = 0;
      if (found) {
        Decoder d(v);
        if (!d.GetSignedVarint(&when)) when = 0;
      }
      total += size;
      if (cur_.within_sec > 0 && found && when > cur_.now - cur_.within_sec) continue;
      order.emplace_back(when, id, size);
    }
    std::sort(order.begin(), order.end());
    const uint64_t budget =
        cur_.percent >= 100 ? UINT64_MAX
                            : total * static_cast<uint64_t>(std::max<int64_t>(cur_.percent, 1)) / 100;
    uint64_t taken = 0;
    for (const auto& [when, id, size] : order) {
      if (taken >= budget && !cur_.verify.empty()) break;
      cur_.verify.push_back(id);
      taken += size;
    }
    std::sort(cur_.verify.begin(), cur_.verify.end());
    return Status::OK();
  }

  Status RecordVerified() {
    cur_.counts.packs_verified = cur_.verify.size();
    if (!persist_ || cur_.verify.empty()) return Status::OK();
    WriteBatch b;
    std::string v;
    Encoder(&v).PutSignedVarint(cur_.now);
    for (uint64_t id : cur_.verify) b.Put(VerifiedKey(id), v);
    return store_->kv().Write(b, false);
  }

  // The packs a chunk entry may point into: each listed, not condemned
  // pack's recorded size and its file's size (-1: no file). Read once per
  // run (a stat per pack), for the pack phase and the chunk phase, not per
  // chunk.
  struct PackFile {
    uint64_t recorded = 0;
    int64_t on_disk = -1;
  };
  // A record that does not decode is left out (the pack phase reports it).
  Status LoadPackFiles() {
    if (pack_files_loaded_) return Status::OK();
    auto it = store_->kv().NewIterator("p");
    for (; it->Valid(); it->Next()) {
      std::optional<uint64_t> id = ChunkStore::PackIdFromKey(it->key());
      auto info = ChunkStore::DecodePackInfo(it->value());
      if (!id || !info.ok() || info->condemned) continue;
      KEEPFS_ASSIGN_OR_RETURN(std::optional<uint64_t> size, store_->packs().Size(*id));
      pack_files_[*id] = {info->size, size ? static_cast<int64_t>(*size) : -1};
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
    pack_files_loaded_ = true;
    return Status::OK();
  }

  Status CheckChunk(const std::string& key, const std::string& value) {
    ++cur_.counts.chunks;
    auto id = ObjectId::FromBytes(std::string_view(key).substr(1));
    auto loc = ChunkStore::DecodeLoc(value);
    if (!id.ok() || !loc.ok()) {
      return Report(key, "chunk", HexOfKey(key), "corrupt", "its index entry does not decode");
    }
    const std::string hex = id->ToHex();
    KEEPFS_RETURN_IF_ERROR(LoadPackFiles());
    auto pack = pack_files_.find(loc->pack_id);
    const std::string pack_path = store_->packs().Describe(loc->pack_id);
    if (pack == pack_files_.end()) {
      return Report(key, "chunk", hex, "dangling",
                    "its index entry points at pack " + std::to_string(loc->pack_id) +
                        ", which the index does not list");
    }
    if (loc->offset + loc->stored_len + kPackFooterSize > pack->second.recorded) {
      return Report(key, "chunk", hex, "dangling",
                    "its index entry points outside pack " + std::to_string(loc->pack_id));
    }
    if (pack->second.on_disk < 0) {
      return Report(key, "chunk", hex, "missing", "its pack " + pack_path + " is gone");
    }
    if (static_cast<uint64_t>(pack->second.on_disk) < loc->offset + loc->stored_len) {
      return Report(key, "chunk", hex, "missing", "its pack " + pack_path + " is cut short before it");
    }
    if (std::binary_search(cur_.verify.begin(), cur_.verify.end(), loc->pack_id)) {
      if (opt_.throttle) opt_.throttle(loc->stored_len);
      Status s = store_->chunks().Read(*id, &buf_, ChunkStore::Verify::kRehash);
      cur_.counts.bytes_verified += loc->raw_len;
      if (!s.ok()) return Report(key, "chunk", hex, "corrupt", s.message());
    }
    return Report(key, "chunk", hex, "ok", "");
  }

  Status CheckContent(const std::string& key, const std::string& value) {
    ++cur_.counts.contents;
    auto key_id = ObjectId::FromBytes(std::string_view(key).substr(1));
    auto c = DecodeContent(value);
    if (!key_id.ok() || !c.ok()) {
      return Report(key, "content", HexOfKey(key), "corrupt",
                    c.ok() ? "malformed key" : "its record does not decode: " + c.status().message());
    }
    const ObjectId& id = *key_id;
    const std::string hex = id.ToHex();
    if (c->is_alias()) {
      auto target = repo_.GetContent(id);
      if (!target.ok()) return Report(key, "content", hex, "dangling", target.status().message());
      KEEPFS_RETURN_IF_ERROR(CheckHeld('o', id, {{'o', c->alias_of}}));
      return Report(key, "content", hex, "ok", "");
    }
    if (ContentId(*c) != id) return Report(key, "content", hex, "corrupt", "its record does not match its id");
    std::vector<std::pair<char, ObjectId>> chunks;
    for (const ContentPart& p : c->parts) {
      if (p.is_hole()) continue;
      chunks.emplace_back('c', p.chunk);
      KEEPFS_ASSIGN_OR_RETURN(bool present, Present('c', p.chunk, ChunkStore::ChunkKey(p.chunk)));
      if (!present) {
        KEEPFS_RETURN_IF_ERROR(ExtraProblem("chunk", ChunkStore::ChunkKey(p.chunk), p.chunk.ToHex(),
                                            "missing", "named by a content but not in the index"));
      }
    }
    KEEPFS_RETURN_IF_ERROR(CheckHeld('o', id, chunks));
    return Report(key, "content", hex, "ok", "");
  }

  Status CheckTree(const std::string& key, const std::string& value) {
    ++cur_.counts.trees;
    auto id = ObjectId::FromBytes(std::string_view(key).substr(1));
    if (!id.ok() || Sha256::Of(value) != *id) {
      return Report(key, "tree", HexOfKey(key), "corrupt", "its record does not match its id");
    }
    const std::string hex = id->ToHex();
    auto node = DecodeTreeNode(value);
    if (!node.ok()) return Report(key, "tree", hex, "corrupt", node.status().message());
    ObjectLinks links;
    AppendNodeLinks(*node, &links);
    for (const auto& [kind, child] : links.children) {
      std::string ckey = ObjectKeyOf(kind, child);
      KEEPFS_ASSIGN_OR_RETURN(bool present, Present(kind, child, ckey));
      if (!present) {
        KEEPFS_RETURN_IF_ERROR(ExtraProblem(KindName(kind), ckey, child.ToHex(),
                                            "missing", "named by a tree but not stored"));
      }
    }
    KEEPFS_RETURN_IF_ERROR(CheckHeld('t', *id, links.children));
    return Report(key, "tree", hex, "ok", "");
  }

  Status CheckSnapshot(const std::string& key, const std::string& value) {
    ++cur_.counts.snapshots;
    std::string user;
    std::string_view snap;
    std::string name = SplitUserKey(key, &user, &snap) ? user + "/" + std::string(snap)
                                                       : HexOfKey(key);
    auto rec = DecodeSnapshotRecord(value);
    if (!rec.ok()) return Report(key, "snapshot", name, "corrupt", rec.status().message());
    KEEPFS_ASSIGN_OR_RETURN(bool present, store_->kv().Contains(TreeKey(rec->root)));
    if (!present) {
      KEEPFS_RETURN_IF_ERROR(ExtraProblem("tree", TreeKey(rec->root), rec->root.ToHex(), "missing",
                                          "the root of snapshot " + name + " is not stored"));
    }
    KEEPFS_RETURN_IF_ERROR(CheckHeldBy(user, "snapshot " + name, 't', rec->root));
    return Report(key, "snapshot", name, "ok", "");
  }

  Status CheckPin(const std::string& key, const std::string& value) {
    ++cur_.counts.pins;
    std::string user;
    std::string_view rest;
    std::string name = SplitUserKey(key, &user, &rest) ? user + "/" + std::string(rest) : HexOfKey(key);
    std::replace(name.begin(), name.end(), '\0', ':');  // user/snapshot:path
    auto pin = PinFromKey(key, value);
    if (!pin.ok()) return Report(key, "pin", name, "corrupt", pin.status().message());
    if (pin->kind != 0) {
      std::string okey = ObjectKeyOf(pin->kind, pin->id);
      KEEPFS_ASSIGN_OR_RETURN(bool present, store_->kv().Contains(okey));
      if (!present) {
        KEEPFS_RETURN_IF_ERROR(ExtraProblem(KindName(pin->kind), okey,
                                            pin->id.ToHex(), "missing", "pinned but not stored"));
      }
      KEEPFS_RETURN_IF_ERROR(CheckHeldBy(pin->user, "pin " + name, pin->kind, pin->id));
    }
    return Report(key, "pin", name, "ok", "");
  }

  // ---- reference records: reachable means held ----
  //
  // The collector deletes what no user holds (`h`, docs/gc.md). So every
  // user holding an object must hold what it names, and every snapshot's
  // root and pin must be held by its user. Checked one edge at a time, so
  // memory does not grow (exact counts need a recount: keepfs audit). A miss
  // is read again under the commit lock before it is reported: a commit or
  // forget may have changed both records between the two reads.

  // fresh: past the table (a re-read under the commit lock). A file named
  // by several folders' nodes is looked up once while it stays in this
  // fixed-size direct-mapped table, as in Present's.
  static constexpr size_t kHolderSlots = size_t{1} << 16;
  struct HolderSlot {
    char kind = 0;
    ObjectId id;
    std::vector<std::string> holders;
  };
  Result<std::vector<std::string>> HoldersOf(char kind, const ObjectId& id, bool fresh = false) {
    if (holder_slots_.empty()) holder_slots_.resize(kHolderSlots);
    HolderSlot& slot = holder_slots_[(ObjectIdHash()(id) ^ static_cast<size_t>(kind)) & (kHolderSlots - 1)];
    if (!fresh && slot.kind == kind && slot.id == id) return slot.holders;
    std::string v;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(HolderKey(kind, id), &v));
    std::vector<std::string> holders;
    if (found) {
      auto h = DecodeHolders(v);
      holders = h.ok() ? *h : std::vector<std::string>{"?"};  // undecodable: a miss for every user
    }
    slot = {kind, id, holders};
    return holders;
  }

  static const char* KindName(char kind) {
    return kind == 't' ? "tree" : kind == 'o' ? "content" : "chunk";
  }
  static std::string ObjectKeyOf(char kind, const ObjectId& id) {
    return kind == 't' ? TreeKey(id) : kind == 'o' ? ContentKey(id) : ChunkStore::ChunkKey(id);
  }

  // The first of users that the object's holders lack, or "".
  Result<std::string> Unheld(const std::vector<std::string>& users, char kind, const ObjectId& id,
                             bool fresh = false) {
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> holders, HoldersOf(kind, id, fresh));
    for (const std::string& u : users) {
      if (std::find(holders.begin(), holders.end(), u) == holders.end()) return u;
    }
    return std::string();
  }

  Status ReportUnheld(const std::string& user, const std::string& through, char kind,
                      const ObjectId& id) {
    return ExtraProblem(KindName(kind), ObjectKeyOf(kind, id), id.ToHex(), "uncounted",
                        "reached by " + user + " through " + through +
                            " but not counted as held by " + user +
                            ": the collector could delete it; 'keepfs audit' (or 'keepfs "
                            "repair') restores the counts");
  }

  // Edges already found sound: (child, the parent's holders) -> true, in a
  // fixed-size direct-mapped table (4 MiB). Unchanged folders repeat the
  // same edges in snapshot after snapshot; a hit skips the child's lookup.
  static constexpr size_t kEdgeSlots = size_t{1} << 18;
  static uint64_t HoldersHash(const std::vector<std::string>& holders) {
    uint64_t h = 1469598103934665603ull;
    for (const std::string& u : holders) {
      for (char c : u) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      h = (h ^ 0xff) * 1099511628211ull;
    }
    return h;
  }

  // The holders of the object the scan is at. Contents and trees are
  // scanned in id order, and so are their `h` records: a second iterator
  // walks those alongside instead of a lookup per object.
  Result<std::vector<std::string>> OwnHolders(char kind, const ObjectId& id) {
    const std::string key = HolderKey(kind, id);
    auto& it = kind == 't' ? own_trees_ : own_contents_;
    if (!it) {
      it = store_->kv().NewIterator(std::string("h") + kind);
      it->Seek(key);
    }
    while (it->Valid() && it->key() < key) it->Next();
    KEEPFS_RETURN_IF_ERROR(it->status());
    if (!it->Valid() || it->key() != key) return std::vector<std::string>();
    auto h = DecodeHolders(it->value());
    return h.ok() ? *h : std::vector<std::string>{"?"};
  }

  Status CheckHeld(char kind, const ObjectId& id, const std::vector<std::pair<char, ObjectId>>& children) {
    if (children.empty()) return Status::OK();
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> mine, OwnHolders(kind, id));
    if (mine.empty()) return Status::OK();  // garbage, or a backup not yet committed
    if (edges_.empty()) edges_.resize(kEdgeSlots);
    const uint64_t who = HoldersHash(mine);
    for (const auto& [ckind, child] : children) {
      uint64_t tag;
      std::memcpy(&tag, child.bytes.data() + 8, sizeof tag);
      tag ^= static_cast<uint64_t>(ckind);
      auto& edge = edges_[(ObjectIdHash()(child) ^ who) & (kEdgeSlots - 1)];
      if (edge.first == tag && edge.second == who) continue;
      KEEPFS_ASSIGN_OR_RETURN(std::string lacking, Unheld(mine, ckind, child));
      if (lacking.empty()) {
        edge = {tag, who};
        continue;
      }
      std::lock_guard<std::mutex> still(store_->commit_mu());
      KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> now, HoldersOf(kind, id, /*fresh=*/true));
      KEEPFS_ASSIGN_OR_RETURN(lacking, Unheld(now, ckind, child, /*fresh=*/true));
      if (lacking.empty()) continue;
      KEEPFS_RETURN_IF_ERROR(
          ReportUnheld(lacking, std::string(KindName(kind)) + " " + id.ToHex(), ckind, child));
    }
    return Status::OK();
  }

  Status CheckHeldBy(const std::string& user, const std::string& through, char kind,
                     const ObjectId& id) {
    KEEPFS_ASSIGN_OR_RETURN(std::string lacking, Unheld({user}, kind, id));
    if (lacking.empty()) return Status::OK();
    std::lock_guard<std::mutex> still(store_->commit_mu());
    KEEPFS_ASSIGN_OR_RETURN(lacking, Unheld({user}, kind, id, /*fresh=*/true));
    if (lacking.empty()) return Status::OK();
    return ReportUnheld(lacking, through, kind, id);
  }


  // Whether a named object is stored. Unchanged folders name the same files
  // in snapshot after snapshot, so answers are remembered in a fixed-size
  // direct-mapped table (kSeenSlots ids, 9 MiB whatever the store's size):
  // most lookups of a store with many snapshots are answered from it.
  static constexpr size_t kSeenSlots = size_t{1} << 18;
  Result<bool> Present(char kind, const ObjectId& id, const std::string& key) {
    if (seen_.empty()) seen_.resize(kSeenSlots);
    auto& slot = seen_[(ObjectIdHash()(id) ^ static_cast<size_t>(kind)) & (kSeenSlots - 1)];
    if (slot.first == kind && slot.second == id) return true;
    KEEPFS_ASSIGN_OR_RETURN(bool present, store_->kv().Contains(key));
    if (present) slot = {kind, id};
    return present;
  }

  // ---- the report: which paths each problem affects ----

  // Every problem found, by its object's key (kind byte + id bytes).
  Result<std::map<std::string, Problem>> LoadProblems() {
    if (!persist_) return problems_;
    std::map<std::string, Problem> out;
    auto it = store_->kv().NewIterator(kProblemPrefix);
    for (; it->Valid(); it->Next()) {
      KEEPFS_ASSIGN_OR_RETURN(Problem p, DecodeProblem(it->value()));
      out.emplace(std::string(it->key().substr(1)), std::move(p));
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
    return out;
  }

  // Closes the damaged set upwards and names what each problem affects.
  Status MapAndReport() {
    KEEPFS_ASSIGN_OR_RETURN(auto problems, LoadProblems());
    cur_.counts.problems = problems.size();
    std::map<std::string, std::vector<Affected>> affects;  // problem object key -> paths
    if (!problems.empty()) {
      std::set<std::string> keys;
      for (const auto& [okey, p] : problems) keys.insert(okey);
      KEEPFS_RETURN_IF_ERROR(MapAffected(store_, keys, &affects));
    }
    const bool resuming = cur_.phase == kMap && !cur_.after.empty();
    const std::string done_up_to = cur_.after;
    cur_.phase = kMap;
    for (auto& [okey, p] : problems) {
      CheckedObject o{p.kind, p.id, p.state, p.message, std::move(affects[okey])};
      cur_.counts.affected_paths += o.affects.size();
      if (resuming && okey <= done_up_to) continue;  // its line went out before the stop
      on_object_(o);
      cur_.after = okey;
      KEEPFS_RETURN_IF_ERROR(Checkpoint());
    }
    return Status::OK();
  }

  Store* store_;
  Repo repo_;
  const CheckOptions& opt_;
  const std::function<void(const CheckedObject&)>& on_object_;
  const bool persist_;  // a writable store keeps the cursor and problems for resume
  const int64_t now_;
  Cursor cur_;
  int since_checkpoint_ = 0;
  std::unordered_map<uint64_t, PackFile> pack_files_;  // LoadPackFiles', by pack id
  bool pack_files_loaded_ = false;
  uint64_t phase_done_ = 0;
  std::vector<std::pair<char, ObjectId>> seen_;  // Present's table
  std::vector<HolderSlot> holder_slots_;              // HoldersOf's table
  std::vector<std::pair<uint64_t, uint64_t>> edges_;  // CheckHeld's table
  std::unique_ptr<KvIterator> own_contents_, own_trees_;  // OwnHolders' walks of `h`
  std::map<std::string, Problem> problems_;  // when !persist_
  std::string buf_;
};

}  // namespace

Result<CheckSummary> CheckStore(Store* store, const CheckOptions& options,
                                const std::function<void(const CheckedObject&)>& on_object) {
  return Checker(store, options, on_object).Run();
}

Result<bool> HasInterruptedCheck(Store* store) { return store->kv().Contains(kCursorKey); }

}  // namespace keepfs::snapshot
