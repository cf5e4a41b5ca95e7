// Compiled as C++17 (store/CMakeLists.txt): see rados_client.h.
#include "store/rados_client.h"

#include <rados/librados.hpp>

#include <cerrno>
#include <exception>

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

}  // namespace keepfs::rados
