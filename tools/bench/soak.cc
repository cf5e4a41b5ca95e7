#include "tools/bench/soak.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <ostream>
#include <sstream>
#include <thread>

#include "snapshot/catalog.h"
#include "tools/bench/soak_impl.h"

extern char** environ;

namespace keepfs::bench {

namespace {

void SleepFor(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

class Soak {
 public:
  explicit Soak(const SoakOptions& o) { s_.o = o; }
  ~Soak() { KillMount(); }
  Result<SoakReport> Run();

 private:
  int Keepfs(std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {s_.o.keepfs, "--store", s_.store});
    return RunCommand(args, out);
  }
  Status Prepare();
  Status StartMount();
  void KillMount();
  void StopMount();
  Status Backup(int user, SourceTree& tree, int64_t* last_time);
  void Writer(int user, SourceTree& tree, int64_t last_time, Heartbeat& beat);
  void Collector(Heartbeat& beat);
  void Sampler();
  void WatchForHangs();
  void DumpStacks();
  void JoinAll(std::vector<std::thread>& threads);
  RssSample Sample() const;
  void FinalChecks();

  SoakState s_;
  bool dumped_ = false;  // hang-stacks.txt written
};

Status Soak::Prepare() {
  const SoakOptions& o = s_.o;
  if (::access(o.keepfs.c_str(), X_OK) != 0)
    return Status::FromErrno(errno, "keepfs binary " + o.keepfs);
  if (::mkdir(o.work.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::FromErrno(errno, "mkdir " + o.work);
  if (DIR* d = ::opendir(o.work.c_str())) {
    int entries = 0;
    while (struct dirent* e = ::readdir(d)) entries += e->d_name[0] != '.';
    ::closedir(d);
    if (entries > 0) return Status::InvalidArgument("work folder " + o.work + " is not empty");
  }
  s_.store = o.work + "/store";
  s_.src = o.work + "/src";
  s_.mnt = o.work + "/mnt";
  s_.log = o.work + "/mount.log";
  if (::mkdir(s_.src.c_str(), 0755) != 0 || ::mkdir(s_.mnt.c_str(), 0755) != 0) {
    return Status::FromErrno(errno, "mkdir in " + o.work);
  }
  std::string out;
  // Small chunks: a file of a few MiB is dozens of chunks, and a change to
  // one piece leaves garbage behind for gc.
  int code = RunCommand({o.keepfs, "init", "--store", s_.store, "-q", "--chunk-min", "16384",
                         "--chunk-avg", "65536", "--chunk-max", "262144"},
                        &out);
  if (code != 0) return Status::Internal("keepfs init: " + out);
  std::map<std::string, std::string> sections;
  sections["mount"] = "profile = \"" + o.profile + "\"\n";
  if (o.write_buffer)
    sections["mount"] += "metadata_write_buffer = " + std::to_string(o.write_buffer) + "\n";
  // What the server's jobs would do, tightly: prune keeps the last few, gc
  // reclaims at once.
  sections["retention"] = "keep-last = " + std::to_string(o.keep_last) + "\n";
  sections["gc"] = "undelete_window = \"0s\"\n";
  return SetConfig(s_.store + "/config.toml", sections);
  return Status::OK();
}

Status Soak::StartMount() {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, s_.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<std::string> args = {s_.o.keepfs, "mount", "--store", s_.store, "-f", s_.mnt};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = ::posix_spawn(&s_.mount_pid, args[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Status::FromErrno(rc, "starting keepfs mount");
  struct stat work, mnt;
  if (::stat(s_.o.work.c_str(), &work) != 0) return Status::FromErrno(errno, "stat " + s_.o.work);
  for (int i = 0; i < 400; ++i) {  // 20 s
    if (::stat(s_.mnt.c_str(), &mnt) == 0 && mnt.st_dev != work.st_dev) return Status::OK();
    int status;
    if (::waitpid(s_.mount_pid, &status, WNOHANG) == s_.mount_pid) {
      s_.mount_pid = -1;
      std::ifstream log(s_.log);
      std::stringstream text;
      text << log.rdbuf();
      return Status::Internal("keepfs mount exited: " + text.str());
    }
    SleepFor(0.05);
  }
  return Status::Internal("keepfs mount did not come up in 20 s");
}

// Only when the run could not finish: the mount goes, whatever it is doing.
void Soak::KillMount() {
  if (s_.mount_pid <= 0) return;
  ::kill(s_.mount_pid, SIGKILL);
  ::waitpid(s_.mount_pid, nullptr, 0);
  s_.mount_pid = -1;
  std::string out;
  RunCommand({"/bin/umount", "-l", s_.mnt}, &out);
}

void Soak::StopMount() {
  if (s_.mount_pid <= 0) return;  // killed after a hang
  std::string out;
  int code = RunCommand({s_.o.keepfs, "umount", s_.mnt}, &out);
  if (code != 0) s_.Error("keepfs umount: exit " + std::to_string(code) + ": " + Tail(out));
  int status = 0;
  for (int i = 0; i < 600; ++i) {  // 30 s
    if (::waitpid(s_.mount_pid, &status, WNOHANG) == s_.mount_pid) {
      s_.mount_pid = -1;
      s_.report.mount_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    SleepFor(0.05);
  }
  if (s_.mount_pid > 0) s_.Error("the mount process did not exit within 30 s of its unmount");
  KillMount();
  std::ifstream log(s_.log);
  for (std::string line; std::getline(log, line);) {
    if (line.find(": error: ") != std::string::npos ||
        line.find(": critical: ") != std::string::npos) {
      if (s_.report.mount_log_errors++ < kMaxErrorSamples) s_.Error("mount log: " + line);
    } else if (line.find(": warning: ") != std::string::npos) {
      ++s_.report.mount_log_warnings;
    }
  }
}

// Backs the user's folder up as it is now, named by a time after the last.
Status Soak::Backup(int user, SourceTree& tree, int64_t* last_time) {
  int64_t t = std::max<int64_t>(static_cast<int64_t>(std::time(nullptr)), *last_time + 1);
  *last_time = t;
  {
    std::lock_guard<std::mutex> lock(s_.manifests_mu);
    s_.manifests[{user, snapshot::FormatSnapshotName(t, 0)}] = tree.Snapshot();
    // Names sort by time: the oldest go once prune must long have taken
    // them, so a long run keeps a bounded number (a reader still walking
    // one holds its manifest).
    auto first = s_.manifests.lower_bound({user, ""});
    auto end = s_.manifests.lower_bound({user + 1, ""});
    for (auto n = std::distance(first, end); n > kKeptManifests; --n)
      first = s_.manifests.erase(first);
  }
  std::string out;
  int code = Keepfs({"-q", "backup", "--user", kSoakUsers[user], "--time", snapshot::FormatUtcTime(t), "--json",
                     s_.src + "/" + kSoakUsers[user]},
                    &out);
  if (code != 0) {
    return Status::Internal("backup of " + std::string(kSoakUsers[user]) + ": exit " +
                            std::to_string(code) + ": " + Tail(out));
  }
  std::lock_guard<std::mutex> lock(s_.report_mu);
  ++s_.report.backups[user];
  s_.report.bytes_new += JsonNumber(out, "bytes_new");
  return Status::OK();
}

void Soak::Writer(int user, SourceTree& tree, int64_t last_time, Heartbeat& beat) {
  for (uint64_t round = 1; !s_.stop; ++round) {
    const double due = s_.Elapsed() + s_.o.backup_every;
    s_.Beat(beat);
    Status st = tree.Mutate(round);
    if (st.ok()) st = Backup(user, tree, &last_time);
    if (!st.ok()) s_.Error(st.message());
    s_.Beat(beat);
    while (!s_.stop && s_.Elapsed() < due) SleepFor(0.05);
  }
}

// The server's prune job, then its gc job (share, then gc), over and over.
void Soak::Collector(Heartbeat& beat) {
  while (!s_.stop) {
    std::string out;
    s_.Beat(beat);
    int code = Keepfs({"-q", "prune", "--json"}, &out);
    if (code != 0) s_.Error("prune: exit " + std::to_string(code) + ": " + Tail(out));
    uint64_t forgotten = CountOf(out, "\"fate\":\"forget\"");
    s_.Beat(beat);
    code = Keepfs({"-q", "share", "--json"}, &out);
    if (code != 0) s_.Error("share: exit " + std::to_string(code) + ": " + Tail(out));
    uint64_t unified = JsonNumber(out, "unified");
    s_.Beat(beat);
    code = Keepfs({"-q", "gc", "--json"}, &out);
    if (code != 0) s_.Error("gc: exit " + std::to_string(code) + ": " + Tail(out));
    {
      std::lock_guard<std::mutex> lock(s_.report_mu);
      SoakReport& r = s_.report;
      ++r.prunes;
      ++r.shares;
      ++r.gcs;
      r.snapshots_forgotten += forgotten;
      r.files_unified += unified;
      r.gc_chunks_deleted += JsonNumber(out, "chunks");
      r.gc_packs_removed += JsonNumber(out, "condemned");
      r.gc_packs_repacked += JsonNumber(out, "repacked");
    }
    s_.Beat(beat);
    const double due = s_.Elapsed() + s_.o.gc_pause;
    while (!s_.stop && s_.Elapsed() < due) SleepFor(0.05);
  }
}

// A thread silent for hang_seconds: reported once, with the mount's stacks.
void Soak::WatchForHangs() {
  const int64_t now_ms = static_cast<int64_t>(s_.Elapsed() * 1000);
  for (Heartbeat& h : s_.beats) {
    if (h.done || h.reported || now_ms - h.at_ms < s_.o.hang_seconds * 1000) continue;
    h.reported = true;
    s_.Error(h.who + ": no progress for " + std::to_string((now_ms - h.at_ms) / 1000) +
             " s (a hang; the mount's stacks are in hang-stacks.txt)");
    DumpStacks();
  }
}

void Soak::DumpStacks() {
  if (dumped_ || s_.mount_pid <= 0) return;
  dumped_ = true;
  std::string out;
  RunCommand(
      {"/usr/bin/gdb", "-p", std::to_string(s_.mount_pid), "-batch", "-ex", "thread apply all bt"},
      &out);
  std::ofstream(s_.o.work + "/hang-stacks.txt") << out;
}

RssSample Soak::Sample() const {
  RssSample s;
  s.t = s_.Elapsed();
  const std::string proc = "/proc/" + std::to_string(s_.mount_pid);
  std::ifstream status(proc + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::stoull(line.substr(6));
    if (line.rfind("Threads:", 0) == 0) s.threads = std::stoull(line.substr(8));
  }
  if (DIR* d = ::opendir((proc + "/fd").c_str())) {
    while (struct dirent* e = ::readdir(d)) s.fds += e->d_name[0] != '.';
    ::closedir(d);
  }
  return s;
}

void Soak::Sampler() {
  double next_line = 10;
  for (double due = 0; !s_.stop; due += s_.o.sample_every) {
    while (!s_.stop && s_.Elapsed() < due) SleepFor(0.02);
    if (s_.stop) break;
    WatchForHangs();
    RssSample sample = Sample();
    std::lock_guard<std::mutex> lock(s_.report_mu);
    SoakReport& r = s_.report;
    r.samples.push_back(sample);
    if (s_.o.progress && sample.t >= next_line) {
      next_line += 10;
      char line[256];
      std::snprintf(line, sizeof line,
                    "[soak] %4.0f s: %lu+%lu backups, %lu gc loops, %lu files read, %lu vanished, "
                    "%lu errors, RSS %.1f MiB\n",
                    sample.t, static_cast<unsigned long>(r.backups[0]),
                    static_cast<unsigned long>(r.backups[1]), static_cast<unsigned long>(r.gcs),
                    static_cast<unsigned long>(r.files_read),
                    static_cast<unsigned long>(r.vanished), static_cast<unsigned long>(r.errors),
                    static_cast<double>(sample.rss_kib) / 1024);
      *s_.o.progress << line << std::flush;
    }
  }
}

void Soak::FinalChecks() {
  SoakReport& r = s_.report;
  std::string out;
  r.check_exit = Keepfs({"check", "--verify-data"}, &out);
  if (r.check_exit != 0) r.check_output = Tail(out);
  r.audit_exit = Keepfs({"audit", "--dry-run"}, &out);
  if (r.audit_exit != 0) r.audit_output = Tail(out);
}

// Waits for the threads; those still busy hang_seconds after the end are a
// hang: the mount is killed so that their calls return, then they are joined.
void Soak::JoinAll(std::vector<std::thread>& threads) {
  const double deadline = s_.Elapsed() + s_.o.hang_seconds;
  auto running = [&] {
    size_t n = 0;
    for (const Heartbeat& h : s_.beats) n += !h.done;
    return n;
  };
  while (running() > 0 && s_.Elapsed() < deadline) SleepFor(0.05);
  if (size_t n = running(); n > 0) {
    std::string who;
    for (const Heartbeat& h : s_.beats) {
      if (!h.done) who += " [" + h.who + "]";
    }
    s_.Error(std::to_string(n) + " threads still busy " + std::to_string(s_.o.hang_seconds) +
             " s after the end (a hang; the mount's stacks are in hang-stacks.txt):" + who);
    DumpStacks();
    KillMount();
  }
  for (auto& t : threads) t.join();
}

Result<SoakReport> Soak::Run() {
  KEEPFS_RETURN_IF_ERROR(Prepare());
  SourceTree alice(s_.src + "/alice", s_.o.seed * 2 + 1, /*shared_sparse=*/false);
  SourceTree bob(s_.src + "/bob", s_.o.seed * 2 + 2, /*shared_sparse=*/true);
  SourceTree* trees[2] = {&alice, &bob};
  KEEPFS_RETURN_IF_ERROR(StartMount());
  s_.start = std::chrono::steady_clock::now();
  int64_t last_time[2] = {0, 0};
  for (int u = 0; u < 2; ++u) {  // the first snapshots, before any reader
    KEEPFS_RETURN_IF_ERROR(trees[u]->Create());
    KEEPFS_RETURN_IF_ERROR(Backup(u, *trees[u], &last_time[u]));
  }
  s_.start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  auto start = [&](std::string who, std::function<void(Heartbeat&)> fn) {
    Heartbeat& beat = s_.beats.emplace_back(std::move(who));
    threads.emplace_back([&beat, fn = std::move(fn)] {
      fn(beat);
      beat.done = true;
    });
  };
  for (int u = 0; u < 2; ++u) {
    start(std::string("backups of ") + kSoakUsers[u],
          [&, u](Heartbeat& b) { Writer(u, *trees[u], last_time[u], b); });
  }
  start("prune/share/gc", [&](Heartbeat& b) { Collector(b); });
  for (int i = 0; i < s_.o.readers; ++i) {
    start("reader " + std::to_string(i),
          [&, i](Heartbeat& b) { RunReader(s_, s_.o.seed * 1000 + static_cast<uint64_t>(i), b); });
  }
  std::thread sampler([&] { Sampler(); });  // after the beats: it reads them
  SleepFor(s_.o.seconds);
  s_.stop = true;
  sampler.join();
  JoinAll(threads);
  SoakReport& r = s_.report;
  r.seconds = s_.Elapsed();
  r.peak_rss_kib = 0;
  std::ifstream status("/proc/" + std::to_string(s_.mount_pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) r.peak_rss_kib = std::stoull(line.substr(6));
  }
  StopMount();
  FinalChecks();
  r.options = s_.o;
  r.options.progress = nullptr;
  const double warmup = std::max(5.0, s_.o.seconds * s_.o.warmup_fraction);
  r.rss = JudgeFlat(r.samples, warmup, &RssSample::rss_kib, 8 << 10, 0.10);
  // A command running in the mount holds a few more files and threads
  // (RocksDB tables, a backup's workers) than the readers alone need.
  r.fds = JudgeFlat(r.samples, warmup, &RssSample::fds, 8, 0);
  r.threads = JudgeFlat(r.samples, warmup, &RssSample::threads, 4, 0);
  return r;
}

}  // namespace

Result<SoakReport> RunSoak(const SoakOptions& options) { return Soak(options).Run(); }

}  // namespace keepfs::bench
