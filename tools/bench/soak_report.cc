// The soak's numbers: latency histograms, the flatness rule, the report.
#include <algorithm>
#include <bit>
#include <cstdio>
#include <sstream>

#include "tools/bench/soak.h"

namespace keepfs::bench {

namespace {

// Values below 64 ns have a bucket each; above, 64 buckets per power of two.
size_t BucketOf(uint64_t ns) {
  if (ns < 64) return static_cast<size_t>(ns);
  int e = 63 - std::countl_zero(ns);  // 6..63
  return static_cast<size_t>((e - 5) * 64 + ((ns >> (e - 6)) & 63));
}

// The highest value a bucket holds.
uint64_t BucketTop(size_t b) {
  if (b < 64) return b;
  int e = static_cast<int>(b / 64) + 5;
  uint64_t sub = b % 64;
  return ((64 + sub + 1) << (e - 6)) - 1;
}

std::string Ms(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

std::string MiB(uint64_t kib) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(kib) / 1024);
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string LatencyJson(const LatencyHistogram& h) {
  std::ostringstream o;
  o << "{\"count\":" << h.count() << ",\"p50_us\":" << h.Quantile(0.5) / 1000
    << ",\"p99_us\":" << h.Quantile(0.99) / 1000 << ",\"p999_us\":" << h.Quantile(0.999) / 1000
    << ",\"max_us\":" << h.max() / 1000 << "}";
  return o.str();
}

std::string FlatJson(const Flatness& f) {
  std::ostringstream o;
  o << "{\"warmup_s\":" << f.warmup_s << ",\"first_half_median\":" << f.first_median
    << ",\"second_half_median\":" << f.second_median << ",\"first_half_max\":" << f.first_max
    << ",\"second_half_max\":" << f.second_max << ",\"allowed_growth\":" << f.allowed
    << ",\"slope_per_min\":" << f.slope_per_min << ",\"flat\":" << (f.flat ? "true" : "false")
    << "}";
  return o.str();
}

}  // namespace

void LatencyHistogram::Add(uint64_t ns) {
  ++buckets_[BucketOf(ns)];
  ++count_;
  max_ = std::max(max_, ns);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1, seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) return std::min(BucketTop(b), max_);
  }
  return max_;
}

Flatness JudgeFlat(const std::vector<RssSample>& samples, double warmup_s,
                   uint64_t RssSample::*field, uint64_t fixed_allowed, double allowed_fraction) {
  Flatness f;
  f.warmup_s = warmup_s;
  if (samples.empty()) return f;
  const double mid = warmup_s + (samples.back().t - warmup_s) / 2;
  std::vector<uint64_t> first, second;
  double n = 0, st = 0, sv = 0, stt = 0, stv = 0;
  for (const RssSample& s : samples) {
    if (s.t < warmup_s) continue;
    (s.t < mid ? first : second).push_back(s.*field);
    const double v = static_cast<double>(s.*field);
    n += 1;
    st += s.t;
    sv += v;
    stt += s.t * s.t;
    stv += s.t * v;
  }
  // Too few samples to judge is not flat: the run was too short.
  if (first.size() < 3 || second.size() < 3) return f;
  auto median = [](std::vector<uint64_t>& v) {
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  f.first_max = *std::max_element(first.begin(), first.end());
  f.second_max = *std::max_element(second.begin(), second.end());
  f.first_median = median(first);
  f.second_median = median(second);
  f.slope_per_min = 60 * (n * stv - st * sv) / std::max(1e-9, n * stt - st * st);
  f.allowed =
      fixed_allowed + static_cast<uint64_t>(static_cast<double>(f.first_median) * allowed_fraction);
  f.flat = f.second_median <= f.first_median + f.allowed;
  return f;
}

bool SoakReport::ok() const {
  return errors == 0 && mount_log_errors == 0 && mount_exit == 0 && check_exit == 0 &&
         audit_exit == 0 && rss.flat && fds.flat && threads.flat;
}

std::string SoakText(const SoakReport& r) {
  std::ostringstream o;
  const SoakOptions& opt = r.options;
  char head[256];
  std::snprintf(head, sizeof head,
                "soak: %.0f s, %d readers, backups every %.1f s, keep-last %d, profile %s\n",
                r.seconds, opt.readers, opt.backup_every, opt.keep_last, opt.profile.c_str());
  o << head;
  o << "  backups: alice " << r.backups[0] << ", bob " << r.backups[1] << " ("
    << MiB(r.bytes_new / 1024) << " new)\n";
  o << "  prune: " << r.prunes << " runs, " << r.snapshots_forgotten
    << " snapshots forgotten; share: " << r.shares << " runs, " << r.files_unified
    << " files unified\n";
  o << "  gc: " << r.gcs << " runs, " << r.gc_chunks_deleted << " chunks deleted, "
    << r.gc_packs_removed << " packs removed, " << r.gc_packs_repacked << " repacked\n";
  o << "  readers: " << r.walks << " snapshots walked, " << r.vanished
    << " found their snapshot pruned under them, " << r.dirs_listed << " folders listed, "
    << r.files_read << " files read and checked (" << MiB(r.bytes_read / 1024) << ", " << r.reads
    << " reads)\n";
  o << "  read() latency: p50 " << Ms(r.read_latency.Quantile(0.5)) << ", p99 "
    << Ms(r.read_latency.Quantile(0.99)) << ", p99.9 " << Ms(r.read_latency.Quantile(0.999))
    << ", max " << Ms(r.read_latency.max()) << "\n";
  o << "  file (open to close): p50 " << Ms(r.file_latency.Quantile(0.5)) << ", p99 "
    << Ms(r.file_latency.Quantile(0.99)) << ", max " << Ms(r.file_latency.max()) << "\n";
  char slope[32];
  std::snprintf(slope, sizeof slope, "%+.2f MiB/min", r.rss.slope_per_min / 1024);
  o << "  mount RSS after the warm-up (" << r.rss.warmup_s << " s): median "
    << MiB(r.rss.first_median) << " in the first half, " << MiB(r.rss.second_median)
    << " in the second (allowed +" << MiB(r.rss.allowed)
    << "): " << (r.rss.flat ? "flat" : "NOT FLAT") << "; max " << MiB(r.rss.first_max) << " then "
    << MiB(r.rss.second_max) << ", slope " << slope << ", peak (VmHWM) " << MiB(r.peak_rss_kib)
    << "\n";
  o << "  mount fds: median " << r.fds.first_median << " then " << r.fds.second_median << ", max "
    << r.fds.first_max << " then " << r.fds.second_max << " (" << (r.fds.flat ? "flat" : "NOT FLAT")
    << "); threads: median " << r.threads.first_median << " then " << r.threads.second_median
    << ", max " << r.threads.first_max << " then " << r.threads.second_max << " ("
    << (r.threads.flat ? "flat" : "NOT FLAT") << ")\n";
  o << "  RSS over time (s: MiB):";
  size_t step = std::max<size_t>(1, r.samples.size() / 20);
  for (size_t i = 0; i < r.samples.size(); i += step) {
    char buf[48];
    std::snprintf(buf, sizeof buf, " %.0f:%.1f", r.samples[i].t,
                  static_cast<double>(r.samples[i].rss_kib) / 1024);
    o << buf;
  }
  o << "\n  mount: exit " << r.mount_exit << ", " << r.mount_log_errors << " error and "
    << r.mount_log_warnings << " warning lines in its log\n";
  o << "  check --verify-data: exit " << r.check_exit << "; audit --dry-run: exit " << r.audit_exit
    << "\n";
  if (!r.check_output.empty()) o << r.check_output << "\n";
  if (!r.audit_output.empty()) o << r.audit_output << "\n";
  o << "  errors: " << r.errors << "\n";
  for (const std::string& e : r.error_samples) o << "    " << e << "\n";
  o << (r.ok() ? "PASS" : "FAIL") << "\n";
  return o.str();
}

std::string SoakJson(const SoakReport& r) {
  std::ostringstream o;
  const SoakOptions& opt = r.options;
  o << "{\"seconds\":" << r.seconds << ",\"readers\":" << opt.readers
    << ",\"backup_every_s\":" << opt.backup_every << ",\"keep_last\":" << opt.keep_last
    << ",\"profile\":" << JsonString(opt.profile) << ",\"seed\":" << opt.seed
    << ",\"backups\":{\"alice\":" << r.backups[0] << ",\"bob\":" << r.backups[1]
    << ",\"bytes_new\":" << r.bytes_new << "},\"prunes\":" << r.prunes
    << ",\"snapshots_forgotten\":" << r.snapshots_forgotten << ",\"shares\":" << r.shares
    << ",\"files_unified\":" << r.files_unified << ",\"gcs\":" << r.gcs
    << ",\"gc_chunks_deleted\":" << r.gc_chunks_deleted
    << ",\"gc_packs_removed\":" << r.gc_packs_removed
    << ",\"gc_packs_repacked\":" << r.gc_packs_repacked << ",\"walks\":" << r.walks
    << ",\"vanished\":" << r.vanished << ",\"dirs_listed\":" << r.dirs_listed
    << ",\"files_read\":" << r.files_read << ",\"reads\":" << r.reads
    << ",\"bytes_read\":" << r.bytes_read << ",\"read_latency\":" << LatencyJson(r.read_latency)
    << ",\"file_latency\":" << LatencyJson(r.file_latency) << ",\"errors\":" << r.errors
    << ",\"error_samples\":[";
  for (size_t i = 0; i < r.error_samples.size(); ++i) {
    o << (i ? "," : "") << JsonString(r.error_samples[i]);
  }
  o << "],\"mount_exit\":" << r.mount_exit << ",\"mount_log_errors\":" << r.mount_log_errors
    << ",\"mount_log_warnings\":" << r.mount_log_warnings << ",\"check_exit\":" << r.check_exit
    << ",\"audit_exit\":" << r.audit_exit << ",\"peak_rss_kib\":" << r.peak_rss_kib
    << ",\"rss\":" << FlatJson(r.rss) << ",\"fds\":" << FlatJson(r.fds)
    << ",\"threads\":" << FlatJson(r.threads) << ",\"samples\":[";
  for (size_t i = 0; i < r.samples.size(); ++i) {
    const RssSample& s = r.samples[i];
    o << (i ? "," : "") << "[" << s.t << "," << s.rss_kib << "," << s.fds << "," << s.threads
      << "]";
  }
  o << "],\"ok\":" << (r.ok() ? "true" : "false") << "}";
  return o.str();
}

}  // namespace keepfs::bench
