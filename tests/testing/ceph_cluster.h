// The Ceph cluster the RADOS tests use (tools/ceph/cluster.sh, docs/ceph-dev.md):
// the one ctest starts for the whole run (KEEPFS_CEPH_CONF names its
// ceph.conf), or else one this process starts on first use and stops at exit.
// Where Ceph is not installed a RADOS test skips with the reason; with
// KEEPFS_REQUIRE_RADOS=1 (as in .ci/run) it fails instead.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>

namespace keepfs::testing {

struct CephCluster {
  std::string conf;  // the clients' ceph.conf
  std::string pool;  // a pool tests may write to, in namespaces of their own
};

// The cluster, or nullptr with *why set.
const CephCluster* Ceph(std::string* why);

// A RADOS namespace no other test (or run) uses: "PREFIX-PID-N-RANDOM".
std::string FreshNamespace(std::string_view prefix);

// Runs `rados -c CONF -p POOL -N NS ARGS` and returns its exit code; *out
// gets its stdout (stderr too when it fails).
int Rados(const CephCluster& c, const std::string& ns, const std::string& args, std::string* out);

#define KEEPFS_REQUIRE_CEPH_OR_SKIP(var)                                                  \
  std::string why_ceph_;                                                                  \
  const ::keepfs::testing::CephCluster* var = ::keepfs::testing::Ceph(&why_ceph_);        \
  if (var == nullptr) {                                                                   \
    const char* req_ = std::getenv("KEEPFS_REQUIRE_RADOS");                               \
    if (req_ && std::string(req_) == "1") FAIL() << "Ceph is required here: " << why_ceph_; \
    GTEST_SKIP() << "no Ceph: " << why_ceph_;                                             \
  }

}  // namespace keepfs::testing
