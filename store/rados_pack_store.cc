#include "store/rados_pack_store.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "store/object_id.h"
#include "store/rados_client.h"

namespace keepfs {
namespace {

constexpr char kMarker[] = "keepfs.store";
constexpr char kPackPrefix[] = "pack.";

std::string PackOid(uint64_t pack_id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "pack.%016llx", static_cast<unsigned long long>(pack_id));
  return buf;
}

// The id of a pack object's name; nullopt for any other object.
std::optional<uint64_t> PackIdOf(std::string_view oid) {
  if (oid.size() != 5 + 16 || oid.substr(0, 5) != kPackPrefix) return std::nullopt;
  uint64_t id = 0;
  for (char c : oid.substr(5)) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    id = id << 4 | static_cast<uint64_t>(d);
  }
  return id;
}

// librados returns -errno.
Status RadosError(int r, const std::string& what) { return Status::FromErrno(-r, what); }

class RadosUpload : public PackUpload {
 public:
  RadosUpload(rados::Client* client, std::string oid, std::string name)
      : client_(client), oid_(std::move(oid)), name_(std::move(name)) {}

  Status Append(std::string_view bytes) override {
    if (done_) return Status::Internal("append to a finished pack " + name_);
    data_.Append(bytes.data(), bytes.size());
    sha_.Update(bytes);
    return Status::OK();
  }

  Status Seal() override {
    if (done_) return Status::Internal("seal of a finished pack " + name_);
    done_ = true;
    // One atomic operation: the object appears whole, with its checksum, or
    // not at all; exclusive, so a pack is never overwritten.
    int r = client_->PutSealed(oid_, data_, "sha256", sha_.Finish().ToHex());
    data_.Clear();
    if (r == -EEXIST) return Status::AlreadyExists("pack " + name_ + " exists");
    if (r < 0) return RadosError(r, "writing pack " + name_);
    return Status::OK();
  }

 private:
  rados::Client* client_;
  std::string oid_, name_;
  rados::Buffer data_;  // the whole pack until the seal (pack_target_size, 32 MiB)
  Sha256 sha_;
  bool done_ = false;
};

class RadosPackStore : public PackStore {
 public:
  explicit RadosPackStore(RadosLocation loc) : loc_(std::move(loc)) {}

  Status Connect() {
    std::string step;
    int r = client_.Connect(loc_.client, loc_.ceph_conf, loc_.op_timeout_sec, &step);
    if (r < 0 && step == "init") {
      return RadosError(r, "initializing librados for client." + loc_.client);
    }
    if (r < 0 && step == "conf") {
      return RadosError(r, "reading the Ceph configuration " +
                               (loc_.ceph_conf.empty() ? std::string("(default search)")
                                                       : loc_.ceph_conf) +
                               "; set [packs] ceph_conf in config.toml");
    }
    if (r < 0) {
      return RadosError(r, "connecting to the Ceph cluster of " + Conf() +
                               "; check that its monitors are up and reachable");
    }
    r = client_.OpenPool(loc_.pool, loc_.ns);
    if (r == -ENOENT) {
      return Status::NotFound("the RADOS pool " + loc_.pool +
                              " does not exist; create it (ceph osd pool create " + loc_.pool +
                              ") or name another");
    }
    if (r < 0) return RadosError(r, "opening the RADOS pool " + loc_.pool);
    return Status::OK();
  }

  // The marker names store_id, or (create) is made for it in a namespace
  // that holds neither a marker nor packs.
  Status ClaimOrCheck(const std::string& store_id, bool create) {
    std::string owner;
    int r = client_.GetXattr(kMarker, "store_id", &owner);
    if (r >= 0) {
      store_id_ = owner;
      if (owner == store_id || (store_id.empty() && !create)) return Status::OK();
      return Status::InvalidArgument(
          loc_.Spec() + " holds the packs of another keepfs store (" + owner +
          "); give each store its own namespace");
    }
    if (r != -ENOENT && r != -ENODATA) {
      return RadosError(r, "reading the store marker of " + loc_.Spec());
    }
    if (!create) {
      return Status::NotFound(loc_.Spec() +
                              " holds no keepfs store marker: wrong pool or namespace in "
                              "config.toml, or the namespace was emptied");
    }
    KEEPFS_ASSIGN_OR_RETURN(std::vector<uint64_t> packs, List());
    if (!packs.empty()) {
      return Status::AlreadyExists(loc_.Spec() + " already holds " + std::to_string(packs.size()) +
                                   " packs; pick an empty namespace");
    }
    r = client_.PutSealed(kMarker, rados::Buffer(), "store_id", store_id);
    if (r == -EEXIST) {
      return Status::AlreadyExists(loc_.Spec() + " was claimed by another keepfs init meanwhile");
    }
    if (r < 0) return RadosError(r, "creating the store marker in " + loc_.Spec());
    store_id_ = store_id;
    return Status::OK();
  }

  std::string Describe(uint64_t pack_id) const override {
    return loc_.Spec() + "/" + PackOid(pack_id);
  }
  std::string LocalPath(uint64_t) const override { return ""; }

  Result<std::unique_ptr<PackUpload>> Create(uint64_t pack_id) override {
    return std::unique_ptr<PackUpload>(
        new RadosUpload(&client_, PackOid(pack_id), Describe(pack_id)));
  }

  Status Read(uint64_t pack_id, uint64_t offset, size_t len, char* buf) const override {
    int r = client_.Read(PackOid(pack_id), offset, len, buf);
    if (r == -ENOENT) return Status::Corruption("pack " + Describe(pack_id) + " is missing");
    if (r < 0) return RadosError(r, "reading pack " + Describe(pack_id));
    if (static_cast<size_t>(r) != len) {
      return Status::Corruption("pack " + Describe(pack_id) + " is truncated");
    }
    return Status::OK();
  }

  Result<std::optional<uint64_t>> Size(uint64_t pack_id) const override {
    uint64_t size = 0;
    int r = client_.Stat(PackOid(pack_id), &size);
    if (r == -ENOENT) return std::optional<uint64_t>();
    if (r < 0) return RadosError(r, "stat of pack " + Describe(pack_id));
    return std::optional<uint64_t>(size);
  }

  Result<std::vector<uint64_t>> List() const override {
    std::vector<std::string> oids;
    std::string error;
    if (int r = client_.List(&oids, &error); r < 0) {
      return RadosError(r, "listing the packs of " + loc_.Spec() + " (" + error + ")");
    }
    std::vector<uint64_t> ids;
    for (const std::string& oid : oids) {
      if (auto id = PackIdOf(oid)) ids.push_back(*id);
    }
    return ids;
  }

  Status Remove(uint64_t pack_id) override {
    int r = client_.Remove(PackOid(pack_id));
    if (r < 0 && r != -ENOENT) return RadosError(r, "removing pack " + Describe(pack_id));
    return Status::OK();
  }

  Result<uint64_t> FreeBytes() const override {
    uint64_t kb = 0, kb_avail = 0;
    if (int r = client_.ClusterSpace(&kb, &kb_avail); r < 0) {
      return RadosError(r, "asking the Ceph cluster for its free space");
    }
    // The monitors learn capacities from ceph-mgr; a cluster without one
    // reports none, which is unknown, not full.
    if (kb == 0) return Status::NotSupported("the Ceph cluster reports no capacity (no ceph-mgr?)");
    return kb_avail * 1024;
  }

  // Nothing to do: a pack appears whole at Seal or not at all.
  Status RemoveUnsealed() override { return Status::OK(); }

  rados::Client* client() { return &client_; }
  const std::string& store_id() const { return store_id_; }

 private:
  std::string Conf() const {
    return loc_.ceph_conf.empty() ? std::string("the default ceph.conf") : loc_.ceph_conf;
  }

  const RadosLocation loc_;
  mutable rados::Client client_;
  std::string store_id_;  // the marker's
};

}  // namespace

std::string RadosLocation::Spec() const {
  return "rados:" + pool + (ns.empty() ? "" : "/" + ns);
}

Result<RadosLocation> ParseRadosSpec(std::string_view spec) {
  const std::string_view kPrefix = "rados:";
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bad RADOS location '" + std::string(spec) + "': " + why +
                                   "; write rados:POOL/NAMESPACE or rados:POOL");
  };
  if (spec.substr(0, kPrefix.size()) != kPrefix) return bad("it does not start with rados:");
  std::string_view rest = spec.substr(kPrefix.size());
  RadosLocation loc;
  size_t slash = rest.find('/');
  loc.pool = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) loc.ns = std::string(rest.substr(slash + 1));
  if (loc.pool.empty()) return bad("the pool is empty");
  if (slash != std::string_view::npos && loc.ns.empty()) return bad("the namespace is empty");
  for (const std::string* part : {&loc.pool, &loc.ns}) {
    for (char c : *part) {
      if (static_cast<unsigned char>(c) < 0x21 || c == '/' || c == 0x7f) {
        return bad("pool and namespace are printable, without spaces or a second /");
      }
    }
    if (part->size() > 128) return bad("a name is longer than 128 bytes");
  }
  return loc;
}

Result<std::unique_ptr<PackStore>> OpenRadosPackStore(const RadosLocation& loc,
                                                      const std::string& store_id,
                                                      bool create_marker) {
  auto store = std::make_unique<RadosPackStore>(loc);
  KEEPFS_RETURN_IF_ERROR(store->Connect());
  KEEPFS_RETURN_IF_ERROR(store->ClaimOrCheck(store_id, create_marker));
  return std::unique_ptr<PackStore>(std::move(store));
}

rados::Client* RadosClientOf(PackStore* packs) {
  auto* rados = dynamic_cast<RadosPackStore*>(packs);
  return rados ? rados->client() : nullptr;
}

std::string RadosStoreIdOf(PackStore* packs) {
  auto* rados = dynamic_cast<RadosPackStore*>(packs);
  return rados ? rados->store_id() : std::string();
}

}  // namespace keepfs
