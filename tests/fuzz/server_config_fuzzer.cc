// The server's keepfs.toml (tools/server/server_config.h, ParseServerConfig).
// Checks: errors are InvalidArgument naming the file, never an exception or a
// crash; a parsed config keeps the documented ranges (priorities, minutes,
// hours, weekdays) and its schedules describe themselves in a syntax that
// parses back to the same schedule.
#include "tools/server/server_config.h"
#include "tests/fuzz/fuzz_util.h"

using namespace keepfs;
using namespace keepfs::server;

namespace {
void CheckSchedule(const Schedule& s) {
  FUZZ_CHECK(s.minute >= 0 && s.minute <= 59 && s.hour >= 0 && s.hour <= 23);
  FUZZ_CHECK(s.weekday >= 0 && s.weekday <= 6);
  Result<Schedule> again = Schedule::Parse(s.Describe());
  FUZZ_CHECK(again.ok() && *again == s);
}

void CheckPriority(const Priority& p) {
  FUZZ_CHECK(p.nice >= 0 && p.nice <= 19 && p.ionice_level >= 0 && p.ionice_level <= 7);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<ServerConfig> r = ParseServerConfig(fuzz::Bytes(data, size), "fuzz/keepfs.toml");
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == StatusCode::kInvalidArgument);
    FUZZ_CHECK(r.status().message().find("fuzz/keepfs.toml") != std::string::npos);
    return 0;
  }
  for (const Schedule* s : {&r->schedule.prune, &r->schedule.gc, &r->schedule.scrub,
                            &r->schedule.store_backup}) {
    CheckSchedule(*s);
  }
  CheckPriority(r->ingest.priority);
  CheckPriority(r->schedule.priority);
  FUZZ_CHECK(r->schedule.scrub_percent >= 0 && r->schedule.scrub_percent <= 100);
  FUZZ_CHECK(r->ingest.AdmitSlots() >= 1);
  return 0;
}
