#include "tools/server/server_log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace keepfs::server {

namespace {
// sd-daemon(3)'s convention: "<N>" before each stderr line sets its priority.
class JournalSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    int prio = 6;  // info
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: prio = 7; break;
      case spdlog::level::info: prio = 6; break;
      case spdlog::level::warn: prio = 4; break;
      case spdlog::level::err: prio = 3; break;
      case spdlog::level::critical: prio = 2; break;
      default: break;
    }
    std::fprintf(stderr, "<%d>%.*s\n", prio, static_cast<int>(msg.payload.size()), msg.payload.data());
  }
  void flush_() override { std::fflush(stderr); }
};
}  // namespace

Status SetUpServerLog(const LogConfig& config) {
  spdlog::level::level_enum level = spdlog::level::from_str(config.level);
  if (level == spdlog::level::off && config.level != "off") {
    return Status::InvalidArgument("[log] level " + config.level + " is not a level; use trace, "
                                   "debug, info, warn or error");
  }
  std::shared_ptr<spdlog::logger> logger;
  spdlog::drop("keepfs-serve");  // a previous set-up in this process (tests)
  try {
    if (!config.file.empty()) {
      logger = spdlog::rotating_logger_mt("keepfs-serve", config.file, config.max_bytes,
                                          config.max_files);
      logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
    } else if (std::getenv("JOURNAL_STREAM")) {
      logger = std::make_shared<spdlog::logger>("keepfs-serve", std::make_shared<JournalSink>());
    } else {
      logger = spdlog::stderr_logger_mt("keepfs-serve");
      logger->set_pattern("%Y-%m-%d %H:%M:%S keepfs: %l: %v");
    }
  } catch (const spdlog::spdlog_ex& e) {
    return Status::InvalidArgument("[log] file " + config.file + ": " + e.what() +
                                   "; fix the path or its permissions");
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);  // an admin tailing the log sees events as they happen
  spdlog::set_default_logger(logger);
  return Status::OK();
}

}  // namespace keepfs::server
