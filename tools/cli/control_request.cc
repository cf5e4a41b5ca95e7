#include "tools/cli/control_request.h"

#include <climits>

#include "store/coding.h"

namespace keepfs::cli {

std::string EncodeControlRequest(const ControlRequest& r) {
  std::string out;
  Encoder enc(&out);
  enc.PutVarint(r.args.size());
  for (const auto& a : r.args) enc.PutLengthPrefixed(a);
  enc.PutLengthPrefixed(r.cwd);
  enc.PutU8((r.out_is_tty ? 1 : 0) | (r.err_is_tty ? 2 : 0));
  return out;
}

Result<ControlRequest> DecodeControlRequest(std::string_view payload) {
  Decoder dec(payload);
  ControlRequest r;
  uint64_t argc = 0;
  auto bad = [] { return Status::InvalidArgument("malformed control request"); };
  if (!dec.GetVarint(&argc) || argc > kMaxControlArgs) return bad();
  for (uint64_t i = 0; i < argc; ++i) {
    std::string_view a;
    if (!dec.GetLengthPrefixed(&a, kMaxControlArg)) return bad();
    r.args.emplace_back(a);
  }
  std::string_view cwd;
  uint8_t flags = 0;
  if (!dec.GetLengthPrefixed(&cwd, PATH_MAX) || !dec.GetU8(&flags) || !dec.empty()) return bad();
  r.cwd = std::string(cwd);
  r.out_is_tty = (flags & 1) != 0;
  r.err_is_tty = (flags & 2) != 0;
  return r;
}

}  // namespace keepfs::cli
