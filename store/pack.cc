#include "store/pack.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>

#include "store/blob_check.h"
#include "store/coding.h"

namespace keepfs {

std::string PackRelPath(uint64_t pack_id) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "packs/%02x/%016llx.pack", static_cast<unsigned>(pack_id & 0xff),
                static_cast<unsigned long long>(pack_id));
  return buf;
}

std::vector<uint64_t> ListPackFiles(const std::string& store_dir) {
  std::vector<uint64_t> ids;
  for (int sub = 0; sub < 256; ++sub) {
    char subdir[16];
    std::snprintf(subdir, sizeof subdir, "/packs/%02x", sub);
    DIR* d = ::opendir((store_dir + subdir).c_str());
    if (!d) continue;
    while (dirent* de = ::readdir(d)) {
      std::string_view name = de->d_name;
      if (name.size() != 21 || !name.ends_with(".pack")) continue;
      ids.push_back(std::strtoull(std::string(name.substr(0, 16)).c_str(), nullptr, 16));
    }
    ::closedir(d);
  }
  return ids;
}

PackWriter::PackWriter(uint64_t pack_id, std::unique_ptr<PackUpload> upload)
    : pack_id_(pack_id), upload_(std::move(upload)) {}

PackWriter::~PackWriter() = default;

Result<std::unique_ptr<PackWriter>> PackWriter::Create(uint64_t pack_id,
                                                       std::unique_ptr<PackUpload> upload) {
  std::string header(kPackMagic, 8);
  Encoder enc(&header);
  enc.PutFixed32(kPackVersion);
  enc.PutFixed32(0);
  KEEPFS_RETURN_IF_ERROR(upload->Append(header));
  std::unique_ptr<PackWriter> w(new PackWriter(pack_id, std::move(upload)));
  w->size_ = header.size();
  return w;
}

Result<PackEntry> PackWriter::Add(const ObjectId& id, Codec codec, std::string_view stored,
                                  uint32_t raw_len) {
  KEEPFS_RETURN_IF_ERROR(upload_->Append(stored));
  PackEntry e{id, size_, static_cast<uint32_t>(stored.size()), raw_len, codec,
              BlobCheck(id, stored)};
  size_ += stored.size();
  entries_.push_back(e);
  return e;
}

void AppendPackTrailerEntry(const PackEntry& e, std::string* out) {
  Encoder enc(out);
  enc.PutBytes(e.id.AsBytes());
  enc.PutFixed64(e.offset);
  enc.PutFixed32(e.stored_len);
  enc.PutFixed32(e.raw_len);
  enc.PutU8(static_cast<uint8_t>(e.codec));
  enc.PutFixed64(e.check);
}

Status PackWriter::Seal() {
  std::string tail;
  for (const PackEntry& e : entries_) AppendPackTrailerEntry(e, &tail);
  Encoder enc(&tail);
  ObjectId trailer_sum = Sha256::Of(tail);
  enc.PutFixed64(size_);
  enc.PutFixed32(static_cast<uint32_t>(entries_.size()));
  enc.PutFixed32(0);
  enc.PutBytes(trailer_sum.AsBytes());
  enc.PutBytes(std::string_view(kPackEndMagic, 8));
  KEEPFS_RETURN_IF_ERROR(upload_->Append(tail));
  size_ += tail.size();
  return upload_->Seal();
}

namespace {
// Reads len bytes at offset of the pack into buf.
using PackReader = std::function<Status(char* buf, size_t len, uint64_t offset)>;

// The one parser of a pack's header, footer and trailer, over a file or bytes.
Result<std::vector<PackEntry>> ParseIndex(const PackReader& read, uint64_t file_size,
                                          const std::string& what) {
  if (file_size < kPackHeaderSize + kPackFooterSize) return Status::Corruption(what + ": too short");
  char header[kPackHeaderSize];
  KEEPFS_RETURN_IF_ERROR(read(header, sizeof header, 0));
  if (std::memcmp(header, kPackMagic, 8) != 0) return Status::Corruption(what + ": bad magic");
  {
    Decoder hdec(std::string_view(header + 8, 4));
    uint32_t version = 0;
    hdec.GetFixed32(&version);
    if (version != kPackVersion) {
      return Status::NotSupported(what + ": pack format version " + std::to_string(version) +
                                  " (this keepfs reads version " + std::to_string(kPackVersion) +
                                  "); use a newer keepfs");
    }
  }
  std::string footer(kPackFooterSize, '\0');
  KEEPFS_RETURN_IF_ERROR(read(footer.data(), footer.size(), file_size - kPackFooterSize));
  Decoder dec(footer);
  uint64_t trailer_offset = 0;
  uint32_t count = 0, reserved = 0;
  std::string_view sum, end_magic;
  dec.GetFixed64(&trailer_offset);
  dec.GetFixed32(&count);
  dec.GetFixed32(&reserved);
  dec.GetBytes(32, &sum);
  dec.GetBytes(8, &end_magic);
  if (end_magic != std::string_view(kPackEndMagic, 8)) {
    return Status::Corruption(what + ": bad end magic (pack not sealed)");
  }
  uint64_t trailer_len = uint64_t{count} * kPackTrailerEntrySize;
  // Compared without sums that could wrap: a damaged offset must not make a
  // huge trailer_len look as if it fits and size an allocation.
  if (trailer_offset < kPackHeaderSize || trailer_offset > file_size - kPackFooterSize ||
      trailer_len != file_size - kPackFooterSize - trailer_offset) {
    return Status::Corruption(what + ": trailer does not fit the file");
  }
  std::string trailer(trailer_len, '\0');
  KEEPFS_RETURN_IF_ERROR(read(trailer.data(), trailer.size(), trailer_offset));
  if (Sha256::Of(trailer).AsBytes() != sum) return Status::Corruption(what + ": trailer checksum");
  std::vector<PackEntry> entries(count);
  Decoder t(trailer);
  for (PackEntry& e : entries) {
    std::string_view id;
    uint8_t codec = 0;
    t.GetBytes(32, &id);
    std::memcpy(e.id.bytes.data(), id.data(), 32);
    t.GetFixed64(&e.offset);
    t.GetFixed32(&e.stored_len);
    t.GetFixed32(&e.raw_len);
    t.GetU8(&codec);
    t.GetFixed64(&e.check);
    e.codec = static_cast<Codec>(codec);
    if (e.offset < kPackHeaderSize || e.offset > trailer_offset ||
        e.stored_len > trailer_offset - e.offset || codec > 1) {
      return Status::Corruption(what + ": entry " + e.id.ShortHex() + " outside the blob area");
    }
  }
  return entries;
}

}  // namespace

Result<std::vector<PackEntry>> ReadPackIndex(const PackStore& packs, uint64_t pack_id,
                                             uint64_t file_size) {
  return ParseIndex(
      [&](char* buf, size_t len, uint64_t offset) {
        return packs.Read(pack_id, offset, len, buf);
      },
      file_size, packs.Describe(pack_id));
}

Result<std::vector<PackEntry>> ParsePackIndex(std::string_view pack, const std::string& what) {
  return ParseIndex(
      [&](char* buf, size_t len, uint64_t offset) {
        if (offset > pack.size() || len > pack.size() - offset) {
          return Status::Corruption(what + ": read past the end");
        }
        std::memcpy(buf, pack.data() + offset, len);
        return Status::OK();
      },
      pack.size(), what);
}

}  // namespace keepfs
