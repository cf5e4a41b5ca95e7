// Retention as a pure function, checked against golden tables: each file in
// gc/golden/ lists a policy, a time and snapshots in, and the fate and the
// deciding rules out. KEEPFS_UPDATE_GOLDEN=1 rewrites the right-hand sides
// (then read the diff: it is the review).
//
//   # comment
//   policy keep-within=30d keep-monthly=-1     rules as on the prune command line
//   now 2026-11-22_030000
//   base 1000        charged bytes no snapshot accounts for (pinned data, ...)
//   SNAPSHOT [frees=N] [pins=N] [husk] | FATE  REASONS
//
// frees: the charged bytes forgetting that snapshot frees (additive here).
#include "gc/retention.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>

#include "snapshot/catalog.h"
#include "tests/testing/test_util.h"

namespace keepfs::gc {
namespace {

class AdditiveCharge : public ChargeModel {
 public:
  AdditiveCharge(uint64_t base, std::vector<uint64_t> frees) : frees_(std::move(frees)) {
    charged_ = base;
    for (uint64_t f : frees_) charged_ += f;
  }
  uint64_t Charged() const override { return charged_; }
  void Forget(size_t i) override {
    EXPECT_FALSE(forgotten_[i]) << "snapshot " << i << " forgotten twice";
    forgotten_[i] = true;
    charged_ -= frees_[i];
  }

 private:
  std::vector<uint64_t> frees_;
  std::map<size_t, bool> forgotten_;
  uint64_t charged_ = 0;
};

std::string Trim(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

// Recomputes the golden file's right-hand sides; returns the whole new text.
std::string RunTable(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  RetentionPolicy policy;  // rules start off: each file says what it uses
  int64_t now = 0;
  uint64_t base = 0;
  std::vector<RetentionSnapshot> snaps;
  std::vector<uint64_t> frees;
  std::vector<std::string> lines;
  std::vector<int> snap_line;  // line index of each snapshot
  while (std::getline(in, line)) {
    lines.push_back(line);
    std::istringstream w(line.substr(0, line.find('|')));
    std::string word;
    if (!(w >> word) || word[0] == '#') continue;
    if (word == "policy") {
      while (w >> word) {
        size_t eq = word.find('=');
        EXPECT_OK(SetRetentionRule(&policy, word.substr(0, eq), word.substr(eq + 1)));
      }
    } else if (word == "now") {
      w >> word;
      auto t = snapshot::ParseUtcTime(word);
      EXPECT_OK(t);
      now = t.ok() ? *t : 0;
    } else if (word == "base") {
      w >> base;
    } else {
      RetentionSnapshot s;
      s.name = word;
      uint32_t seq;
      EXPECT_OK(snapshot::ParseSnapshotName(word, &s.time_sec, &seq)) << line;
      uint64_t f = 0;
      while (w >> word) {
        if (word.rfind("frees=", 0) == 0) f = std::stoull(word.substr(6));
        else if (word.rfind("pins=", 0) == 0) s.pins = std::stoull(word.substr(5));
        else if (word == "husk") s.husk = true;
        else ADD_FAILURE() << "unknown field " << word << " in: " << line;
      }
      snaps.push_back(s);
      frees.push_back(f);
      snap_line.push_back(static_cast<int>(lines.size()) - 1);
    }
  }
  AdditiveCharge charge(base, frees);
  auto plan = PlanRetention(snaps, policy, now, &charge);
  EXPECT_OK(plan);
  if (!plan.ok()) return text;
  for (size_t i = 0; i < snaps.size(); ++i) {
    std::string& l = lines[snap_line[i]];
    std::string left = Trim(l.substr(0, l.find('|')));
    left.resize(std::max<size_t>(left.size(), 40), ' ');
    std::string reasons;
    for (const auto& r : plan->decisions[i].reasons) reasons += (reasons.empty() ? "" : ", ") + r;
    std::string fate = FateName(plan->decisions[i].fate);
    fate.resize(7, ' ');
    l = left + "| " + fate + reasons;
  }
  std::string out;
  for (const auto& l : lines) {
    if (l.rfind("# => ", 0) == 0) continue;  // the summary is recomputed below
    out += l + "\n";
  }
  std::ostringstream sum;
  sum << "# => charged " << plan->charged_before << " -> " << plan->charged_after;
  if (plan->quota_bytes) {
    sum << ", quota " << *plan->quota_bytes << (plan->over_quota_after ? ", still over" : ", met");
  }
  return out + sum.str() + "\n";
}

TEST(RetentionGoldenTest, EveryTableMatches) {
  const bool update = std::getenv("KEEPFS_UPDATE_GOLDEN") != nullptr;
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(KEEPFS_GOLDEN_DIR)) {
    if (e.path().extension() != ".txt") continue;
    ++files;
    SCOPED_TRACE(e.path().filename().string());
    auto text = testing::ReadFile(e.path().string());
    ASSERT_OK(text);
    std::string got = RunTable(*text);
    if (update && got != *text) {
      std::ofstream(e.path()) << got;
      continue;
    }
    EXPECT_EQ(got, *text) << "rerun with KEEPFS_UPDATE_GOLDEN=1 and review the diff";
  }
  EXPECT_GE(files, 5) << "golden tables in " << KEEPFS_GOLDEN_DIR;
}

TEST(RetentionTest, UnsortedInputIsRefused) {
  std::vector<RetentionSnapshot> s = {{"2026-11-02_000000", 1793577600, 0, false},
                                      {"2026-11-01_000000", 1793491200, 0, false}};
  EXPECT_CODE(PlanRetention(s, RetentionPolicy::Default(), 1793577600, nullptr),
              StatusCode::kInvalidArgument);
}

TEST(RetentionTest, NoSnapshotsIsAnEmptyPlan) {
  ASSERT_OK_AND_ASSIGN(RetentionPlan p, PlanRetention({}, RetentionPolicy::Default(), 0, nullptr));
  EXPECT_TRUE(p.decisions.empty());
}

TEST(RetentionPolicyTest, RulesParseAndDescribe) {
  RetentionPolicy p;
  EXPECT_OK(SetRetentionRule(&p, "keep-within", "30d"));
  EXPECT_EQ(p.keep_within_sec, 30 * 86400);
  EXPECT_OK(SetRetentionRule(&p, "keep-monthly", "-1"));
  EXPECT_OK(SetRetentionRule(&p, "quota", "20G"));
  EXPECT_EQ(p.quota_bytes, 20ull << 30);
  EXPECT_EQ(p.Describe(), "keep-within 30d, keep-monthly unlimited, quota 21474836480 bytes");
  EXPECT_OK(SetRetentionRule(&p, "quota", "none"));
  EXPECT_FALSE(p.quota_bytes);
  EXPECT_CODE(SetRetentionRule(&p, "keep-montly", "3"), StatusCode::kInvalidArgument);
  EXPECT_CODE(SetRetentionRule(&p, "keep-last", "-1"), StatusCode::kInvalidArgument);
  EXPECT_CODE(SetRetentionRule(&p, "keep-daily", "-2"), StatusCode::kInvalidArgument);
  EXPECT_CODE(SetRetentionRule(&p, "keep-daily", "7x"), StatusCode::kInvalidArgument);
  EXPECT_CODE(SetRetentionRule(&p, "keep-within", "6m"), StatusCode::kInvalidArgument)
      << "minutes or months: refused";
  EXPECT_CODE(SetRetentionRule(&p, "keep-first", "yes"), StatusCode::kInvalidArgument);
  EXPECT_EQ(FormatDuration(5400), "90min");
  EXPECT_EQ(FormatDuration(86400 * 14), "2w");
  ASSERT_OK_AND_ASSIGN(int64_t y, ParseDuration("1y"));
  EXPECT_EQ(y, 365 * 86400);
}

}  // namespace
}  // namespace keepfs::gc
