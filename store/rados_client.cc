// Compiled as C++17 (store/CMakeLists.txt): see rados_client.h.
#include "store/rados_client.h"

#include <rados/librados.hpp>

#include <cerrno>
#include <exception>
#include <list>
#include <map>
#include <set>

namespace keepfs::rados {

struct Buffer::Impl {
  librados::bufferlist bl;
};

Buffer::Buffer() : impl_(new Impl) {}
Buffer::~Buffer() = default;
void Buffer::Append(const char* data, size_t len) {
  impl_->bl.append(data, static_cast<unsigned>(len));
}
void Buffer::Clear() { impl_->bl.clear(); }

struct Client::Impl {
  librados::Rados cluster;
  // IoCtx operations are thread-safe; only its namespace and snapshot
  // context must not change while they run (set once, in OpenPool).
  mutable librados::IoCtx io;
  bool connected = false, open = false;
};

Client::Client() : impl_(new Impl) {}

Client::~Client() {
  if (impl_->open) impl_->io.close();
  if (impl_->connected) impl_->cluster.shutdown();
}

int Client::Connect(const std::string& name, const std::string& conf, int op_timeout_sec,
                    std::string* step) {
  *step = "init";
  int r = impl_->cluster.init2(("client." + name).c_str(), "ceph", 0);
  if (r < 0) return r;
  *step = "conf";
  r = impl_->cluster.conf_read_file(conf.empty() ? nullptr : conf.c_str());
  if (r < 0) return r;
  const std::string t = std::to_string(op_timeout_sec);
  for (const char* opt : {"rados_mon_op_timeout", "rados_osd_op_timeout", "client_mount_timeout"}) {
    impl_->cluster.conf_set(opt, t.c_str());
  }
  *step = "connect";
  r = impl_->cluster.connect();
  if (r < 0) return r;
  impl_->connected = true;
  return 0;
}

int Client::OpenPool(const std::string& pool, const std::string& ns) {
  int r = impl_->cluster.ioctx_create(pool.c_str(), impl_->io);
  if (r < 0) return r;
  impl_->open = true;
  impl_->io.set_namespace(ns);
  return 0;
}

int Client::PutSealed(const std::string& oid, const Buffer& data, const std::string& xattr,
                      const std::string& value) {
  librados::bufferlist v;
  v.append(value.data(), static_cast<unsigned>(value.size()));
  librados::ObjectWriteOperation op;
  op.create(/*exclusive=*/true);
  // write_full shares the buffers (reference counted), copying nothing.
  if (data.impl_->bl.length() > 0) op.write_full(data.impl_->bl);
  op.setxattr(xattr.c_str(), v);
  return impl_->io.operate(oid, &op);
}

int Client::Read(const std::string& oid, uint64_t offset, size_t len, char* buf) const {
  librados::bufferlist bl;
  int r = impl_->io.read(oid, bl, len, offset);
  if (r < 0) return r;
  const unsigned got = bl.length() < len ? bl.length() : static_cast<unsigned>(len);
  bl.begin().copy(got, buf);
  return static_cast<int>(got);
}

int Client::Stat(const std::string& oid, uint64_t* size) const {
  time_t mtime = 0;
  return impl_->io.stat(oid, size, &mtime);
}

int Client::GetXattr(const std::string& oid, const std::string& name, std::string* value) const {
  librados::bufferlist v;
  int r = impl_->io.getxattr(oid, name.c_str(), v);
  if (r >= 0) *value = v.to_str();
  return r;
}

int Client::Remove(const std::string& oid) { return impl_->io.remove(oid); }

int Client::List(std::vector<std::string>* oids, std::string* error) const {
  try {
    for (auto it = impl_->io.nobjects_begin(); it != impl_->io.nobjects_end(); ++it) {
      oids->push_back(it->get_oid());
    }
  } catch (const std::exception& e) {
    *error = e.what();
    return -EIO;
  }
  return 0;
}

int Client::ClusterSpace(uint64_t* kb, uint64_t* kb_avail) const {
  librados::cluster_stat_t st;
  int r = impl_->cluster.cluster_stat(st);
  if (r < 0) return r;
  *kb = st.kb;
  *kb_avail = st.kb_avail;
  return 0;
}

namespace {
librados::bufferlist Bl(const std::string& s) {
  librados::bufferlist bl;
  bl.append(s.data(), static_cast<unsigned>(s.size()));
  return bl;
}
}  // namespace

int Client::Lock(const std::string& oid, const std::string& name, const std::string& cookie,
                 const std::string& description, int duration_sec, bool renew) {
  timeval duration{duration_sec, 0};
  return impl_->io.lock_exclusive(oid, name, cookie, description, &duration,
                                  renew ? LIBRADOS_LOCK_FLAG_MAY_RENEW : 0);
}

int Client::Unlock(const std::string& oid, const std::string& name, const std::string& cookie) {
  return impl_->io.unlock(oid, name, cookie);
}

int Client::LockHolder(const std::string& oid, const std::string& name,
                       std::string* who) const {
  int exclusive = 0;
  std::string tag;
  std::list<librados::locker_t> lockers;
  int r = impl_->io.list_lockers(oid, name, &exclusive, &tag, &lockers);
  if (r < 0) return r;
  who->clear();
  for (const librados::locker_t& l : lockers) {
    *who += (who->empty() ? "" : ", ") + l.client + " at " + l.address;
  }
  return 0;
}

int Client::CompareAndSetXattr(const std::string& oid, const std::string& name, uint64_t expect,
                               uint64_t next,
                               const std::vector<std::pair<std::string, std::string>>& kvs) {
  librados::ObjectWriteOperation op;
  op.cmpxattr(name.c_str(), LIBRADOS_CMPXATTR_OP_EQ, Bl(std::to_string(expect)));
  op.setxattr(name.c_str(), Bl(std::to_string(next)));
  std::map<std::string, librados::bufferlist> m;
  for (const auto& [k, v] : kvs) m[k] = Bl(v);
  if (!m.empty()) op.omap_set(m);
  return impl_->io.operate(oid, &op);
}

int Client::GuardedOmapSet(const std::string& oid, const std::string& name, uint64_t expect,
                           const std::vector<std::pair<std::string, std::string>>& kvs) {
  librados::ObjectWriteOperation op;
  op.cmpxattr(name.c_str(), LIBRADOS_CMPXATTR_OP_EQ, Bl(std::to_string(expect)));
  std::map<std::string, librados::bufferlist> m;
  for (const auto& [k, v] : kvs) m[k] = Bl(v);
  op.omap_set(m);
  return impl_->io.operate(oid, &op);
}

int Client::OmapList(const std::string& oid, const std::string& after, const std::string& prefix,
                     uint64_t max, std::vector<std::pair<std::string, std::string>>* out) const {
  std::map<std::string, librados::bufferlist> vals;
  bool more = false;
  int r = impl_->io.omap_get_vals2(oid, after, prefix, max, &vals, &more);
  if (r < 0) return r;
  for (auto& [k, v] : vals) out->emplace_back(k, v.to_str());
  return 0;
}

int Client::OmapGet(const std::string& oid, const std::string& key, std::string* value) const {
  std::map<std::string, librados::bufferlist> vals;
  int r = impl_->io.omap_get_vals_by_keys(oid, {key}, &vals);
  if (r < 0) return r;
  auto it = vals.find(key);
  if (it == vals.end()) return -ENOENT;
  *value = it->second.to_str();
  return 0;
}

}  // namespace keepfs::rados
