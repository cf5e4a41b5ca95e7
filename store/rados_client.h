// A thin wrapper of the librados calls RadosPackStore makes, in plain C++17
// types. It is its own translation unit, compiled as C++17: librados' headers
// (buffer.h) do not compile as C++20 under clang, whose reversed comparison
// candidates make their iterator == ambiguous. Nothing else includes them.
//
// Every call returns what librados returns: >= 0 on success, -errno on
// failure. No exception leaves it (object listing throws; List catches).
//
// Thread safety: after Connect and OpenPool, every const call and Put,
// CreateMarker and Remove may run from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace keepfs::rados {

// The bytes of one object being built, kept in librados' own buffers so
// that the put sends them without a second copy. One thread at a time.
class Buffer {
 public:
  Buffer();
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void Append(const char* data, size_t len);
  void Clear();  // frees the bytes

 private:
  friend class Client;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Client {
 public:
  Client();
  ~Client();  // closes the pool and shuts the connection down
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Reads conf ("" : librados' default search) as client.NAME, sets the
  // monitor and OSD operation timeouts, and connects. On failure *step says
  // which of "init", "conf" and "connect" failed.
  int Connect(const std::string& name, const std::string& conf, int op_timeout_sec,
              std::string* step);
  // Opens pool and sets the namespace for every later call (-ENOENT: no pool).
  int OpenPool(const std::string& pool, const std::string& ns);

  // One atomic operation: exclusive create + write_full(data) (none when
  // data is empty) + setxattr (-EEXIST when oid exists, and nothing changes).
  int PutSealed(const std::string& oid, const Buffer& data, const std::string& xattr,
                const std::string& value);
  // Reads up to len bytes at offset into buf; returns how many were read.
  int Read(const std::string& oid, uint64_t offset, size_t len, char* buf) const;
  int Stat(const std::string& oid, uint64_t* size) const;
  int GetXattr(const std::string& oid, const std::string& name, std::string* value) const;
  int Remove(const std::string& oid);
  // The names of every object in the namespace; *error says what failed.
  int List(std::vector<std::string>* oids, std::string* error) const;
  // The cluster's raw capacity and what is available, in KiB.
  int ClusterSpace(uint64_t* kb, uint64_t* kb_avail) const;

  // --- Ownership of a shard (store/shard.h) ---
  // The advisory exclusive lock `name` on oid for duration_sec: 0 taken,
  // -EBUSY held by another cookie, -EEXIST held by this cookie already
  // (unless renew, which extends it, or takes it again once it lapsed).
  int Lock(const std::string& oid, const std::string& name, const std::string& cookie,
           const std::string& description, int duration_sec, bool renew);
  int Unlock(const std::string& oid, const std::string& name, const std::string& cookie);
  // Who holds lock `name`: "client.N at ADDRESS" ("" when nobody does).
  int LockHolder(const std::string& oid, const std::string& name, std::string* who) const;
  // One atomic operation: if xattr `name` holds the decimal number `expect`,
  // sets it to `next` and sets the omap keys (-ECANCELED when it holds
  // anything else; nothing changes).
  int CompareAndSetXattr(const std::string& oid, const std::string& name, uint64_t expect,
                         uint64_t next,
                         const std::vector<std::pair<std::string, std::string>>& kvs);
  // One atomic operation: if xattr `name` holds the decimal number `expect`,
  // sets the omap keys (-ECANCELED when it does not; nothing changes).
  int GuardedOmapSet(const std::string& oid, const std::string& name, uint64_t expect,
                     const std::vector<std::pair<std::string, std::string>>& kvs);
  // Up to max omap entries of oid with keys > after and starting with prefix, in order.
  int OmapList(const std::string& oid, const std::string& after, const std::string& prefix,
               uint64_t max, std::vector<std::pair<std::string, std::string>>* out) const;
  // The omap value of key (-ENOENT when oid lacks it).
  int OmapGet(const std::string& oid, const std::string& key, std::string* value) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keepfs::rados
