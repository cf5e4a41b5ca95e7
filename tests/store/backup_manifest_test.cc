#include "store/backup_manifest.h"

#include <gtest/gtest.h>

#include <string>

namespace keepfs {
namespace {

std::string Manifest(const std::string& file_line) {
  return "keepfs-store-backup 1\nstore 3f9a0c\ngeneration 3\ncreated 1790000000\n" + file_line +
         "\nend\n";
}

TEST(BackupManifestTest, EncodedManifestParsesBack) {
  BackupManifest m{.store_id = "3f9a0c", .generation = 3, .created = 1790000000};
  m.files["meta.3/CURRENT"] = {16, std::string(64, 'a')};
  auto r = ParseBackupManifest(EncodeBackupManifest(m), "MANIFEST");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files.at("meta.3/CURRENT").sha256, std::string(64, 'a'));
}

// Found by tests/fuzz/backup_manifest_fuzzer: a digest of 64 characters that
// are not all lowercase hex was taken as a file's SHA-256.
TEST(BackupManifestTest, DigestMustBeLowercaseHex) {
  for (std::string digest : {std::string(31, 'a') + "+" + std::string(32, 'a'),
                             std::string(64, 'A'), std::string(64, 'g')}) {
    auto r = ParseBackupManifest(Manifest("file config.3.toml 300 " + digest), "MANIFEST");
    ASSERT_FALSE(r.ok()) << digest;
    EXPECT_TRUE(r.status().IsCorruption());
  }
}

}  // namespace
}  // namespace keepfs
