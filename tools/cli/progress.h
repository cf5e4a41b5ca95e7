// Progress: a background thread that shows a live line on a terminal
// (rewritten in place ~5 times a second) or a plain line every 10 seconds
// when stderr is not a terminal. The line comes from a caller's function.
#pragma once

#include <chrono>
#include <cstdint>
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

// The live line of a job that goes through named phases: "WHAT: PHASE DONE[/TOTAL] (N s)",
// from the last Set. Set may be called from any thread.
class PhaseLine {
 public:
  PhaseLine(std::ostream& err, bool tty, bool enabled, std::string what)
      : what_(std::move(what)), display_(err, tty, enabled, [this](double t) { return Line(t); }) {}
  void Set(std::string phase, uint64_t done, uint64_t total = 0) {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = std::move(phase);
    done_ = done;
    total_ = total;
  }
  void Stop() { display_.Stop(); }

 private:
  std::string Line(double t) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string line = what_ + ": " + phase_ + " " + std::to_string(done_);
    if (total_) line += "/" + std::to_string(total_);
    return line + " (" + std::to_string(static_cast<int>(t)) + " s)";
  }

  std::string what_;
  std::mutex mu_;
  std::string phase_ = "starting";  // GUARDED_BY(mu_)
  uint64_t done_ = 0, total_ = 0;   // GUARDED_BY(mu_)
  Progress display_;  // last: its thread calls Line until it stops
};

}  // namespace keepfs::cli
