#include "tests/testing/ceph_cluster.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <random>

#include "store/file_util.h"
#include "tests/testing/test_util.h"

namespace keepfs::testing {
namespace {

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs cmd through the shell; its exit code, stdout and stderr into *out.
int Run(const std::string& cmd, std::string* out) {
  int status = 0;
  *out = Shell(cmd + " 2>&1", &status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A cluster this process started; stopped (and purged) at exit.
struct OwnCluster {
  std::string dir;
  ~OwnCluster() {
    if (dir.empty()) return;
    std::string out;
    Run("bash " + Quote(std::string(KEEPFS_SOURCE_DIR) + "/tools/ceph/cluster.sh") + " stop " +
              Quote(dir) + " --purge",
          &out);
  }
};

}  // namespace

const CephCluster* Ceph(std::string* why) {
  static std::once_flag once;
  static CephCluster cluster;
  static std::string failure;
  static OwnCluster own;
  std::call_once(once, [] {
    cluster.pool = "keepfs";
    if (const char* conf = std::getenv("KEEPFS_CEPH_CONF"); conf && *conf) {
      if (!PathExists(conf)) {
        failure = std::string("KEEPFS_CEPH_CONF names ") + conf +
                  ", which does not exist (the ctest fixture CephCluster did not start one: "
                  "is Ceph installed? tools/install-deps.sh)";
        return;
      }
      cluster.conf = conf;
      return;
    }
    std::string out;
    if (Run("command -v ceph-mon && command -v ceph-osd && command -v rados", &out) != 0) {
      failure = "ceph-mon, ceph-osd or rados is not installed (tools/install-deps.sh)";
      return;
    }
    char tmpl[] = "/tmp/keepfs-ceph.XXXXXX";
    if (!::mkdtemp(tmpl)) {
      failure = "mkdtemp failed";
      return;
    }
    own.dir = tmpl;
    const std::string script = std::string(KEEPFS_SOURCE_DIR) + "/tools/ceph/cluster.sh";
    if (Run("bash " + Quote(script) + " start " + Quote(own.dir + "/c"), &out) != 0) {
      failure = "tools/ceph/cluster.sh start failed: " + out;
      return;
    }
    own.dir += "/c";
    cluster.conf = own.dir + "/ceph.conf";
  });
  if (!failure.empty()) {
    *why = failure;
    return nullptr;
  }
  return &cluster;
}

std::string FreshNamespace(std::string_view prefix) {
  static std::atomic<int> n{0};
  std::random_device rd;
  return std::string(prefix) + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "-" +
         std::to_string(rd() % 100000);
}

int Rados(const CephCluster& c, const std::string& ns, const std::string& args, std::string* out) {
  std::string cmd = "rados -c " + Quote(c.conf) + " -p " + Quote(c.pool);
  if (!ns.empty()) cmd += " -N " + Quote(ns);
  return Run(cmd + " " + args, out);
}

}  // namespace keepfs::testing
