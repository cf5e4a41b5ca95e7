// The MANIFEST of a store backup (store/backup_manifest.h): what
// store-backup, --verify and store-restore trust to name a copy's files.
// Checks: errors are Corruption; a parsed manifest keeps the header's
// promises (a store id, a generation > 0, relative paths without ".." or
// spaces, 64 lowercase hex digits per file); encoding it parses back to the
// same manifest.
#include "store/backup_manifest.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;

namespace {
bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(fuzz::Bytes(data, size));
  Result<BackupManifest> r = ParseBackupManifest(text, "fuzz/MANIFEST");
  if (!r.ok()) {
    fuzz::CheckCorruption(r.status());
    return 0;
  }
  FUZZ_CHECK(!r->store_id.empty() && r->generation > 0);
  for (const auto& [path, f] : r->files) {
    FUZZ_CHECK(!path.empty() && path[0] != '/' && path.find("..") == std::string::npos);
    FUZZ_CHECK(path.find_first_of(" \t\n\r\v\f") == std::string::npos);
    FUZZ_CHECK(f.sha256.size() == 64 && IsLowerHex(f.sha256));
  }
  Result<BackupManifest> again = ParseBackupManifest(EncodeBackupManifest(*r), "fuzz/MANIFEST");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->store_id == r->store_id && again->generation == r->generation &&
             again->created == r->created && again->files.size() == r->files.size());
  for (const auto& [path, f] : r->files) {
    auto it = again->files.find(path);
    FUZZ_CHECK(it != again->files.end() && it->second.size == f.size &&
               it->second.sha256 == f.sha256);
  }
  return 0;
}
