// The control socket's request: what a client asks the process that holds
// the store to run (tools/cli/control.h has the framing around it).
//
// Payload of an 'R' frame:
//   varint argc (<= kMaxControlArgs), argc x lp arg (each <= kMaxControlArg bytes),
//   lp cwd (<= PATH_MAX bytes), u8 flags (1: stdout is a terminal,
//   2: stderr is a terminal; other bits are ignored)
//
// The bytes come from any local user on the public socket, so decoding is a
// total function: it never reads past the payload and allocates at most
// about the payload's size, whatever its length fields say.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace keepfs::cli {

inline constexpr size_t kMaxControlArgs = 4096;
inline constexpr size_t kMaxControlArg = 1u << 20;

struct ControlRequest {
  std::vector<std::string> args;  // argv, args[0] = "keepfs"
  std::string cwd;                // the client's working directory
  bool out_is_tty = false;
  bool err_is_tty = false;
  bool operator==(const ControlRequest&) const = default;
};

std::string EncodeControlRequest(const ControlRequest& r);
// InvalidArgument on a truncated payload, a length past its limit, or
// trailing bytes.
Result<ControlRequest> DecodeControlRequest(std::string_view payload);

}  // namespace keepfs::cli
