#include "gc/retention.h"

#include <ctime>
#include <functional>
#include <tuple>

namespace keepfs::gc {

namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// A calendar rule's bucket: a key that is equal for two times in the same
// period, and the period's label.
struct Bucket {
  int64_t key;
  std::string label;
};

std::string Utc(int64_t t, const char* format) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

Bucket Hourly(int64_t t) { return {FloorDiv(t, 3600), Utc(t, "hourly %Y-%m-%d %Hh")}; }
Bucket Daily(int64_t t) { return {FloorDiv(t, 86400), Utc(t, "daily %Y-%m-%d")}; }
// ISO 8601 weeks (%G-W%V): Monday to Sunday, in the year of their Thursday.
Bucket Weekly(int64_t t) { return {std::stoll(Utc(t, "%G%V")), Utc(t, "weekly %G-W%V")}; }
Bucket Monthly(int64_t t) { return {std::stoll(Utc(t, "%Y%m")), Utc(t, "monthly %Y-%m")}; }
Bucket Yearly(int64_t t) { return {std::stoll(Utc(t, "%Y")), Utc(t, "yearly %Y")}; }

std::string Pinned(uint64_t pins) {
  return "pinned: " + std::to_string(pins) + (pins == 1 ? " path" : " paths");
}

}  // namespace

const char* FateName(Fate f) {
  switch (f) {
    case Fate::kKeep: return "keep";
    case Fate::kForget: return "forget";
    case Fate::kHusk: return "husk";
  }
  return "?";
}

Result<RetentionPlan> PlanRetention(const std::vector<RetentionSnapshot>& snaps,
                                    const RetentionPolicy& policy, int64_t now_sec,
                                    ChargeModel* charge) {
  for (size_t i = 1; i < snaps.size(); ++i) {
    const auto& a = snaps[i - 1];
    const auto& b = snaps[i];
    if (std::tie(a.time_sec, a.seq, a.name) >= std::tie(b.time_sec, b.seq, b.name)) {
      return Status::InvalidArgument("retention: snapshots are not sorted oldest first at " +
                                     b.name);
    }
  }
  RetentionPlan plan;
  plan.quota_bytes = policy.quota_bytes;
  plan.decisions.resize(snaps.size());
  // Whole snapshots, newest first; husks have been pruned already.
  std::vector<size_t> live;
  for (size_t i = snaps.size(); i-- > 0;) {
    if (!snaps[i].husk) live.push_back(i);
  }
  std::vector<bool> is_protected(snaps.size(), false);  // never taken for quota
  auto keep = [&](size_t i, std::string reason, bool protect) {
    plan.decisions[i].reasons.push_back(std::move(reason));
    if (protect) is_protected[i] = true;
  };

  if (!live.empty()) keep(live.front(), "newest", true);
  if (policy.keep_first && !live.empty()) keep(live.back(), "first", true);
  for (size_t k = 0; k < live.size(); ++k) {
    size_t i = live[k];
    if (policy.keep_last > 0 && k < static_cast<size_t>(policy.keep_last)) {
      keep(i, "last " + std::to_string(policy.keep_last), true);
    }
    if (policy.keep_within_sec > 0 && snaps[i].time_sec > now_sec - policy.keep_within_sec) {
      keep(i, "within " + FormatDuration(policy.keep_within_sec), true);
    }
  }
  const std::pair<int64_t, std::function<Bucket(int64_t)>> calendar[] = {
      {policy.keep_hourly, Hourly},   {policy.keep_daily, Daily},   {policy.keep_weekly, Weekly},
      {policy.keep_monthly, Monthly}, {policy.keep_yearly, Yearly}};
  for (const auto& [count, bucket_of] : calendar) {
    if (count == 0) continue;
    int64_t used = 0;
    std::optional<int64_t> last;
    for (size_t i : live) {  // newest first: each period keeps its newest
      if (count > 0 && used >= count) break;
      Bucket b = bucket_of(snaps[i].time_sec);
      if (last && *last == b.key) continue;
      last = b.key;
      ++used;
      keep(i, b.label, false);
    }
  }

  auto let_go = [&](size_t i, const std::string& why) {
    RetentionDecision& d = plan.decisions[i];
    d.reasons = {why};
    d.fate = snaps[i].pins > 0 ? Fate::kHusk : Fate::kForget;
    if (snaps[i].pins > 0) d.reasons.push_back(Pinned(snaps[i].pins));
  };
  if (charge) plan.charged_before = charge->Charged();
  for (size_t i = 0; i < snaps.size(); ++i) {  // oldest first
    if (snaps[i].husk) {
      let_go(i, snaps[i].pins > 0 ? "husk" : "husk with no pins left");
      // A husk that keeps pins stays; it frees nothing more.
      if (snaps[i].pins == 0 && charge) charge->Forget(i);
      continue;
    }
    if (!plan.decisions[i].reasons.empty()) continue;
    let_go(i, "no rule keeps it");
    if (charge) charge->Forget(i);
  }
  if (charge) {
    plan.charged_after = charge->Charged();
    if (policy.quota_bytes && plan.charged_after > *policy.quota_bytes) {
      for (size_t i = 0; i < snaps.size() && plan.charged_after > *policy.quota_bytes; ++i) {
        if (snaps[i].husk || is_protected[i] || plan.decisions[i].fate != Fate::kKeep) continue;
        let_go(i, "over quota");
        charge->Forget(i);
        plan.charged_after = charge->Charged();
      }
      plan.over_quota_after = plan.charged_after > *policy.quota_bytes;
    }
  }
  return plan;
}

}  // namespace keepfs::gc
