// The control socket's request (tools/cli/control_request.h): bytes any
// local user can send to the public socket of `keepfs serve`.
// Checks: errors are InvalidArgument; a decoded request respects the limits
// (argc, each argument's length, the cwd's length); it encodes to bytes that
// decode to the same request. The allocation bound (no more than about the
// payload's size) is enforced by libFuzzer's -malloc_limit_mb.
#include <climits>

#include "tools/cli/control_request.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;
using namespace keepfs::cli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<ControlRequest> r = DecodeControlRequest(fuzz::Bytes(data, size));
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(r->args.size() <= kMaxControlArgs && r->cwd.size() <= PATH_MAX);
  size_t total = r->cwd.size();
  for (const std::string& a : r->args) {
    FUZZ_CHECK(a.size() <= kMaxControlArg);
    total += a.size();
  }
  FUZZ_CHECK(total < size);
  std::string again = EncodeControlRequest(*r);
  FUZZ_CHECK(again.size() <= size);  // the input may carry extra flag bits, never less
  Result<ControlRequest> r2 = DecodeControlRequest(again);
  FUZZ_CHECK(r2.ok() && *r2 == *r);
  return 0;
}
