#include "store/object_guard.h"

#include <algorithm>
#include <cstring>

namespace keepfs {

namespace {
constexpr int kProbes = 4;

// Ids are SHA-256 outputs: their bytes are already uniform, so the probes
// are read from them. The kind is mixed in so that a tree and a chunk with
// the same id bytes (never seen in practice) still differ.
uint64_t Word(const ObjectId& id, int i, char kind) {
  uint64_t w;
  std::memcpy(&w, id.bytes.data() + 8 * i, sizeof w);
  return w ^ (static_cast<uint64_t>(static_cast<unsigned char>(kind)) * 0x9e3779b97f4a7c15ull);
}
}  // namespace

ObjectGuard::Hold::Hold(ObjectGuard* guard, bool exact)
    : guard_(guard), exact_(exact), bits_(exact ? 0 : kBackupBits / 64) {}

ObjectGuard::Hold::~Hold() { guard_->Unregister(this); }

void ObjectGuard::Hold::Add(char kind, const ObjectId& id) {
  if (exact_) {
    std::lock_guard<std::mutex> lock(mu_);
    keys_.insert(Word(id, 0, kind));
  } else {
    for (int i = 0; i < kProbes; ++i) {
      uint64_t bit = Word(id, i, kind) % kBackupBits;
      bits_[bit / 64].fetch_or(uint64_t{1} << (bit % 64), std::memory_order_relaxed);
    }
  }
  guard_->RunAddHook(kind, id);
}

bool ObjectGuard::Hold::MayHold(char kind, const ObjectId& id) const {
  if (exact_) {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_.count(Word(id, 0, kind)) > 0;
  }
  for (int i = 0; i < kProbes; ++i) {
    uint64_t bit = Word(id, i, kind) % kBackupBits;
    if (!(bits_[bit / 64].load(std::memory_order_relaxed) & (uint64_t{1} << (bit % 64)))) {
      return false;
    }
  }
  return true;
}

std::unique_ptr<ObjectGuard::Hold> ObjectGuard::NewBackupHold() {
  std::unique_ptr<Hold> h(new Hold(this, /*exact=*/false));
  std::lock_guard<std::mutex> lock(holds_mu_);
  holds_.push_back(h.get());
  return h;
}

std::unique_ptr<ObjectGuard::Hold> ObjectGuard::NewReaderHold() {
  std::unique_ptr<Hold> h(new Hold(this, /*exact=*/true));
  std::lock_guard<std::mutex> lock(holds_mu_);
  holds_.push_back(h.get());
  return h;
}

void ObjectGuard::Unregister(const Hold* h) {
  std::lock_guard<std::mutex> lock(holds_mu_);
  holds_.erase(std::remove(holds_.begin(), holds_.end(), h), holds_.end());
}

bool ObjectGuard::IsHeld(char kind, const ObjectId& id) const {
  std::lock_guard<std::mutex> lock(holds_mu_);
  for (const Hold* h : holds_) {
    if (h->MayHold(kind, id)) return true;
  }
  return false;
}

size_t ObjectGuard::hold_count() const {
  std::lock_guard<std::mutex> lock(holds_mu_);
  return holds_.size();
}

void ObjectGuard::SetAddHookForTest(std::function<void(char, const ObjectId&)> fn) {
  add_hook_ = std::move(fn);
}

void ObjectGuard::RunAddHook(char kind, const ObjectId& id) const {
  if (add_hook_) add_hook_(kind, id);
}

}  // namespace keepfs
