#include "store/shard.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "store/object_id.h"
#include "store/rados_client.h"

namespace keepfs {
namespace {

constexpr char kShardOid[] = "keepfs.shard";
constexpr char kLockName[] = "owner";
constexpr char kEpochXattr[] = "epoch";
constexpr char kHeadKey[] = "head";
constexpr char kOwnerKey[] = "owner";
constexpr char kEntryPrefix[] = "m/";

Status RadosError(int r, const std::string& what) { return Status::FromErrno(-r, what); }

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string RandomCookie() {
  unsigned char b[12];
  FILE* f = std::fopen("/dev/urandom", "rb");
  size_t got = f ? std::fread(b, 1, sizeof b, f) : 0;
  if (f) std::fclose(f);
  if (got != sizeof b) {  // never seen; a cookie must only differ between processes
    uint64_t t = std::chrono::steady_clock::now().time_since_epoch().count() ^ ::getpid();
    std::memcpy(b, &t, sizeof t);
  }
  std::string s;
  for (unsigned char c : b) s += "0123456789abcdef"[c >> 4], s += "0123456789abcdef"[c & 15];
  return s;
}

std::string Describe() {
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + " pid " + std::to_string(::getpid());
}

// "<oid> <size> <sha256>", the value of an m/ entry.
std::string EncodeEntry(const JournalEntry& e) {
  return e.oid + " " + std::to_string(e.size) + " " + e.sha256;
}

Result<JournalEntry> DecodeEntry(const std::string& key, const std::string& value) {
  JournalEntry e;
  char oid[128], sha[65];
  unsigned long long size = 0;
  if (std::sscanf(value.c_str(), "%127s %llu %64s", oid, &size, sha) != 3 ||
      key.size() != 2 + 16) {
    return Status::Corruption("the shard journal entry " + key + " is malformed: '" + value + "'");
  }
  e.seq = std::strtoull(key.c_str() + 2, nullptr, 16);
  e.oid = oid;
  e.size = size;
  e.sha256 = sha;
  return e;
}

}  // namespace

struct Shard::Rep {
  rados::Client* client = nullptr;
  ShardOptions options;
  std::string cookie;

  std::mutex mu;
  uint64_t head = 0;      // GUARDED_BY(mu)
  Status broken;          // GUARDED_BY(mu): once set, every Publish fails with it
  bool stopping = false;  // GUARDED_BY(mu)
  std::condition_variable wake;
  std::thread renewer;

  void Renew() {
    std::unique_lock<std::mutex> lock(mu);
    const auto every = std::chrono::milliseconds(options.lease_sec * 1000 / 3);
    while (!wake.wait_for(lock, every, [this] { return stopping; })) {
      lock.unlock();
      int r = client->Lock(kShardOid, kLockName, cookie, Describe(), options.lease_sec,
                           /*renew=*/true);
      lock.lock();
      // Renewing a lapsed lease nobody took succeeds; one another process
      // took is EBUSY. Either way the epoch guard decides the publishes.
      if (r < 0 && broken.ok()) {
        broken = Status::Busy("lost the lease on the store's shard (" +
                                 std::string(strerror(-r)) +
                                 "); another keepfs process may own it now. Nothing more is "
                                 "committed by this one: run the job again");
      }
    }
  }
};

Shard::Shard(std::unique_ptr<Rep> rep, uint64_t epoch) : rep_(std::move(rep)), epoch_(epoch) {}

Shard::~Shard() {
  {
    std::lock_guard<std::mutex> lock(rep_->mu);
    rep_->stopping = true;
  }
  rep_->wake.notify_all();
  if (rep_->renewer.joinable()) rep_->renewer.join();
  rep_->client->Unlock(kShardOid, kLockName, rep_->cookie);
}

Status Shard::Create(rados::Client* client) {
  rados::Buffer empty;
  int r = client->PutSealed(kShardOid, empty, kEpochXattr, "0");
  if (r == -EEXIST) return Status::AlreadyExists("the shard object exists");
  if (r < 0) return RadosError(r, "creating the shard object " + std::string(kShardOid));
  return Status::OK();
}

Result<std::unique_ptr<Shard>> Shard::Acquire(rados::Client* client, const ShardOptions& options) {
  auto rep = std::make_unique<Rep>();
  rep->client = client;
  rep->options = options;
  rep->cookie = RandomCookie();
  const std::string me = Describe();
  std::string epoch_text;
  if (int r = client->GetXattr(kShardOid, kEpochXattr, &epoch_text); r < 0) {
    if (r == -ENOENT || r == -ENODATA) {
      return Status::NotFound("the namespace holds no shard object (" + std::string(kShardOid) +
                              "): the store was made by a keepfs without shards, or the "
                              "namespace was emptied");
    }
    return RadosError(r, "reading the shard's epoch");
  }
  // 1. The lease.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.wait_sec);
  bool told = false;
  for (;;) {
    int r = client->Lock(kShardOid, kLockName, rep->cookie, me, options.lease_sec,
                         /*renew=*/false);
    if (r == 0) break;
    if (r != -EBUSY) return RadosError(r, "taking the shard's lease");
    std::string who, owner;
    client->LockHolder(kShardOid, kLockName, &who);
    client->OmapGet(kShardOid, kOwnerKey, &owner);
    const std::string holder = (owner.empty() ? std::string("another process") : owner) +
                               (who.empty() ? "" : " (" + who + ")");
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Busy("the store is owned by " + holder + "; its lease ends when that "
                          "process ends, or " + std::to_string(options.lease_sec) +
                          " s after it stopped renewing. Try again later");
    }
    if (!told && options.waiting) options.waiting(holder);
    told = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  // 2. Fence every earlier owner: raise the epoch by one, atomically.
  uint64_t epoch = 0;
  for (;;) {
    if (int r = client->GetXattr(kShardOid, kEpochXattr, &epoch_text); r < 0) {
      client->Unlock(kShardOid, kLockName, rep->cookie);
      return RadosError(r, "reading the shard's epoch");
    }
    const uint64_t seen = std::strtoull(epoch_text.c_str(), nullptr, 10);
    int r = client->CompareAndSetXattr(kShardOid, kEpochXattr, seen, seen + 1,
                                       {{kOwnerKey, me}});
    if (r == 0) {
      epoch = seen + 1;
      break;
    }
    if (r != -ECANCELED) {
      client->Unlock(kShardOid, kLockName, rep->cookie);
      return RadosError(r, "raising the shard's epoch");
    }
  }
  std::string head;
  int r = client->OmapGet(kShardOid, kHeadKey, &head);
  if (r < 0 && r != -ENOENT) {
    client->Unlock(kShardOid, kLockName, rep->cookie);
    return RadosError(r, "reading the shard's journal head");
  }
  rep->head = r == 0 ? std::strtoull(head.c_str(), nullptr, 10) : 0;
  Rep* raw = rep.get();
  if (options.renew) raw->renewer = std::thread([raw] { raw->Renew(); });
  return std::unique_ptr<Shard>(new Shard(std::move(rep), epoch));
}

uint64_t Shard::head() const {
  std::lock_guard<std::mutex> lock(rep_->mu);
  return rep_->head;
}

Result<uint64_t> Shard::Publish(std::string_view rep) {
  std::lock_guard<std::mutex> lock(rep_->mu);
  if (!rep_->broken.ok()) return rep_->broken;
  JournalEntry e;
  e.seq = rep_->head + 1;
  e.oid = "meta." + Hex16(epoch_) + "." + Hex16(e.seq);
  e.size = rep.size();
  e.sha256 = Sha256::Of(rep).ToHex();
  rados::Buffer bytes;
  bytes.Append(rep.data(), rep.size());
  int r = rep_->client->PutSealed(e.oid, bytes, "sha256", e.sha256);
  if (r < 0) {
    // EEXIST: a name of this epoch exists, which only this owner makes.
    rep_->broken = RadosError(r, "writing the metadata journal entry " + e.oid);
    return rep_->broken;
  }
  r = rep_->client->GuardedOmapSet(
      kShardOid, kEpochXattr, epoch_,
      {{kEntryPrefix + Hex16(e.seq), EncodeEntry(e)}, {kHeadKey, std::to_string(e.seq)}});
  if (r == -ECANCELED) {
    rep_->broken = Status::Busy(
        "another keepfs process took the store over (this one's epoch " +
        std::to_string(epoch_) + " is fenced): nothing more is committed by this one");
    rep_->client->Remove(e.oid);  // an orphan nobody names; a later owner would too
    return rep_->broken;
  }
  if (r < 0) {
    rep_->broken = RadosError(r, "publishing the metadata journal entry " + e.oid +
                                     " (the outcome is unknown: open the store again)");
    return rep_->broken;
  }
  rep_->head = e.seq;
  return e.seq;
}

Result<std::vector<JournalEntry>> Shard::Since(uint64_t after) const {
  std::vector<JournalEntry> out;
  std::string from = kEntryPrefix + Hex16(after);
  for (;;) {
    std::vector<std::pair<std::string, std::string>> page;
    if (int r = rep_->client->OmapList(kShardOid, from, kEntryPrefix, 1000, &page); r < 0) {
      return RadosError(r, "listing the shard's journal");
    }
    if (page.empty()) break;
    for (const auto& [k, v] : page) {
      KEEPFS_ASSIGN_OR_RETURN(JournalEntry e, DecodeEntry(k, v));
      out.push_back(std::move(e));
    }
    from = page.back().first;
  }
  return out;
}

Result<std::string> Shard::Fetch(const JournalEntry& e) const {
  std::string bytes(e.size, '\0');
  if (e.size > 0) {
    int r = rep_->client->Read(e.oid, 0, e.size, bytes.data());
    if (r < 0) return RadosError(r, "reading the metadata journal entry " + e.oid);
    if (static_cast<uint64_t>(r) != e.size) {
      return Status::Corruption("the metadata journal entry " + e.oid + " has " +
                                std::to_string(r) + " bytes where its record says " +
                                std::to_string(e.size));
    }
  }
  if (Sha256::Of(bytes).ToHex() != e.sha256) {
    return Status::Corruption("the metadata journal entry " + e.oid +
                              " does not match its SHA-256");
  }
  return bytes;
}

}  // namespace keepfs
