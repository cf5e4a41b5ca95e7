#include "gc/repair.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "gc/audit.h"
#include "snapshot/accounting.h"
#include "snapshot/catalog.h"
#include "snapshot/content.h"
#include "snapshot/quarantine.h"
#include "snapshot/tree.h"
#include "store/chunk_store.h"
#include "store/chunker.h"
#include "store/file_util.h"
#include "store/mirror.h"

namespace keepfs::gc {

namespace {

using snapshot::CheckedObject;

// A problem's identity across the first and the final check.
using ObjectKey = std::pair<std::string, std::string>;  // kind, id
ObjectKey KeyOf(const CheckedObject& o) { return {o.kind, o.id}; }

struct WantedChunk {
  std::optional<std::string> was;  // its index value when looked at (nullopt: not indexed)
  std::string source;              // set once good bytes were found
};

class Repairer {
 public:
  Repairer(Store* store, const RepairOptions& options,
           const std::function<void(const RepairedObject&)>& on_object)
      : store_(store),
        opt_(options),
        on_object_(on_object),
        now_(options.now_unix ? options.now_unix : static_cast<int64_t>(std::time(nullptr))) {}

  Result<RepairSummary> Run() {
    sum_.dry_run = opt_.dry_run;
    if (!opt_.dry_run && !store_->writable()) {
      return Status::InvalidArgument("repair needs the store open for writing");
    }
    // The index entries repair moves are the collector's to move otherwise.
    std::unique_lock<std::mutex> no_gc(store_->gc_mu(), std::try_to_lock);
    if (!no_gc.owns_lock()) {
      return Status::Busy("garbage collection is running on this store; repair when it is done");
    }
    for (const std::string& dir : opt_.mirrors) {
      auto m = Mirror::Open(dir);
      if (!m.ok()) return m.status();
      mirrors_.push_back(std::move(*m));
    }
    for (const std::string& dir : opt_.source_dirs) {
      struct stat st;
      if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return Status::NotFound("source " + dir + " is not a readable directory");
      }
    }

    // 1. What is wrong.
    KEEPFS_RETURN_IF_ERROR(Check(opt_.verify_data, {}, &first_));
    if (Cancelled()) return Stopped();
    for (const auto& [key, o] : first_) Classify(o);

    // 2-5. Mend.
    KEEPFS_RETURN_IF_ERROR(FetchRecords());
    if (Cancelled()) return Stopped();
    KEEPFS_RETURN_IF_ERROR(MoveIntactChunks());
    if (Cancelled()) return Stopped();
    KEEPFS_RETURN_IF_ERROR(FetchChunksFromMirrors());
    if (Cancelled()) return Stopped();
    KEEPFS_RETURN_IF_ERROR(FetchChunksFromSources());
    if (Cancelled()) return Stopped();
    KEEPFS_RETURN_IF_ERROR(Flush());
    KEEPFS_RETURN_IF_ERROR(RetirePacks());

    // 6. What is left.
    if (opt_.dry_run) return ReportDryRun();
    std::map<ObjectKey, CheckedObject> left;
    if (!first_.empty()) {
      std::vector<uint64_t> verify(damaged_packs_.begin(), damaged_packs_.end());
      KEEPFS_RETURN_IF_ERROR(Check(!verify.empty(), verify, &left));
    }
    if (Cancelled()) return Stopped();
    return Report(left);
  }

 private:
  bool Cancelled() const { return opt_.cancel && opt_.cancel->load(); }
  Result<RepairSummary> Stopped() {
    KEEPFS_RETURN_IF_ERROR(Flush());  // what is fetched is kept; a new run starts over
    sum_.cancelled = true;
    return sum_;
  }
  void Progress(const std::string& step, uint64_t done, uint64_t total) {
    if (opt_.progress) opt_.progress(step, done, total);
  }

  Status Check(bool verify, const std::vector<uint64_t>& packs,
               std::map<ObjectKey, CheckedObject>* problems) {
    snapshot::CheckOptions co;
    co.verify_data = verify;
    co.verify_packs = packs;
    co.now_unix = now_;
    co.cancel = opt_.cancel;
    const std::string step = problems == &first_ ? "check" : "final check";
    co.progress = [&](const std::string& phase, uint64_t done) { Progress(step + " " + phase, done, 0); };
    auto r = snapshot::CheckStore(store_, co, [&](const CheckedObject& o) {
      if (!o.ok()) (*problems)[KeyOf(o)] = o;
    });
    return r.status();
  }

  // What the first check found, sorted into what to fetch and what to retire.
  void Classify(const CheckedObject& o) {
    if (o.state == "uncounted") {  // reference records, not data: the auditor's recount mends them
      needs_recount_ = true;
      return;
    }
    if (o.kind == "chunk") {
      auto id = ObjectId::FromHex(o.id);
      if (!id.ok()) return;
      WantChunk(*id);
    } else if ((o.kind == "tree" || o.kind == "content") && (o.state == "missing" || o.state == "corrupt")) {
      auto id = ObjectId::FromHex(o.id);
      if (!id.ok()) return;
      wanted_records_.emplace(o.kind == "tree" ? snapshot::TreeKey(*id) : snapshot::ContentKey(*id),
                              std::string());
    } else if (o.kind == "pack" && (o.state == "missing" || o.state == "corrupt")) {
      damaged_packs_.insert(std::stoull(o.id));
    }
  }

  void WantChunk(const ObjectId& id) {
    if (wanted_chunks_.count(id)) return;
    WantedChunk w;
    std::string v;
    auto found = store_->kv().Get(ChunkStore::ChunkKey(id), &v);
    if (found.ok() && *found) {
      w.was = v;
      if (auto loc = ChunkStore::DecodeLoc(v); loc.ok()) damaged_packs_.insert(loc->pack_id);
    }
    wanted_chunks_.emplace(id, std::move(w));
    ++unfound_;
  }

  // ---- records ----

  // A record from a mirror, if it is the object its key names.
  Result<bool> Acceptable(const std::string& key, const std::string& value) {
    auto id = ObjectId::FromBytes(std::string_view(key).substr(1));
    if (!id.ok()) return false;
    if (key[0] == 't') return Sha256::Of(value) == *id && snapshot::DecodeTreeNode(value).ok();
    auto c = snapshot::DecodeContent(value);
    if (!c.ok()) return false;
    if (!c->is_alias()) return snapshot::ContentId(*c) == *id;
    // An alias names its target: it must be a stored or fetched content of the same size.
    std::string target;
    const std::string tkey = snapshot::ContentKey(c->alias_of);
    if (auto it = staged_.find(tkey); it != staged_.end()) {
      target = it->second;
    } else {
      KEEPFS_ASSIGN_OR_RETURN(bool found, store_->kv().Get(tkey, &target));
      if (!found) return false;
    }
    auto t = snapshot::DecodeContent(target);
    return t.ok() && !t->is_alias() && t->size == c->size;
  }

  Result<bool> Present(const std::string& key) {
    if (staged_.count(key)) return true;
    return store_->kv().Contains(key);
  }

  // Fetches wanted tree and content records, and what they name that is
  // missing, from the mirrors; writes them in one synced batch; then
  // raises the counts they need.
  Status FetchRecords() {
    std::vector<std::string> work;
    for (const auto& [key, src] : wanted_records_) work.push_back(key);
    uint64_t done = 0;
    while (!work.empty() && !Cancelled()) {
      const std::string key = work.back();
      work.pop_back();
      Progress("records", ++done, 0);
      for (auto& m : mirrors_) {
        std::string value;
        KEEPFS_ASSIGN_OR_RETURN(bool found, m->kv().Get(key, &value));
        if (!found) continue;
        KEEPFS_ASSIGN_OR_RETURN(bool good, Acceptable(key, value));
        if (!good) continue;
        wanted_records_[key] = "mirror " + m->dir();
        staged_[key] = value;
        // What it names must be there too.
        snapshot::ObjectLinks links;
        if (key[0] == 't') {
          auto node = snapshot::DecodeTreeNode(value);
          if (node.ok()) snapshot::AppendNodeLinks(*node, &links);
        } else {
          auto c = snapshot::DecodeContent(value);
          if (c.ok() && c->is_alias()) links.children.emplace_back('o', c->alias_of);
          if (c.ok() && !c->is_alias()) {
            for (const auto& p : c->parts) {
              if (!p.is_hole()) links.children.emplace_back('c', p.chunk);
            }
          }
        }
        for (const auto& [kind, child] : links.children) {
          if (kind == 'c') {
            KEEPFS_ASSIGN_OR_RETURN(bool indexed, store_->kv().Contains(ChunkStore::ChunkKey(child)));
            if (!indexed) WantChunk(child);
            continue;
          }
          std::string ckey = kind == 't' ? snapshot::TreeKey(child) : snapshot::ContentKey(child);
          KEEPFS_ASSIGN_OR_RETURN(bool present, Present(ckey));
          if (!present && !wanted_records_.count(ckey)) {
            wanted_records_.emplace(ckey, std::string());
            work.push_back(ckey);
          }
        }
        break;
      }
    }
    sum_.records_fetched = staged_.size();
    if (opt_.dry_run) return Status::OK();
    if (!staged_.empty()) {
      WriteBatch batch;
      for (const auto& [key, value] : staged_) batch.Put(key, value);
      KEEPFS_RETURN_IF_ERROR(store_->kv().Write(batch, /*sync=*/true));
      // A restored record may name objects differently from the one the
      // counts were made with (an alias where the lost record was a
      // recipe): the recount below raises every count a reachable object
      // needs, so the collector cannot take anything they name.
      needs_recount_ = true;
    }
    if (!needs_recount_) return Status::OK();
    AuditOptions ao;
    ao.cancel = opt_.cancel;
    auto audit = Audit(store_, ao);
    return audit.status();
  }

  // ---- chunks ----

  // Intact chunks of damaged packs go to new packs, so the packs can go.
  Status MoveIntactChunks() {
    if (damaged_packs_.empty()) return Status::OK();
    auto it = store_->kv().NewIterator("c");
    std::string raw;
    uint64_t seen = 0;
    for (; it->Valid() && !Cancelled(); it->Next()) {
      if (++seen % 4096 == 0) Progress("move", sum_.chunks_moved, 0);
      auto loc = ChunkStore::DecodeLoc(it->value());
      if (!loc.ok() || !damaged_packs_.count(loc->pack_id)) continue;
      auto id = ObjectId::FromBytes(it->key().substr(1));
      if (!id.ok() || wanted_chunks_.count(*id)) continue;
      Status s = store_->chunks().Read(*id, &raw, ChunkStore::Verify::kRehash);
      if (!s.ok()) {
        // Damage the first check did not see (it did not verify data).
        WantChunk(*id);
        extra_[{"chunk", id->ToHex()}] = CheckedObject{"chunk", id->ToHex(), "corrupt", s.message(), {}};
        continue;
      }
      ++sum_.chunks_moved;
      if (opt_.dry_run) continue;
      KEEPFS_RETURN_IF_ERROR(Queue(*id, std::move(raw), std::string(it->value())));
    }
    return it->status();
  }

  Status FetchChunksFromMirrors() {
    std::string raw;
    uint64_t done = 0;
    for (auto& m : mirrors_) {
      for (auto& [id, w] : wanted_chunks_) {
        if (Cancelled()) return Status::OK();
        if (!w.source.empty()) continue;
        Progress("mirror", ++done, wanted_chunks_.size());
        if (!m->chunks().Read(id, &raw, ChunkStore::Verify::kRehash).ok()) continue;
        KEEPFS_RETURN_IF_ERROR(Found(id, w, std::move(raw), "mirror " + m->dir()));
      }
    }
    return Status::OK();
  }

  Status FetchChunksFromSources() {
    for (const std::string& dir : opt_.source_dirs) {
      if (Remaining() == 0 || Cancelled()) return Status::OK();
      std::error_code ec;
      auto it = std::filesystem::recursive_directory_iterator(
          dir, std::filesystem::directory_options::skip_permission_denied, ec);
      if (ec) return Status::FromErrno(ec.value(), "reading source " + dir);
      uint64_t files = 0;
      for (; it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;  // an unreadable corner of a source tree: go on with the next tree
        if (Remaining() == 0 || Cancelled()) return Status::OK();
        if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
        Progress("source", ++files, 0);
        KEEPFS_RETURN_IF_ERROR(ChunkSourceFile(it->path().string()));
      }
    }
    return Status::OK();
  }

  size_t Remaining() const { return unfound_; }

  // Cuts a file the way a backup does and keeps every wanted chunk in it.
  Status ChunkSourceFile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    struct stat st;
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return Status::OK();
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size <= store_->meta().inline_max) return Status::OK();  // stored inline, no chunks
    KEEPFS_RETURN_IF_ERROR(ChunkRange(fd.get(), 0, size, path));
    if (static_cast<uint64_t>(st.st_blocks) * 512 >= size) return Status::OK();
    // Sparse: a backup cut each data extent on its own.
    off_t pos = 0;
    while (static_cast<uint64_t>(pos) < size) {
      off_t data = ::lseek(fd.get(), pos, SEEK_DATA);
      if (data < 0) break;
      off_t hole = ::lseek(fd.get(), data, SEEK_HOLE);
      if (hole < 0) break;
      KEEPFS_RETURN_IF_ERROR(ChunkRange(fd.get(), static_cast<uint64_t>(data),
                                        std::min<uint64_t>(static_cast<uint64_t>(hole), size), path));
      pos = hole;
    }
    return Status::OK();
  }

  Status ChunkRange(int fd, uint64_t start, uint64_t end, const std::string& path) {
    if (!chunker_) chunker_ = std::make_unique<Chunker>(store_->meta().chunker);
    const size_t max_chunk = chunker_->params().max_size;
    const size_t cap = std::max<size_t>(8u << 20, 2 * max_chunk);
    if (buf_.size() < cap) buf_.resize(cap);
    size_t have = 0;
    uint64_t pos = start;
    bool eof = false;
    while (!eof || have > 0) {
      while (!eof && have < cap) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(cap - have, end - pos));
        ssize_t n = want == 0 ? 0 : ::pread(fd, buf_.data() + have, want, static_cast<off_t>(pos));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          eof = true;  // an unreadable source file just supplies nothing more
          break;
        }
        have += static_cast<size_t>(n);
        pos += static_cast<uint64_t>(n);
      }
      size_t off = 0;
      while (off < have && (eof || have - off >= max_chunk)) {
        size_t cut = chunker_->FindCut(reinterpret_cast<const uint8_t*>(buf_.data()) + off, have - off);
        std::string_view chunk(buf_.data() + off, cut);
        auto it = wanted_chunks_.find(Sha256::Of(chunk));
        if (it != wanted_chunks_.end() && it->second.source.empty()) {
          KEEPFS_RETURN_IF_ERROR(Found(it->first, it->second, std::string(chunk), "source " + path));
        }
        off += cut;
      }
      std::memmove(buf_.data(), buf_.data() + off, have - off);
      have -= off;
    }
    return Status::OK();
  }

  Status Found(const ObjectId& id, WantedChunk& w, std::string raw, const std::string& source) {
    w.source = source;
    --unfound_;
    ++sum_.chunks_fetched;
    if (opt_.dry_run) return Status::OK();
    return Queue(id, std::move(raw), w.was);
  }

  Status Queue(const ObjectId& id, std::string raw, std::optional<std::string> was) {
    ChunkStore::Replacement r;
    r.id = id;
    queued_bytes_ += raw.size();
    r.raw = std::move(raw);
    r.was = std::move(was);
    queued_.push_back(std::move(r));
    if (queued_bytes_ >= store_->chunks().pack_target_size()) return Flush();
    return Status::OK();
  }

  Status Flush() {
    if (queued_.empty()) return Status::OK();
    KEEPFS_ASSIGN_OR_RETURN(auto r, store_->chunks().ReplaceChunks(queued_, store_->meta().compression_level));
    sum_.packs_written += r.packs_written;
    queued_.clear();
    queued_bytes_ = 0;
    return Status::OK();
  }

  // Damaged packs with nothing live left are condemned and removed.
  Status RetirePacks() {
    if (opt_.dry_run) return Status::OK();
    std::vector<uint64_t> empty;
    for (uint64_t id : damaged_packs_) {
      KEEPFS_ASSIGN_OR_RETURN(std::optional<PackInfo> info, store_->chunks().GetPack(id));
      if (info && info->nothing_live()) empty.push_back(id);
    }
    if (empty.empty()) return Status::OK();
    KEEPFS_ASSIGN_OR_RETURN(auto r, store_->chunks().Condemn(empty));
    sum_.packs_retired += r.packs_removed;
    return Status::OK();
  }

  // ---- the outcome ----

  std::string SourceOf(const CheckedObject& o) const {
    if (o.state == "uncounted") return "recount";
    if (o.kind == "chunk") {
      auto id = ObjectId::FromHex(o.id);
      if (!id.ok()) return {};
      auto it = wanted_chunks_.find(*id);
      return it == wanted_chunks_.end() ? std::string() : it->second.source;
    }
    if (o.kind == "tree" || o.kind == "content") {
      auto id = ObjectId::FromHex(o.id);
      if (!id.ok()) return {};
      auto it = wanted_records_.find(o.kind == "tree" ? snapshot::TreeKey(*id) : snapshot::ContentKey(*id));
      return it == wanted_records_.end() ? std::string() : it->second;
    }
    return {};
  }

  Result<RepairSummary> ReportDryRun() {
    for (auto& src : {&first_, &extra_}) {
      for (const auto& [key, o] : *src) {
        RepairedObject r{o, "unrepaired", SourceOf(o)};
        // A pack goes once its chunks are all found or intact.
        bool fixable = !r.source.empty() || (o.kind == "pack" && Remaining() == 0);
        if (fixable) r.outcome = "would repair";
        ++sum_.problems;
        ++(fixable ? sum_.repaired : sum_.unrepaired);
        on_object_(r);
      }
    }
    return sum_;
  }

  Result<RepairSummary> Report(const std::map<ObjectKey, CheckedObject>& left) {
    std::map<ObjectKey, CheckedObject> all = first_;
    all.insert(extra_.begin(), extra_.end());
    for (const auto& [key, o] : left) all.emplace(key, o);  // found only once records came back
    std::vector<CheckedObject> unmended;
    for (const auto& [key, o] : all) {
      ++sum_.problems;
      auto l = left.find(key);
      if (l == left.end()) {
        ++sum_.repaired;
        on_object_(RepairedObject{o, "repaired", SourceOf(o)});
        continue;
      }
      ++sum_.unrepaired;
      unmended.push_back(l->second);
      on_object_(RepairedObject{l->second, "unrepaired", ""});
    }
    KEEPFS_ASSIGN_OR_RETURN(auto records, snapshot::QuarantineProblems(store_, unmended, now_));
    sum_.quarantined_snapshots = records.size();
    for (const auto& r : records) sum_.quarantined_paths += r.paths.size();
    return sum_;
  }

  Store* store_;
  const RepairOptions& opt_;
  const std::function<void(const RepairedObject&)>& on_object_;
  const int64_t now_;
  RepairSummary sum_;
  std::vector<std::unique_ptr<Mirror>> mirrors_;
  std::map<ObjectKey, CheckedObject> first_;  // what the first check found
  std::map<ObjectKey, CheckedObject> extra_;  // damage found on the way
  std::unordered_map<ObjectId, WantedChunk, ObjectIdHash> wanted_chunks_;
  std::map<std::string, std::string> wanted_records_;  // key -> where it came from ("" not found)
  std::map<std::string, std::string> staged_;          // fetched records, by key
  std::set<uint64_t> damaged_packs_;
  size_t unfound_ = 0;          // wanted chunks no source has supplied yet
  bool needs_recount_ = false;  // reference records to raise (keepfs audit)
  std::vector<ChunkStore::Replacement> queued_;
  uint64_t queued_bytes_ = 0;
  std::unique_ptr<Chunker> chunker_;
  std::string buf_;
};

}  // namespace

Result<RepairSummary> RepairStore(Store* store, const RepairOptions& options,
                                  const std::function<void(const RepairedObject&)>& on_object) {
  return Repairer(store, options, on_object).Run();
}

}  // namespace keepfs::gc
