// rados_probe: checks and times the librados semantics keepfs's RADOS pack
// backend and shard ownership rely on (issue 10, docs/ceph-dev.md), against
// a real cluster such as the one tools/ceph/cluster.sh starts.
//
//   g++ -std=c++20 -O2 -o rados_probe tools/ceph/rados_probe.cc -lrados
//   ./rados_probe CEPH_CONF [POOL] [--lease-seconds N] [--aio-objects N]
//   CEPH_ARGS="--objecter_inflight_op_bytes=1073741824" ./rados_probe ...  (conf overrides)
//
// Sections a-f print what they saw, with the exact return codes; a broken
// expectation prints "FAIL" and makes the exit status 1. Standalone on
// purpose: not part of the keepfs build (yet).
#include <rados/librados.hpp>

#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
int g_failures = 0;

std::string Rc(int rc) {
  if (rc >= 0) return std::to_string(rc);
  return std::to_string(rc) + " (-" + strerrorname_np(-rc) + ")";
}

// Prints one observation; counts it as a failure when !ok.
void Expect(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++g_failures;
}

void ExpectRc(int got, int want, const std::string& what) {
  Expect(got == want, what + ": rc " + Rc(got) + (got == want ? "" : ", want " + Rc(want)));
}

librados::bufferlist Bl(const std::string& s) {
  librados::bufferlist bl;
  bl.append(s);
  return bl;
}

// librados takes these by non-const reference, so no temporaries.
int WriteFull(librados::IoCtx& io, const std::string& oid, const std::string& data) {
  librados::bufferlist bl = Bl(data);
  return io.write_full(oid, bl);
}

int SetXattr(librados::IoCtx& io, const std::string& oid, const char* name,
             const std::string& value) {
  librados::bufferlist bl = Bl(value);
  return io.setxattr(oid, name, bl);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Connects a new client (its own Rados handle, so its own client.N id).
bool Connect(librados::Rados& rados, const char* conf) {
  int rc = rados.init2("client.admin", "ceph", 0);
  if (rc == 0) rc = rados.conf_read_file(conf);
  if (rc == 0) rc = rados.conf_set("client_mount_timeout", "15");
  if (rc == 0) rc = rados.conf_parse_env(nullptr);  // CEPH_ARGS overrides
  if (rc == 0) rc = rados.connect();
  if (rc != 0) std::fprintf(stderr, "connect with %s: %s\n", conf, Rc(rc).c_str());
  return rc == 0;
}

// The sealed-pack put: one atomic op, exclusive create + data + its hash.
void SealedPut(librados::ObjectWriteOperation& op, const librados::bufferlist& data,
               const std::string& sha) {
  op.create(/*exclusive=*/true);
  op.write_full(data);
  op.setxattr("sha256", Bl(sha));
}

void SectionA(librados::IoCtx& io) {
  std::printf("a. exclusive create + write_full + setxattr, atomic\n");
  const std::string oid = "probe-a";
  io.remove(oid);  // left over from an earlier run, if any
  librados::ObjectWriteOperation first;
  SealedPut(first, Bl("first contents"), "sha-of-first");
  ExpectRc(io.operate(oid, &first), 0, "first put");
  librados::ObjectWriteOperation second;
  SealedPut(second, Bl("SECOND, longer contents"), "sha-of-second");
  ExpectRc(io.operate(oid, &second), -EEXIST, "second put on the same name");
  librados::bufferlist data, sha;
  io.read(oid, data, 0, 0);
  io.getxattr(oid, "sha256", sha);
  Expect(data.to_str() == "first contents" && sha.to_str() == "sha-of-first",
         "first object untouched: data '" + data.to_str() + "', sha256 '" + sha.to_str() + "'");
  librados::bufferlist none;
  ExpectRc(io.getxattr(oid, "nope", none), -ENODATA, "getxattr of a missing xattr");
}

void SectionB(librados::IoCtx& io) {
  std::printf("b. ranged read and stat\n");
  const std::string oid = "probe-a";
  librados::bufferlist bl;
  ExpectRc(io.read(oid, bl, 5, 6), 5, "read(len 5, off 6) returns the byte count");
  Expect(bl.to_str() == "conte", "  ... and the bytes: '" + bl.to_str() + "'");
  bl.clear();
  ExpectRc(io.read(oid, bl, 100, 10), 4, "read past the end is short");
  bl.clear();
  ExpectRc(io.read(oid, bl, 10, 1000), 0, "read wholly past the end");
  bl.clear();
  ExpectRc(io.read("probe-missing", bl, 10, 0), -ENOENT, "read of a missing object");
  uint64_t size = 0;
  time_t mtime = 0;
  ExpectRc(io.stat(oid, &size, &mtime), 0, "stat");
  long skew = static_cast<long>(mtime - time(nullptr));
  Expect(size == 14 && skew <= 0 && skew > -60,
         "  size " + std::to_string(size) + ", mtime - now = " + std::to_string(skew) + " s");
  struct timespec ts {};
  ExpectRc(io.stat2(oid, &size, &ts), 0, "stat2 (mtime with ns)");
  std::printf("       stat2 mtime %ld.%09ld\n", static_cast<long>(ts.tv_sec), ts.tv_nsec);
  ExpectRc(io.stat("probe-missing", &size, &mtime), -ENOENT, "stat of a missing object");
}

std::set<std::string> List(librados::IoCtx& io) {
  std::set<std::string> names;
  for (auto it = io.nobjects_begin(); it != io.nobjects_end(); ++it) {
    names.insert(it->get_nspace() + "/" + it->get_oid());
  }
  return names;
}

std::string Join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : " ") + x;
  return "{" + out + "}";
}

void SectionC(librados::IoCtx& io) {
  std::printf("c. remove; list one namespace\n");
  ExpectRc(io.remove("probe-a"), 0, "remove");
  ExpectRc(io.remove("probe-a"), -ENOENT, "remove again");
  librados::IoCtx ns1, ns2;
  ns1.dup(io);
  ns2.dup(io);
  ns1.set_namespace("probe-ns1");
  ns2.set_namespace("probe-ns2");
  for (auto* ctx : {&ns1, &ns2}) {
    for (const char* oid : {"x", "y"}) ctx->remove(oid);
  }
  ExpectRc(WriteFull(ns1, "x", "1"), 0, "write ns1/x");
  ExpectRc(WriteFull(ns1, "y", "1"), 0, "write ns1/y");
  ExpectRc(WriteFull(ns2, "x", "2"), 0, "write ns2/x (same name, other namespace)");
  auto listed = List(ns1);
  Expect(listed == std::set<std::string>{"probe-ns1/x", "probe-ns1/y"},
         "list ns1 shows only ns1: " + Join(listed));
  auto deflt = List(io);
  Expect(std::none_of(deflt.begin(), deflt.end(),
                      [](const std::string& n) { return n.starts_with("probe-ns"); }),
         "list of the default namespace shows none of them (" +
             std::to_string(deflt.size()) + " objects)");
  librados::IoCtx all;
  all.dup(io);
  all.set_namespace(librados::all_nspaces);
  auto every = List(all);
  Expect(every.contains("probe-ns1/x") && every.contains("probe-ns2/x"),
         "list of all_nspaces shows both namespaces (" + std::to_string(every.size()) +
             " objects)");
  librados::bufferlist bl;
  ns2.read("x", bl, 0, 0);
  Expect(bl.to_str() == "2", "ns2/x is its own object: '" + bl.to_str() + "'");
  for (auto* ctx : {&ns1, &ns2}) {
    for (const char* oid : {"x", "y"}) ctx->remove(oid);
  }
}

// One guarded commit: applies only if xattr "epoch" still equals `epoch`.
int GuardedCommit(librados::IoCtx& io, const std::string& oid, const std::string& epoch,
                  const std::string& key, const std::string& value) {
  librados::ObjectWriteOperation op;
  op.cmpxattr("epoch", LIBRADOS_CMPXATTR_OP_EQ, Bl(epoch));
  op.write_full(Bl("record " + value));
  op.omap_set({{key, Bl(value)}});
  return io.operate(oid, &op);
}

void SectionD(librados::IoCtx& io) {
  std::printf("d. guarded write: cmpxattr(epoch, EQ) + write_full + omap_set\n");
  const std::string oid = "probe-shard";
  io.remove(oid);
  ExpectRc(GuardedCommit(io, oid, "7", "k0", "v0"), -ENOENT, "guard on a missing object");
  uint64_t size = 0;
  time_t mtime = 0;
  ExpectRc(io.stat(oid, &size, &mtime), -ENOENT, "  ... object still absent");
  ExpectRc(io.create(oid, /*exclusive=*/true), 0, "create the shard object");
  // A missing xattr compares as the empty value: a mismatch, not ENODATA.
  ExpectRc(GuardedCommit(io, oid, "7", "k0", "v0"), -ECANCELED,
           "guard on an object without the xattr");
  ExpectRc(SetXattr(io, oid, "epoch", "7"), 0, "set epoch 7");
  ExpectRc(GuardedCommit(io, oid, "7", "k1", "v1"), 0, "commit with epoch 7");
  ExpectRc(SetXattr(io, oid, "epoch", "8"), 0, "a new owner sets epoch 8");
  ExpectRc(GuardedCommit(io, oid, "7", "k2", "v2"), -ECANCELED, "commit with stale epoch 7");
  librados::bufferlist data;
  io.read(oid, data, 0, 0);
  std::set<std::string> keys;
  std::map<std::string, librados::bufferlist> vals;
  int omap_rc = io.omap_get_vals2(oid, "", 100, &vals, nullptr);
  for (const auto& [k, v] : vals) keys.insert(k);
  Expect(omap_rc == 0 && data.to_str() == "record v1" && keys == std::set<std::string>{"k1"},
         "  ... applied nothing: data '" + data.to_str() + "', omap keys " + Join(keys));
  // The u64 form compares numbers, parsing the stored xattr as decimal text.
  // Which side is which: GT 5 against epoch 8 holds only if it reads xattr > arg.
  librados::ObjectWriteOperation gt;
  gt.cmpxattr("epoch", LIBRADOS_CMPXATTR_OP_GT, static_cast<uint64_t>(5));
  gt.omap_set({{"k3", Bl("v3")}});
  int gt_rc = io.operate(oid, &gt);
  Expect(gt_rc == 0 || gt_rc == -ECANCELED,
         "u64 guard GT 5 with epoch 8: rc " + Rc(gt_rc) + " => the op reads " +
             (gt_rc == 0 ? "xattr > arg" : "arg > xattr"));
  librados::ObjectWriteOperation gt10;
  gt10.cmpxattr("epoch", LIBRADOS_CMPXATTR_OP_GT, static_cast<uint64_t>(10));
  gt10.omap_set({{"k3", Bl("v3")}});
  ExpectRc(io.operate(oid, &gt10), gt_rc == 0 ? -ECANCELED : 0,
           "u64 guard GT 10 with epoch 8 (the other way round)");
  librados::ObjectWriteOperation eq;
  eq.cmpxattr("epoch", LIBRADOS_CMPXATTR_OP_EQ, static_cast<uint64_t>(8));
  eq.omap_set({{"k4", Bl("v4")}});
  ExpectRc(io.operate(oid, &eq), 0, "u64 guard EQ 8 with epoch \"8\"");
  io.remove(oid);
}

void SectionE(librados::IoCtx& io_a, librados::Rados& rados_b, librados::IoCtx& io_b,
              int lease_s) {
  std::printf("e. advisory lock with a %d s lease\n", lease_s);
  const std::string oid = "probe-lock", name = "owner";
  io_a.remove(oid);
  struct timeval lease {lease_s, 0};
  ExpectRc(io_a.lock_exclusive(oid, name, "cookie-a", "node a", &lease, 0), 0, "A locks");
  ExpectRc(io_a.lock_exclusive(oid, name, "cookie-a", "node a", &lease, 0), -EEXIST,
           "A locks again, same cookie, no flags");
  ExpectRc(io_a.lock_exclusive(oid, name, "cookie-a", "node a", &lease,
                               LIBRADOS_LOCK_FLAG_MAY_RENEW),
           0, "A renews (LOCK_FLAG_MAY_RENEW)");
  ExpectRc(io_b.lock_exclusive(oid, name, "cookie-b", "node b", &lease, 0), -EBUSY,
           "B locks while A holds it");
  int exclusive = 0;
  std::string tag;
  std::list<librados::locker_t> lockers;
  ExpectRc(io_b.list_lockers(oid, name, &exclusive, &tag, &lockers), 1, "list_lockers");
  std::string holder = lockers.empty() ? "" : lockers.front().client;
  std::printf("       holder %s cookie %s addr %s exclusive %d\n", holder.c_str(),
              lockers.empty() ? "" : lockers.front().cookie.c_str(),
              lockers.empty() ? "" : lockers.front().address.c_str(), exclusive);
  auto t0 = Clock::now();
  int rc;
  while ((rc = io_b.lock_exclusive(oid, name, "cookie-b", "node b", &lease, 0)) == -EBUSY) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ExpectRc(rc, 0, "B gets it once A's lease has run out");
  std::printf("       after %.1f s of retrying (lease %d s)\n", Seconds(Clock::now() - t0),
              lease_s);
  ExpectRc(io_a.lock_exclusive(oid, name, "cookie-a", "node a", &lease,
                               LIBRADOS_LOCK_FLAG_MAY_RENEW),
           -EBUSY, "A's late renewal");
  ExpectRc(io_a.unlock(oid, name, "cookie-a"), -ENOENT, "A's late unlock");
  ExpectRc(WriteFull(io_a, oid, "A was here"), 0,
           "A's plain write to B's locked object (advisory: fencing needs the epoch guard)");
  std::string b_client = "client." + std::to_string(rados_b.get_instance_id());
  ExpectRc(io_a.break_lock(oid, name, b_client, "cookie-b"), 0, "A breaks B's lock (" + b_client + ")");
  ExpectRc(io_a.lock_exclusive(oid, name, "cookie-a", "node a", &lease, 0), 0,
           "A locks after the break");
  ExpectRc(io_a.break_lock(oid, name, b_client, "cookie-b"), -ENOENT, "break a lock not held");
  ExpectRc(io_a.unlock(oid, name, "cookie-a"), 0, "A unlocks");
  io_a.remove(oid);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Puts n sealed objects of `data`, keeping up to `depth` in flight. MB/s.
double PutMany(librados::IoCtx& io, const std::string& prefix, int n, int depth,
               const librados::bufferlist& data) {
  std::vector<librados::AioCompletion*> inflight;
  auto drain_one = [&] {
    librados::AioCompletion* c = inflight.front();
    inflight.erase(inflight.begin());
    c->wait_for_complete();
    int rc = c->get_return_value();
    if (rc != 0) Expect(false, "aio put: rc " + Rc(rc));
    c->release();
  };
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (static_cast<int>(inflight.size()) == depth) drain_one();
    librados::ObjectWriteOperation op;
    SealedPut(op, data, "sha");
    librados::AioCompletion* c = librados::Rados::aio_create_completion();
    int rc = io.aio_operate(prefix + std::to_string(i), c, &op);
    if (rc != 0) Expect(false, "aio_operate: rc " + Rc(rc));
    inflight.push_back(c);
  }
  while (!inflight.empty()) drain_one();
  double s = Seconds(Clock::now() - t0);
  for (int i = 0; i < n; ++i) io.remove(prefix + std::to_string(i));
  return n * static_cast<double>(data.length()) / 1e6 / s;
}

template <typename F>
std::vector<double> TimeEach(int n, F f) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    f(i);
    us.push_back(Seconds(Clock::now() - t0) * 1e6);
  }
  return us;
}

void Report(const char* what, const std::vector<double>& us) {
  std::printf("  %-34s median %7.0f us   p90 %7.0f us   p99 %7.0f us\n", what, Median(us),
              Pct(us, 0.9), Pct(us, 0.99));
}

void SectionF(librados::IoCtx& io, int objects) {
  std::printf("f. AIO pipelining and per-op latency\n");
  std::string bytes(4 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 2654435761u >> 13);
  librados::bufferlist data = Bl(bytes);
  PutMany(io, "probe-f-warm-", objects, 16, data);  // a cold store allocates: not counted
  for (int depth : {1, 4, 16, 64}) {
    std::vector<double> runs;
    for (int run = 0; run < 3; ++run) {
      runs.push_back(PutMany(io, "probe-f-" + std::to_string(depth) + "-", objects, depth, data));
    }
    std::printf("  %d sealed 4 MiB puts, %2d in flight: median %7.1f MB/s (runs %.0f %.0f %.0f)\n",
                objects, depth, Median(runs), runs[0], runs[1], runs[2]);
  }
  const int n = 200;
  librados::bufferlist small = Bl(std::string(4096, 'x'));
  auto put_us = TimeEach(n, [&](int i) {
    librados::ObjectWriteOperation op;
    SealedPut(op, small, "sha");
    if (int rc = io.operate("probe-s-" + std::to_string(i), &op); rc != 0) {
      Expect(false, "small put rc " + Rc(rc));
    }
  });
  librados::ObjectWriteOperation big;
  SealedPut(big, data, "sha");
  io.remove("probe-big");
  ExpectRc(io.operate("probe-big", &big), 0, "put one 4 MiB object for reads");
  auto read_us = TimeEach(n, [&](int i) {
    librados::bufferlist bl;
    uint64_t off = (static_cast<uint64_t>(i) * 7919 % 63) * 65536;
    if (int rc = io.read("probe-big", bl, 65536, off); rc != 65536) {
      Expect(false, "ranged read rc " + Rc(rc));
    }
  });
  auto stat_us = TimeEach(n, [&](int i) {
    uint64_t size;
    time_t mtime;
    if (int rc = io.stat("probe-s-" + std::to_string(i), &size, &mtime); rc != 0) {
      Expect(false, "stat rc " + Rc(rc));
    }
  });
  auto remove_us = TimeEach(n, [&](int i) {
    if (int rc = io.remove("probe-s-" + std::to_string(i)); rc != 0) {
      Expect(false, "remove rc " + Rc(rc));
    }
  });
  io.remove("probe-big");
  Report("put (4 KiB, excl+write_full+xattr)", put_us);
  Report("ranged read 64 KiB of 4 MiB", read_us);
  Report("stat", stat_us);
  Report("remove", remove_us);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s CEPH_CONF [POOL] [--lease-seconds N] [--aio-objects N]\n", argv[0]);
    return 2;
  }
  const char* conf = argv[1];
  std::string pool = "keepfs";
  int lease_s = 3, aio_objects = 64;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--lease-seconds" && i + 1 < argc) {
      lease_s = std::atoi(argv[++i]);
    } else if (arg == "--aio-objects" && i + 1 < argc) {
      aio_objects = std::atoi(argv[++i]);
    } else {
      pool = arg;
    }
  }
  librados::Rados rados_a, rados_b;
  auto t0 = Clock::now();
  if (!Connect(rados_a, conf)) return 1;
  std::printf("connected in %.3f s (client.%lu)\n", Seconds(Clock::now() - t0),
              static_cast<unsigned long>(rados_a.get_instance_id()));
  if (!Connect(rados_b, conf)) return 1;
  librados::IoCtx io_a, io_b;
  if (int rc = rados_a.ioctx_create(pool.c_str(), io_a); rc != 0) {
    std::fprintf(stderr, "pool %s: %s\n", pool.c_str(), Rc(rc).c_str());
    return 1;
  }
  if (int rc = rados_b.ioctx_create(pool.c_str(), io_b); rc != 0) return 1;
  try {
    SectionA(io_a);
    SectionB(io_a);
    SectionC(io_a);
    SectionD(io_a);
    SectionE(io_a, rados_b, io_b, lease_s);
    SectionF(io_a, aio_objects);
  } catch (const std::exception& e) {  // nobjects_begin throws on errors
    std::fprintf(stderr, "exception: %s\n", e.what());
    ++g_failures;
  }
  io_a.close();
  io_b.close();
  rados_a.shutdown();
  rados_b.shutdown();
  std::printf("%s (%d failed)\n", g_failures == 0 ? "ALL OK" : "FAILURES", g_failures);
  return g_failures == 0 ? 0 : 1;
}
