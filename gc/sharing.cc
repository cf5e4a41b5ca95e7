#include "gc/sharing.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <optional>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/content.h"
#include "snapshot/repo.h"
#include "store/chunk_store.h"
#include "store/coding.h"
#include "store/text.h"

namespace keepfs::gc {

namespace {

constexpr char kSharingKey[] = "S";
constexpr size_t kFingerprintKeySize = 1 + 16 + ObjectId::kSize;

bool Cancelled(const SharingOptions& o) { return o.cancel && o.cancel->load(); }


// The stored form of a result (`S`, docs/format.md). Problems are not kept.
std::string EncodeResult(const SharingResult& r) {
  std::string v;
  Encoder e(&v);
  e.PutU8(1);
  e.PutSignedVarint(r.finished_unix);
  for (uint64_t n : {r.fingerprints, r.groups, r.hashed, r.bytes_hashed, r.differ, r.unified,
                     r.unified_bytes, r.released, r.freed, r.stale, r.skipped}) {
    e.PutVarint(n);
  }
  e.PutVarint(r.pairs.size());
  for (const PairShare& p : r.pairs) {
    e.PutLengthPrefixed(p.a);
    e.PutLengthPrefixed(p.b);
    e.PutVarint(p.bytes);
  }
  return v;
}

Result<SharingResult> DecodeResult(std::string_view v) {
  Decoder d(v);
  SharingResult r;
  uint8_t version = 0;
  uint64_t n = 0;
  bool ok = d.GetU8(&version) && version == 1 && d.GetSignedVarint(&r.finished_unix);
  for (uint64_t* f : {&r.fingerprints, &r.groups, &r.hashed, &r.bytes_hashed, &r.differ,
                      &r.unified, &r.unified_bytes, &r.released, &r.freed, &r.stale, &r.skipped}) {
    ok = ok && d.GetVarint(f);
  }
  ok = ok && d.GetVarint(&n) && n <= d.remaining();
  for (uint64_t i = 0; ok && i < n; ++i) {
    std::string_view a, b;
    PairShare p;
    ok = d.GetLengthPrefixed(&a, 32) && d.GetLengthPrefixed(&b, 32) && d.GetVarint(&p.bytes);
    p.a = std::string(a);
    p.b = std::string(b);
    r.pairs.push_back(std::move(p));
  }
  if (!ok || !d.empty()) return Status::Corruption("the sharing pass record (S) is damaged");
  return r;
}

class SharingPass {
 public:
  SharingPass(Store* store, const SharingOptions& options)
      : store_(store), repo_(store), opt_(options) {
    r_.dry_run = options.dry_run;
  }

  Result<SharingResult> Run() {
    if (!opt_.dry_run && !store_->writable()) {
      return Status::Internal("the sharing pass needs a writable store");
    }
    std::unique_lock<std::mutex> one_run(store_->sharing_mu(), std::try_to_lock);
    if (!one_run.owns_lock()) {
      return Status::Busy("a sharing pass is already running on this store; wait for it");
    }
    KEEPFS_RETURN_IF_ERROR(Unify());
    if (!Cancelled(opt_)) KEEPFS_RETURN_IF_ERROR(Pairs());
    r_.cancelled = Cancelled(opt_);
    r_.finished_unix = opt_.now_unix ? opt_.now_unix : std::time(nullptr);
    if (!r_.dry_run && !r_.cancelled) {
      WriteBatch batch;
      batch.Put(kSharingKey, EncodeResult(r_));
      KEEPFS_RETURN_IF_ERROR(store_->kv().Write(batch, /*sync=*/true));
    }
    return r_;
  }

 private:
  struct Member {
    ObjectId id;
    snapshot::Content record;
    size_t holders = 0;
    ObjectId hash;
  };

  void Progress(const char* phase, uint64_t done) {
    if (opt_.progress) opt_.progress({phase, done, 0});
  }

  // Walks the fingerprint records in key order: a group is a run of keys
  // with the same fingerprint.
  Status Unify() {
    auto it = store_->kv().NewIterator(snapshot::kFingerprintPrefix);
    std::string fp;
    std::vector<ObjectId> ids;
    for (; it->Valid() && !Cancelled(opt_); it->Next()) {
      std::string_view key = it->key();
      if (key.size() != kFingerprintKeySize) {
        r_.problems.push_back("malformed fingerprint key of " + std::to_string(key.size()) +
                              " bytes; run 'keepfs check'");
        continue;
      }
      if (++r_.fingerprints % 4096 == 0) Progress("fingerprints", r_.fingerprints);
      if (key.substr(1, 16) != fp) {
        KEEPFS_RETURN_IF_ERROR(Group(fp, ids));
        ids.clear();
        fp = std::string(key.substr(1, 16));
      }
      ids.push_back(ObjectId::FromBytes(key.substr(17)).value());  // the size is checked above
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
    if (!Cancelled(opt_)) KEEPFS_RETURN_IF_ERROR(Group(fp, ids));
    Progress("fingerprints", r_.fingerprints);
    return Status::OK();
  }

  Status Group(const std::string& fp, const std::vector<ObjectId>& ids) {
    std::vector<Member> live;
    std::vector<ObjectId> targets;  // of the aliases in the group
    for (const ObjectId& id : ids) {
      KEEPFS_ASSIGN_OR_RETURN(bool exists, store_->kv().Contains(snapshot::ContentKey(id)));
      if (!exists) {
        KEEPFS_RETURN_IF_ERROR(DropStale(fp, id));
        continue;
      }
      auto rec = repo_.GetContentRecord(id);
      if (!rec.ok()) {
        r_.problems.push_back(rec.status().message());
        continue;
      }
      if (rec->is_inline) continue;
      if (rec->is_alias()) {
        targets.push_back(rec->alias_of);
        continue;
      }
      KEEPFS_ASSIGN_OR_RETURN(size_t holders, Holders(id));
      if (holders == 0) continue;  // unreferenced: the collector's, not ours
      live.push_back({id, std::move(*rec), holders, ObjectId()});
    }
    if (live.size() + targets.size() < 2) return Status::OK();
    ++r_.groups;
    if (live.size() < 2) return Status::OK();
    // Equal fingerprints are only a hint; equal SHA-256 of the bytes decides.
    std::map<ObjectId, std::vector<Member*>> by_hash;
    for (Member& m : live) {
      auto h = FileHash(m.id);
      if (!h.ok()) {
        r_.problems.push_back("content " + m.id.ShortHex() + ": " + h.status().message());
        ++r_.skipped;
        continue;
      }
      m.hash = *h;
      by_hash[m.hash].push_back(&m);
    }
    if (by_hash.size() > 1) r_.differ += by_hash.size() - 1;
    for (auto& [hash, same] : by_hash) {
      if (same.size() < 2) continue;
      Member* canon = Canonical(same, targets);
      if (opt_.before_unify_for_test) opt_.before_unify_for_test();
      for (Member* m : same) {
        if (m != canon) KEEPFS_RETURN_IF_ERROR(MakeAlias(*m, *canon));
      }
    }
    return Status::OK();
  }

  // The one the others become aliases of: already the target of aliases,
  // else the most holders (fewest references move), else the fewest data
  // bytes (a sparse copy stores no zeros), else the smallest id.
  static Member* Canonical(const std::vector<Member*>& same, const std::vector<ObjectId>& targets) {
    auto rank = [&](const Member* m) {
      bool target = std::find(targets.begin(), targets.end(), m->id) != targets.end();
      return std::make_tuple(!target, -static_cast<int64_t>(m->holders), m->record.DataBytes(),
                             m->id);
    };
    return *std::min_element(same.begin(), same.end(),
                             [&](Member* a, Member* b) { return rank(a) < rank(b); });
  }

  Result<size_t> Holders(const ObjectId& id) {
    std::string v;
    KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(snapshot::HolderKey('o', id), &v));
    if (!found) return size_t{0};
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, snapshot::DecodeHolders(v));
    return users.size();
  }

  // SHA-256 of the file's bytes. The chunks are held while read, so a gc
  // beside us cannot take them mid-read.
  Result<ObjectId> FileHash(const ObjectId& id) {
    std::unique_ptr<ObjectGuard::Hold> hold;
    KEEPFS_ASSIGN_OR_RETURN(snapshot::Content c, repo_.GetContentHeld(id, &hold));
    KEEPFS_ASSIGN_OR_RETURN(ObjectId hash, repo_.HashFileData(c));
    ++r_.hashed;
    r_.bytes_hashed += c.size;
    return hash;
  }

  // A fingerprint whose content the collector deleted. Checked again under
  // the commit lock: a backup writes the content record before its
  // fingerprint, so a record still absent means no backup re-stored it.
  Status DropStale(const std::string& fp, const ObjectId& id) {
    ++r_.stale;
    if (r_.dry_run) return Status::OK();
    std::lock_guard<std::mutex> commit(store_->commit_mu());
    KEEPFS_ASSIGN_OR_RETURN(bool back, store_->kv().Contains(snapshot::ContentKey(id)));
    if (back) return Status::OK();
    WriteBatch batch;
    std::array<uint8_t, 16> digest;
    std::copy(fp.begin(), fp.end(), reinterpret_cast<char*>(digest.data()));
    batch.Delete(snapshot::FingerprintKey(digest, id));
    return store_->kv().Write(batch, /*sync=*/false);
  }

  // m's record becomes an alias of canon, and every user holding m moves
  // its references in the same synced batch: +1 to canon, -1 per chunk part
  // of m's recipe (queued for gc where a count reaches 0).
  Status MakeAlias(const Member& m, const Member& canon) {
    std::lock_guard<std::mutex> commit(store_->commit_mu());
    // What was read without the lock may have changed: re-check both.
    auto now = repo_.GetContentRecord(m.id);
    auto target = repo_.GetContentRecord(canon.id);
    std::string v;
    KEEPFS_ASSIGN_OR_RETURN(bool held, store_->kv().Get(snapshot::HolderKey('o', m.id), &v));
    if (!now.ok() || now->is_alias() || !target.ok() || target->is_alias() || !held) {
      ++r_.skipped;
      return Status::OK();
    }
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, snapshot::DecodeHolders(v));
    snapshot::RefChanges changes(store_, users.front());
    uint64_t parts = 0;
    for (const std::string& user : users) {
      KEEPFS_RETURN_IF_ERROR(changes.SwitchUser(user));
      KEEPFS_RETURN_IF_ERROR(changes.AddObject('o', canon.id));
      for (const snapshot::ContentPart& p : now->parts) {
        if (p.is_hole()) continue;
        KEEPFS_RETURN_IF_ERROR(changes.RemoveObject('c', p.chunk));
        ++parts;
      }
    }
    ++r_.unified;
    r_.unified_bytes += now->size;
    r_.released += parts;
    r_.freed += changes.freed();
    if (r_.dry_run) return Status::OK();
    WriteBatch batch;
    changes.AddTo(&batch);
    batch.Put(snapshot::ContentKey(m.id),
              snapshot::EncodeContentAlias(now->size, canon.id, canon.hash));
    return store_->kv().Write(batch, /*sync=*/true);
  }

  // Stored bytes by set of holders, from the holder records of the charged
  // objects (chunks; inline contents), then expanded to pairs. Grouping by
  // set first keeps the cost at one map update per object however many
  // users share it.
  Status Pairs() {
    std::map<std::string, uint64_t> by_set;  // the h record's value -> bytes
    uint64_t seen = 0;
    for (char kind : {'c', 'o'}) {
      auto it = store_->kv().NewIterator(std::string("h") + kind);
      for (; it->Valid() && !Cancelled(opt_); it->Next()) {
        if (++seen % 65536 == 0) Progress("pairs", seen);
        std::string_view key = it->key();
        if (key.size() != 2 + ObjectId::kSize) continue;
        KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users,
                                snapshot::DecodeHolders(it->value()));
        if (users.size() < 2) continue;
        std::optional<uint64_t> bytes;
        const ObjectId id = ObjectId::FromBytes(key.substr(2)).value();  // size checked above
        if (kind == 'c') {
          KEEPFS_ASSIGN_OR_RETURN(std::optional<ChunkLoc> loc, store_->chunks().Lookup(id));
          if (loc) bytes = loc->stored_len;
        } else {
          // Only an inline content is charged (by its record's size); a
          // chunked one's recipe is not decoded.
          std::string record;
          KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(snapshot::ContentKey(id), &record));
          if (found && snapshot::IsInlineContentRecord(record)) bytes = record.size();
        }
        if (!bytes) continue;  // not charged (a chunked content), or gone meanwhile
        std::sort(users.begin(), users.end());
        by_set[snapshot::EncodeHolders(users)] += *bytes;
      }
      KEEPFS_RETURN_IF_ERROR(it->status());
    }
    std::map<std::pair<std::string, std::string>, uint64_t> pairs;
    for (const auto& [set, bytes] : by_set) {
      KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, snapshot::DecodeHolders(set));
      for (size_t i = 0; i < users.size(); ++i) {
        for (size_t j = i + 1; j < users.size(); ++j) pairs[{users[i], users[j]}] += bytes;
      }
    }
    for (auto& [p, bytes] : pairs) r_.pairs.push_back({p.first, p.second, bytes});
    return Status::OK();
  }

  Store* store_;
  snapshot::Repo repo_;
  const SharingOptions& opt_;
  SharingResult r_;
};

}  // namespace

Result<SharingResult> RunSharingPass(Store* store, const SharingOptions& options) {
  return SharingPass(store, options).Run();
}

Result<std::optional<SharingResult>> LastSharingPass(Store* store) {
  std::string v;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv().Get(kSharingKey, &v));
  if (!found) return std::optional<SharingResult>();
  KEEPFS_ASSIGN_OR_RETURN(SharingResult r, DecodeResult(v));
  return std::optional<SharingResult>(std::move(r));
}

std::string SharingPassText(const SharingResult& r) {
  const std::string verb = r.dry_run ? "would unify " : "unified ";
  std::string o = std::string(r.cancelled ? "sharing pass stopped early: " : "sharing pass: ") +
                  std::to_string(r.fingerprints) + " fingerprints, " + std::to_string(r.groups) +
                  " shared by several files; " + std::to_string(r.hashed) + " files compared (" +
                  HumanBytes(r.bytes_hashed) + " read)\n";
  o += "  " + verb + std::to_string(r.unified) + " identical files stored under other recipes (" +
       HumanBytes(r.unified_bytes) + "): " + std::to_string(r.released) +
       " chunk references dropped, " + HumanBytes(r.freed) +
       " for 'keepfs gc' to reclaim\n";
  if (r.differ) o += "  " + std::to_string(r.differ) + " fingerprint matches differed in their bytes\n";
  if (r.stale) o += "  " + std::to_string(r.stale) + " fingerprints of deleted files removed\n";
  if (r.skipped) o += "  " + std::to_string(r.skipped) + " files left as they were (changed meanwhile or unreadable)\n";
  for (const auto& p : r.problems) o += "  problem: " + p + "\n";
  if (r.pairs.empty()) {
    o += "  no stored data is shared between users\n";
  } else {
    o += "  shared between users (stored bytes both hold):\n";
    for (const PairShare& p : r.pairs) o += "    " + p.a + " & " + p.b + "  " + HumanBytes(p.bytes) + "\n";
  }
  return o;
}

std::string SharingPassJson(const SharingResult& r) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  std::string o = std::string("{\"dry_run\":") + (r.dry_run ? "true" : "false") +
                  ",\"cancelled\":" + (r.cancelled ? "true" : "false") +
                  ",\"finished_unix\":" + std::to_string(r.finished_unix) +
                  ",\"fingerprints\":" + n(r.fingerprints) + ",\"groups\":" + n(r.groups) +
                  ",\"hashed\":" + n(r.hashed) + ",\"bytes_hashed\":" + n(r.bytes_hashed) +
                  ",\"differ\":" + n(r.differ) + ",\"unified\":" + n(r.unified) +
                  ",\"unified_bytes\":" + n(r.unified_bytes) + ",\"released\":" + n(r.released) +
                  ",\"freed\":" + n(r.freed) + ",\"stale\":" + n(r.stale) +
                  ",\"skipped\":" + n(r.skipped) + ",\"problems\":[";
  for (size_t i = 0; i < r.problems.size(); ++i) o += (i ? "," : "") + JsonString(r.problems[i]);
  o += "],\"pairs\":[";
  for (size_t i = 0; i < r.pairs.size(); ++i) {
    o += (i ? "," : "") + std::string("{\"a\":") + JsonString(r.pairs[i].a) +
         ",\"b\":" + JsonString(r.pairs[i].b) + ",\"bytes\":" + n(r.pairs[i].bytes) + "}";
  }
  return o + "]}";
}

}  // namespace keepfs::gc
