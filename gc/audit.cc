#include "gc/audit.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/pins.h"
#include "snapshot/repo.h"
#include "store/chunk_store.h"
#include "store/coding.h"
#include "store/text.h"

namespace keepfs::gc {

namespace {

constexpr size_t kMaxFindings = 100;

// An object as a map key: its kind and id bytes.
std::string Key(char kind, const ObjectId& id) { return kind + std::string(id.AsBytes()); }
std::string Describe(std::string_view key) {
  auto id = ObjectId::FromBytes(key.substr(1));
  const char* kind = key[0] == 't' ? "tree" : key[0] == 'o' ? "content" : "chunk";
  return std::string(kind) + " " + (id.ok() ? id->ShortHex() : "?");
}

class Auditor {
 public:
  Auditor(Store* store, const AuditOptions& o) : store_(store), opt_(o) { r_.dry_run = o.dry_run; }

  Result<AuditResult> Run() {
    if (!opt_.dry_run && !store_->writable()) return Status::Internal("audit needs a writable store");
    snapshot::Repo repo(store_);
    KEEPFS_ASSIGN_OR_RETURN(std::vector<std::string> users, repo.ListUsers());
    for (const auto& user : users) {
      if (Cancelled()) break;
      KEEPFS_RETURN_IF_ERROR(Mark(user));
      ++r_.users;
    }
    if (!Cancelled()) KEEPFS_RETURN_IF_ERROR(ExtraHolders());
    if (!Cancelled()) {
      for (const auto& user : users) KEEPFS_RETURN_IF_ERROR(Account(user));
    }
    for (char kind : {'t', 'o', 'c'}) {
      if (Cancelled()) break;
      KEEPFS_RETURN_IF_ERROR(Sweep(kind));
    }
    r_.cancelled = Cancelled();
    return r_;
  }

 private:
  bool Cancelled() const { return opt_.cancel && opt_.cancel->load(); }
  void Finding(std::string s) {
    if (r_.findings.size() < kMaxFindings) r_.findings.push_back(std::move(s));
  }
  void Progress(const std::string& phase, uint64_t done) {
    if (opt_.progress) opt_.progress({phase, done, 0});
  }

  // Recounts one user's references and raises what is below the recount.
  Status Mark(const std::string& user) {
    std::lock_guard<std::mutex> commit(store_->commit_mu());
    snapshot::Repo repo(store_);
    std::unordered_map<std::string, uint64_t> counts;
    std::vector<std::pair<char, ObjectId>> stack;
    KEEPFS_ASSIGN_OR_RETURN(auto snaps, repo.ListSnapshots(user));
    for (const auto& s : snaps) stack.push_back({'t', s.root});
    KEEPFS_ASSIGN_OR_RETURN(auto pins, snapshot::ListPins(store_, user));
    for (const auto& p : pins) {
      if (p.kind != 0) stack.push_back({p.kind, p.id});
    }
    snapshot::ObjectLinks links;
    while (!stack.empty()) {
      auto [kind, id] = stack.back();
      stack.pop_back();
      if (id.IsZero()) continue;
      if (counts[Key(kind, id)]++ > 0) continue;
      if (counts.size() % 65536 == 0) Progress("recount " + user, counts.size());
      Status s = snapshot::ReadObjectLinks(store_, kind, id, &links);
      if (!s.ok()) {
        // Missing or damaged data is for check and repair; the count stays.
        Finding(user + ": " + Describe(Key(kind, id)) + " is reachable but unreadable: " +
                s.message() + " (run 'keepfs check')");
        continue;
      }
      stack.insert(stack.end(), links.children.begin(), links.children.end());
    }
    r_.references += counts.size();

    WriteBatch batch;
    const std::string prefix = snapshot::RefPrefix(user);
    auto it = store_->kv().NewIterator(prefix);
    std::unordered_set<std::string> seen;
    for (; it->Valid(); it->Next()) {
      std::string key(it->key().substr(prefix.size()));
      Decoder dec(it->value());
      uint64_t stored = 0;
      if (!dec.GetVarint(&stored) || !dec.empty()) {
        Finding(user + ": the count of " + Describe(key) + " does not decode");
        continue;
      }
      auto c = counts.find(key);
      uint64_t want = c == counts.end() ? 0 : c->second;
      if (c != counts.end()) seen.insert(key);
      if (stored > want) {
        ++r_.over;
        Finding(user + ": " + Describe(key) + " counted " + std::to_string(stored) + ", recount " +
                std::to_string(want) + " (kept: an auditor never lowers a count)");
      } else if (stored < want) {
        Raise(user, key, stored, want, &batch);
      }
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
    for (const auto& [key, want] : counts) {
      if (!seen.count(key)) Raise(user, key, 0, want, &batch);
    }
    // Every object the user reaches must list the user as a holder.
    for (const auto& [key, want] : counts) {
      std::string hkey = snapshot::HolderKey(key), v;
      KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(hkey, &v));
      std::vector<std::string> holders;
      if (found) {
        auto h = snapshot::DecodeHolders(v);
        if (!h.ok()) {
          Finding(Describe(key) + ": the holder list does not decode");
          continue;
        }
        holders = std::move(*h);
      }
      if (std::find(holders.begin(), holders.end(), user) != holders.end()) continue;
      ++r_.holders_added;
      Finding(Describe(key) + ": " + user + " references it but is not listed as a holder" +
              (opt_.dry_run ? "" : " (added)"));
      holders.push_back(user);
      batch.Put(hkey, snapshot::EncodeHolders(holders));
      holders_changed_ = true;
    }
    if (opt_.dry_run || batch.Count() == 0) return Status::OK();
    return store_->kv().Write(batch, /*sync=*/true);
  }

  void Raise(const std::string& user, const std::string& key, uint64_t stored, uint64_t want,
             WriteBatch* batch) {
    ++r_.raised;
    Finding(user + ": " + Describe(key) + " counted " + std::to_string(stored) + ", recount " +
            std::to_string(want) + (opt_.dry_run ? "" : " (raised)"));
    std::string v;
    Encoder(&v).PutVarint(want);
    batch->Put(snapshot::RefPrefix(user) + key, v);
  }

  // A holder without a count: only reported (it keeps garbage, never loses data).
  Status ExtraHolders() {
    auto it = store_->kv().NewIterator("h");
    for (; it->Valid(); it->Next()) {
      std::string key(it->key().substr(1));
      auto holders = snapshot::DecodeHolders(it->value());
      if (!holders.ok()) continue;  // reported by Mark when reachable
      for (const auto& user : *holders) {
        KEEPFS_ASSIGN_OR_RETURN(bool counted,
                                store_->kv().Contains(snapshot::RefPrefix(user) + key));
        if (counted) continue;
        ++r_.holders_extra;
        Finding(Describe(key) + ": " + user + " is listed as a holder without a count (kept)");
      }
    }
    return it->status();
  }

  // Recomputes the user's account from their counts and the holder lists.
  Status Account(const std::string& user) {
    std::lock_guard<std::mutex> commit(store_->commit_mu());
    snapshot::UserHoldings want;
    const std::string prefix = snapshot::RefPrefix(user);
    auto it = store_->kv().NewIterator(prefix);
    snapshot::ObjectLinks links;
    for (; it->Valid(); it->Next()) {
      std::string_view key = it->key().substr(prefix.size());
      if (key.size() != 33 || key[0] == 't') continue;
      auto id = ObjectId::FromBytes(key.substr(1));
      if (!id.ok()) continue;
      if (!snapshot::ReadObjectLinks(store_, key[0], *id, &links).ok() || !links.charged) continue;
      std::string v;
      KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(snapshot::HolderKey(key), &v));
      uint64_t k = 1;
      if (found) {
        auto holders = snapshot::DecodeHolders(v);
        if (holders.ok()) k = std::max<size_t>(holders->size(), 1);
      }
      want.bytes_by_holders[k] += *links.charged;
    }
    KEEPFS_RETURN_IF_ERROR(it->status());
    KEEPFS_ASSIGN_OR_RETURN(snapshot::UserHoldings got, snapshot::LoadHoldings(store_, user));
    if (got.bytes_by_holders == want.bytes_by_holders) return Status::OK();
    ++r_.accounts_wrong;
    Finding(user + ": account says " + HumanBytes(got.charged()) + " charged, recount " +
            HumanBytes(want.charged()) + (opt_.dry_run || !holders_changed_ ? "" : " (rewritten)"));
    // Rewritten only when this run changed holder lists; otherwise the
    // disagreement is reported for a person to look at.
    if (opt_.dry_run || !holders_changed_) return Status::OK();
    WriteBatch batch;
    batch.Put(snapshot::AccountKey(user), snapshot::EncodeHoldings(want));
    return store_->kv().Write(batch, /*sync=*/true);
  }

  // Records of one kind that nobody holds and that are not queued: queued now.
  Status Sweep(char kind) {
    auto records = store_->kv().NewIterator(std::string(1, kind));
    auto holders = store_->kv().NewIterator(snapshot::HolderKey(std::string(1, kind)));
    auto queued = store_->kv().NewIterator(snapshot::CandidateKey(std::string(1, kind)));
    WriteBatch batch;
    for (; records->Valid(); records->Next()) {
      std::string_view id = records->key().substr(1);
      if (id.size() != ObjectId::kSize) continue;
      ++r_.records_swept;
      if (r_.records_swept % 65536 == 0) Progress("sweep", r_.records_swept);
      // The three ranges are sorted by id: advance the others to it.
      while (holders->Valid() && holders->key().substr(2) < id) holders->Next();
      while (queued->Valid() && queued->key().substr(2) < id) queued->Next();
      bool held = holders->Valid() && holders->key().substr(2) == id;
      bool in_queue = queued->Valid() && queued->key().substr(2) == id;
      if (held || in_queue) continue;
      ++r_.orphans;
      batch.Put(snapshot::CandidateKey(kind + std::string(id)), "");
      if (batch.Count() >= 4096 && !opt_.dry_run) {
        KEEPFS_RETURN_IF_ERROR(store_->kv().Write(batch, /*sync=*/false));
        batch.Clear();
      }
    }
    KEEPFS_RETURN_IF_ERROR(records->status());
    if (opt_.dry_run || batch.Count() == 0) return Status::OK();
    return store_->kv().Write(batch, /*sync=*/true);
  }

  Store* store_;
  AuditOptions opt_;
  AuditResult r_;
  bool holders_changed_ = false;
};

}  // namespace

Result<AuditResult> Audit(Store* store, const AuditOptions& options) {
  return Auditor(store, options).Run();
}

std::string AuditText(const AuditResult& r) {
  std::string o = r.dry_run ? "dry run: nothing was changed\n" : "";
  o += "recounted " + std::to_string(r.references) + " references of " + std::to_string(r.users) +
       " users: " + std::to_string(r.raised) + " counts too low" +
       (r.dry_run ? "" : " (raised)") + ", " + std::to_string(r.over) + " too high (kept), " +
       std::to_string(r.holders_added) + " holders missing" + (r.dry_run ? "" : " (added)") +
       ", " + std::to_string(r.holders_extra) + " extra, " + std::to_string(r.accounts_wrong) +
       " accounts wrong\n";
  o += "swept " + std::to_string(r.records_swept) + " records: " + std::to_string(r.orphans) +
       " unreferenced and not queued" + (r.dry_run ? "" : " (queued for gc)") + "\n";
  for (const auto& f : r.findings) o += "finding: " + f + "\n";
  if (!r.clean()) {
    o += "every finding above is a bug in keepfs: please report it with this output\n";
  }
  if (r.cancelled) o += "note: stopped early; run the audit again\n";
  return o;
}

std::string AuditJson(const AuditResult& r) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  std::string findings;
  for (const auto& f : r.findings) findings += (findings.empty() ? "" : ",") + JsonString(f);
  return std::string("{\"dry_run\":") + (r.dry_run ? "true" : "false") +
         ",\"cancelled\":" + (r.cancelled ? "true" : "false") + ",\"clean\":" +
         (r.clean() ? "true" : "false") + ",\"users\":" + n(r.users) + ",\"references\":" +
         n(r.references) + ",\"raised\":" + n(r.raised) + ",\"over\":" + n(r.over) +
         ",\"holders_added\":" + n(r.holders_added) + ",\"holders_extra\":" +
         n(r.holders_extra) + ",\"accounts_wrong\":" + n(r.accounts_wrong) +
         ",\"records_swept\":" + n(r.records_swept) + ",\"orphans\":" + n(r.orphans) +
         ",\"findings\":[" + findings + "]}";
}

}  // namespace keepfs::gc
