// The control socket: one writer per store. RocksDB lets one process open a
// store, so while a mount runs, every other keepfs command sends its argv to
// the mount process over STORE/control.sock and the same command code runs
// there (docs/mount.md, "One writer"). Output streams back as it is written;
// Ctrl-C in the client cancels the command cleanly.
//
// Wire format (all frames: u8 type, fixed32 length, payload):
//   client -> server  'R' request: varint argc, argc x lp arg, lp cwd, u8 flags
//                         (1: stdout is a terminal, 2: stderr is a terminal)
//                     'C' cancel (empty)
//   server -> client  'O' stdout bytes, 'E' stderr bytes, 'X' fixed32 exit code (last)
// Only root may connect (SO_PEERCRED), until per-user requests exist.
//
// Thread safety: ControlServer runs its own threads; Forward is for the
// client's main thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/status.h"
#include "store/store.h"
#include "tools/cli/cli.h"

namespace keepfs::cli {

class ControlServer {
 public:
  // Serves commands against store (open, owned by the caller) until Stop().
  static Result<std::unique_ptr<ControlServer>> Start(Store* store);
  ~ControlServer();  // Stop()
  // Stops accepting, cancels running commands and waits for them.
  void Stop();

 private:
  ControlServer() = default;
  void AcceptLoop();
  void Serve(int fd);

  Store* store_ = nullptr;
  std::string path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() wakes the accept loop
  std::atomic<bool> stopping_{false};
  std::mutex writer_mu_;  // one writing command at a time
  std::thread acceptor_;
  struct Client {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex clients_mu_;
  std::vector<Client> clients_;  // GUARDED_BY(clients_mu_); finished ones are joined on the next accept
};

// Client side: sends args to the mount process serving store_dir and relays
// its output to io until it exits. nullopt if no mount process answers.
std::optional<int> Forward(const std::string& store_dir, const std::vector<std::string>& args,
                           Io& io);

}  // namespace keepfs::cli
