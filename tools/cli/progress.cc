#include "tools/cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

namespace keepfs::cli {

Progress::Progress(std::ostream& err, bool tty, bool enabled,
                   std::function<std::string(double)> line)
    : err_(err), tty_(tty), line_(std::move(line)), start_(std::chrono::steady_clock::now()) {
  if (enabled) thread_ = std::thread([this] { Loop(); });
}

Progress::~Progress() { Stop(); }

void Progress::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    if (tty_) err_ << "\r\033[K" << std::flush;
  }
}

void Progress::Loop() {
  auto period = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10000);
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::string line = line_(elapsed);
    if (tty_) {
      struct winsize ws {};
      size_t width = 100;
      if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) width = ws.ws_col - 1;
      if (line.size() > width) line.resize(width);
      err_ << "\r\033[K" << line << std::flush;
    } else {
      err_ << line << "\n" << std::flush;
    }
  }
}

}  // namespace keepfs::cli
