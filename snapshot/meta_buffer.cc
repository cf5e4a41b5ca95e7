#include "snapshot/meta_buffer.h"

namespace keepfs::snapshot {

void MetaBuffer::Put(std::string key, std::string value) {
  std::lock_guard<std::mutex> lock(mu_);
  batch_.Put(key, value);
}

void MetaBuffer::Delete(std::string key) {
  std::lock_guard<std::mutex> lock(mu_);
  batch_.Delete(key);
}

Status MetaBuffer::MaybeFlush() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (batch_.ApproximateSize() < flush_bytes_) return Status::OK();
  }
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  return FlushLocked({}, /*sync=*/false);
}

Status MetaBuffer::Flush() {
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  return FlushLocked({}, /*sync=*/false);
}

Status MetaBuffer::Commit(const Records& last) {
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  return FlushLocked(last, /*sync=*/true);
}

// Order matters: take the batch first, then seal the pack. Every record in the
// taken batch was added after its chunks were appended, so sealing now covers
// them; records added after the swap wait for the next flush.
Status MetaBuffer::FlushLocked(const Records& extra, bool sync) {
  WriteBatch out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(out, batch_);
  }
  KEEPFS_RETURN_IF_ERROR(store_->chunks().Flush());
  for (const auto& [key, value] : extra) out.Put(key, value);
  if (out.Count() == 0) return Status::OK();
  return store_->kv().Write(out, sync);
}

}  // namespace keepfs::snapshot
