// The store's config.toml (store/config.h): ParseStoreConfig, and the
// ParseSize and ParseDuration its values go through.
// The first input byte picks: 0 ParseSize, 1 ParseDuration, else the whole
// config text.
// Checks: errors are InvalidArgument, never an exception (toml++ throws on
// syntax errors; the parser must catch) or a crash; ParseSize agrees with
// exact 128-bit arithmetic and never wraps; a parsed duration formats and
// parses back to itself; a parsed config's values are in their ranges.
#include <cctype>

#include "store/config.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;

namespace {
void CheckInvalid(const Status& s) { FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument); }

void Size(std::string_view text) {
  Result<uint64_t> r = ParseSize(text);
  if (!r.ok()) return CheckInvalid(r.status());
  // The reference: digits (optionally space-surrounded), then a binary unit.
  unsigned __int128 v = 0;
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    v = v * 10 + static_cast<unsigned>(text[i] - '0');
  }
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  char unit = i < text.size() ? static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))) : 'b';
  int shift = unit == 'k' ? 10 : unit == 'm' ? 20 : unit == 'g' ? 30 : unit == 't' ? 40 : 0;
  FUZZ_CHECK(v << shift == *r);
}

void Duration(std::string_view text) {
  Result<int64_t> r = ParseDuration(text);
  if (!r.ok()) return CheckInvalid(r.status());
  FUZZ_CHECK(*r >= 0);
  Result<int64_t> again = ParseDuration(FormatDuration(*r));
  FUZZ_CHECK(again.ok() && *again == *r);
}

void Config(std::string_view text) {
  Result<StoreConfig> r = ParseStoreConfig(text, "fuzz/config.toml");
  if (!r.ok()) return CheckInvalid(r.status());
  FUZZ_CHECK(r->gc.undelete_window_sec >= 0);
  for (const auto& [name, policy] : r->user_retention) (void)policy.Describe();
  (void)r->retention.Describe();
  (void)r->mount.AboveProfile();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest = fuzz::Bytes(data + 1, size - 1);
  switch (data[0]) {
    case 0: Size(rest); break;
    case 1: Duration(rest); break;
    default: Config(rest); break;
  }
  return 0;
}
