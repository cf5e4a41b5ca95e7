#include "fs/listing_hints.h"

#include <algorithm>
#include <vector>

namespace keepfs::fs {

ListingHints::State& ListingHints::Touch(uint32_t pid) {
  auto it = pids_.find(pid);
  if (it == pids_.end()) {
    if (pids_.size() >= kCapacity) {
      // Forget the least recently seen half: amortised O(1) per new pid.
      std::vector<uint64_t> seen;
      seen.reserve(pids_.size());
      for (const auto& [p, s] : pids_) seen.push_back(s.seen);
      auto mid = seen.begin() + static_cast<std::ptrdiff_t>(seen.size() / 2);
      std::nth_element(seen.begin(), mid, seen.end());
      uint64_t cut = *mid;
      std::erase_if(pids_, [cut](const auto& kv) { return kv.second.seen < cut; });
    }
    it = pids_.emplace(pid, State{}).first;
  }
  it->second.seen = ++clock_;
  return it->second;
}

bool ListingHints::WantsAttrs(uint32_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pids_.find(pid);
  return it != pids_.end() && it->second.wants_attrs;
}

void ListingHints::GaveNamesOnly(uint32_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  Touch(pid).names_only_given = true;
}

void ListingHints::LookedUp(uint32_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pids_.find(pid);
  if (it == pids_.end() || !it->second.names_only_given) return;
  it->second.wants_attrs = true;
  it->second.seen = ++clock_;
}

size_t ListingHints::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return pids_.size();
}

}  // namespace keepfs::fs
