// Progress: a background thread that shows a live line on a terminal
// (rewritten in place ~5 times a second) or a plain line every 10 seconds
// when stderr is not a terminal. The line comes from a caller's function.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

namespace keepfs::cli {

class Progress {
 public:
  // line(elapsed_seconds) returns the text to show. Does nothing if !enabled.
  Progress(std::ostream& err, bool tty, bool enabled,
           std::function<std::string(double elapsed)> line);
  ~Progress();  // stops and clears the live line
  void Stop();

 private:
  void Loop();
  std::ostream& err_;
  bool tty_;
  std::function<std::string(double)> line_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace keepfs::cli
