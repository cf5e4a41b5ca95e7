#include "snapshot/snapshot_record.h"

#include <algorithm>

#include "store/coding.h"

namespace keepfs::snapshot {

namespace {
constexpr uint8_t kVersion = 1;
// Optional sections after the error list, each led by a tag byte.
// Tags appear in increasing order; every section is optional.
constexpr uint8_t kRootMetaTag = 1;
constexpr uint8_t kNumberTag = 2;
constexpr uint8_t kLinksTag = 3;
constexpr uint8_t kHuskTag = 4;
constexpr uint8_t kDeletedVersion = 1;
}

std::string EncodeSnapshotRecord(const SnapshotRecord& r) {
  std::string out;
  Encoder enc(&out);
  enc.PutU8(kVersion);
  enc.PutSignedVarint(r.time_sec);
  enc.PutVarint(r.seq);
  enc.PutBytes(r.root.AsBytes());
  enc.PutLengthPrefixed(r.source);
  enc.PutLengthPrefixed(r.hostname);
  enc.PutSignedVarint(r.started_ns);
  enc.PutSignedVarint(r.finished_ns);
  const SnapshotStats& s = r.stats;
  for (uint64_t v : {s.files, s.dirs, s.others, s.bytes_logical, s.bytes_read, s.bytes_new,
                     s.bytes_stored, s.files_cached}) {
    enc.PutVarint(v);
  }
  enc.PutVarint(r.errors.size());
  for (const SnapshotError& e : r.errors) {
    enc.PutLengthPrefixed(e.path);
    enc.PutLengthPrefixed(e.message);
  }
  if (r.root_meta) {
    const RootMeta& m = *r.root_meta;
    enc.PutU8(kRootMetaTag);
    enc.PutVarint(m.mode);
    enc.PutVarint(m.uid);
    enc.PutVarint(m.gid);
    enc.PutSignedVarint(m.mtime_sec);
    enc.PutVarint(m.mtime_nsec);
    EncodeXattrs(enc, m.xattrs);
  }
  if (r.number != 0) {
    enc.PutU8(kNumberTag);
    enc.PutVarint(r.number);
  }
  if (!r.links.empty()) {
    enc.PutU8(kLinksTag);
    enc.PutVarint(r.links.size());
    for (const auto& [id, count] : r.links) {
      enc.PutVarint(id);
      enc.PutVarint(count);
    }
  }
  if (r.husk_unix) {
    enc.PutU8(kHuskTag);
    enc.PutSignedVarint(*r.husk_unix);
  }
  return out;
}

Result<SnapshotRecord> DecodeSnapshotRecord(std::string_view bytes) {
  Decoder dec(bytes);
  SnapshotRecord r;
  uint8_t version = 0;
  uint64_t seq = 0;
  std::string_view root, source, host;
  auto bad = [] { return Status::Corruption("snapshot record is damaged"); };
  if (!dec.GetU8(&version) || version != kVersion || !dec.GetSignedVarint(&r.time_sec) ||
      !dec.GetVarint(&seq) || !dec.GetBytes(32, &root) || !dec.GetLengthPrefixed(&source) ||
      !dec.GetLengthPrefixed(&host) || !dec.GetSignedVarint(&r.started_ns) ||
      !dec.GetSignedVarint(&r.finished_ns) || seq > UINT32_MAX) {
    return bad();
  }
  r.seq = static_cast<uint32_t>(seq);
  std::copy(root.begin(), root.end(), reinterpret_cast<char*>(r.root.bytes.data()));
  r.source = std::string(source);
  r.hostname = std::string(host);
  SnapshotStats& s = r.stats;
  for (uint64_t* v : {&s.files, &s.dirs, &s.others, &s.bytes_logical, &s.bytes_read,
                      &s.bytes_new, &s.bytes_stored, &s.files_cached}) {
    if (!dec.GetVarint(v)) return bad();
  }
  uint64_t n = 0;
  if (!dec.GetVarint(&n) || n > dec.remaining()) return bad();
  r.errors.resize(n);
  for (SnapshotError& e : r.errors) {
    std::string_view p, m;
    if (!dec.GetLengthPrefixed(&p) || !dec.GetLengthPrefixed(&m)) return bad();
    e.path = std::string(p);
    e.message = std::string(m);
  }
  uint8_t last_tag = 0;
  while (!dec.empty()) {
    uint8_t tag = 0;
    if (!dec.GetU8(&tag) || tag <= last_tag) return bad();
    last_tag = tag;
    if (tag == kRootMetaTag) {
      RootMeta m;
      uint64_t mode, uid, gid, nsec;
      if (!dec.GetVarint(&mode) || mode > 07777 || !dec.GetVarint(&uid) || uid > UINT32_MAX ||
          !dec.GetVarint(&gid) || gid > UINT32_MAX || !dec.GetSignedVarint(&m.mtime_sec) ||
          !dec.GetVarint(&nsec) || nsec >= 1000000000 || !DecodeXattrs(dec, &m.xattrs)) {
        return bad();
      }
      m.mode = static_cast<uint32_t>(mode);
      m.uid = static_cast<uint32_t>(uid);
      m.gid = static_cast<uint32_t>(gid);
      m.mtime_nsec = static_cast<uint32_t>(nsec);
      r.root_meta = std::move(m);
    } else if (tag == kNumberTag) {
      if (!dec.GetVarint(&r.number) || r.number == 0) return bad();
    } else if (tag == kLinksTag) {
      uint64_t count = 0;
      if (!dec.GetVarint(&count) || count == 0 || count > dec.remaining() / 2) return bad();
      r.links.resize(count);
      for (size_t i = 0; i < count; ++i) {
        auto& [id, names] = r.links[i];
        if (!dec.GetVarint(&id) || id == 0 || !dec.GetVarint(&names) || names == 0 ||
            (i > 0 && r.links[i - 1].first >= id)) {
          return bad();
        }
      }
    } else if (tag == kHuskTag) {
      int64_t t = 0;
      if (!dec.GetSignedVarint(&t)) return bad();
      r.husk_unix = t;
    } else {
      return bad();
    }
  }
  if (!dec.empty()) return bad();
  return r;
}

std::string EncodeDeletedSnapshot(const DeletedSnapshot& d) {
  std::string out;
  Encoder enc(&out);
  enc.PutU8(kDeletedVersion);
  enc.PutSignedVarint(d.deleted_unix);
  enc.PutU8(d.husk_left ? 1 : 0);
  enc.PutLengthPrefixed(EncodeSnapshotRecord(d.record));
  return out;
}

Result<DeletedSnapshot> DecodeDeletedSnapshot(std::string_view bytes) {
  Decoder dec(bytes);
  DeletedSnapshot d;
  uint8_t version = 0, husk = 0;
  std::string_view rec;
  if (!dec.GetU8(&version) || version != kDeletedVersion || !dec.GetSignedVarint(&d.deleted_unix) ||
      !dec.GetU8(&husk) || husk > 1 || !dec.GetLengthPrefixed(&rec) || !dec.empty()) {
    return Status::Corruption("deleted-snapshot record is damaged");
  }
  d.husk_left = husk == 1;
  KEEPFS_ASSIGN_OR_RETURN(d.record, DecodeSnapshotRecord(rec));
  return d;
}

}  // namespace keepfs::snapshot
