#include "snapshot/pins.h"

#include "snapshot/catalog.h"
#include "store/coding.h"

namespace keepfs::snapshot {

namespace {
constexpr uint8_t kPinVersion = 1;

}  // namespace

Result<Pin> PinFromKey(std::string_view key, std::string_view value) {
  KEEPFS_ASSIGN_OR_RETURN(Pin p, DecodePin(value));
  std::string_view rest;
  if (!SplitUserKey(key, &p.user, &rest)) return Status::Corruption("pin key is damaged");
  size_t zero = rest.find('\0');
  if (zero == std::string_view::npos) return Status::Corruption("pin key is damaged");
  p.snapshot = std::string(rest.substr(0, zero));
  p.path = std::string(rest.substr(zero + 1));
  return p;
}

std::string EncodePin(const Pin& p) {
  std::string out;
  Encoder enc(&out);
  enc.PutU8(kPinVersion);
  enc.PutU8(static_cast<uint8_t>(p.type));
  enc.PutU8(static_cast<uint8_t>(p.kind));
  if (p.kind != 0) enc.PutBytes(p.id.AsBytes());
  enc.PutSignedVarint(p.created_unix);
  enc.PutVarint(p.by_uid);
  return out;
}

Result<Pin> DecodePin(std::string_view bytes) {
  Decoder dec(bytes);
  Pin p;
  uint8_t version = 0, type = 0, kind = 0;
  uint64_t uid = 0;
  auto bad = [] { return Status::Corruption("pin record is damaged"); };
  if (!dec.GetU8(&version) || version != kPinVersion || !dec.GetU8(&type) || type < 1 ||
      type > 7 || !dec.GetU8(&kind)) {
    return bad();
  }
  p.type = static_cast<EntryType>(type);
  p.kind = static_cast<char>(kind);
  bool holds = p.type == EntryType::kFile || p.type == EntryType::kDir;
  char want = p.type == EntryType::kFile ? 'o' : p.type == EntryType::kDir ? 't' : 0;
  if (p.kind != want) return bad();
  if (holds) {
    std::string_view id;
    if (!dec.GetBytes(32, &id)) return bad();
    auto parsed = ObjectId::FromBytes(id);
    if (!parsed.ok()) return bad();
    p.id = *parsed;
  }
  if (!dec.GetSignedVarint(&p.created_unix) || !dec.GetVarint(&uid) || uid > UINT32_MAX ||
      !dec.empty()) {
    return bad();
  }
  p.by_uid = static_cast<uint32_t>(uid);
  return p;
}

Result<std::string> NormalizePinPath(std::string_view path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    i = j + 1;
    if (part.empty()) continue;
    if (part == "." || part == "..") {
      return Status::InvalidArgument("path '" + std::string(path) +
                                     "' has a '.' or '..' part; give the path inside the snapshot");
    }
    if (part.find('\0') != std::string_view::npos) {
      return Status::InvalidArgument("path has a NUL byte");
    }
    if (!out.empty()) out.push_back('/');
    out.append(part);
  }
  return out;
}

Result<std::vector<Pin>> ListPins(Store* store, std::string_view user, std::string_view snapshot) {
  std::vector<Pin> out;
  std::string prefix = PinPrefix(user, snapshot);
  auto it = store->kv().NewIterator(prefix);
  for (; it->Valid(); it->Next()) {
    auto p = PinFromKey(it->key(), it->value());
    if (!p.ok()) return p.status();
    out.push_back(std::move(*p));
  }
  KEEPFS_RETURN_IF_ERROR(it->status());
  return out;
}

Result<std::optional<Pin>> FindPin(Store* store, std::string_view user, std::string_view snapshot,
                                   std::string_view path) {
  std::string key = PinKey(user, snapshot, path);
  std::string value;
  KEEPFS_ASSIGN_OR_RETURN(bool found, store->kv().Get(key, &value));
  if (!found) return std::optional<Pin>();
  KEEPFS_ASSIGN_OR_RETURN(Pin p, PinFromKey(key, value));
  return std::optional<Pin>(std::move(p));
}

Result<std::optional<Pin>> FindCoveringPin(Store* store, std::string_view user,
                                           std::string_view snapshot, std::string_view path) {
  std::string_view p = path;
  while (true) {
    KEEPFS_ASSIGN_OR_RETURN(std::optional<Pin> pin, FindPin(store, user, snapshot, p));
    if (pin || p.empty()) return pin;
    size_t slash = p.rfind('/');
    p = slash == std::string_view::npos ? std::string_view() : p.substr(0, slash);
  }
}

}  // namespace keepfs::snapshot
