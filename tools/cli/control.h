// The control socket: one writer per store. RocksDB lets one process open a
// store, so while a mount (or server) runs, every other keepfs command sends
// its argv to that process over a Unix socket and the same command code runs
// there (docs/mount.md, "One writer"). Output streams back as it is written;
// Ctrl-C in the client cancels the command cleanly.
//
// Two sockets, one protocol:
//   STORE/control.sock   mode 0600: root's (the store directory is 0700)
//   the public socket    optional (ControlOptions), mode 0666, e.g.
//                        /run/keepfs/keepfs.sock: how users reach the server
// On both, the server takes the caller's identity from SO_PEERCRED (and
// SO_PEERGROUPS), never from the client's words: root may run everything;
// any other uid only what tools/cli/caller.h allows, on its own store users'
// data (docs/server.md, "Users on the server").
//
// Wire format (all frames: u8 type, fixed32 length, payload), unchanged by
// the public socket and the per-user checks:
//   client -> server  'R' request: varint argc, argc x lp arg, lp cwd, u8 flags
//                         (1: stdout is a terminal, 2: stderr is a terminal)
//                     'C' cancel (empty)
//   server -> client  'O' stdout bytes, 'E' stderr bytes, 'X' fixed32 exit code (last)
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

namespace keepfs::server {
class ServerState;
}

namespace keepfs::cli {

// Where `keepfs serve` listens for users unless told otherwise, and where a
// client with neither --store nor --socket looks for a server.
inline constexpr char kDefaultPublicSocket[] = "/run/keepfs/keepfs.sock";

struct ControlOptions {
  // Empty: STORE/control.sock only. Else also this absolute path, mode 0666.
  // Its directory is created (0755) if missing and must be writable by root
  // (or the server's user) only. PATH.lock beside it is held while serving:
  // a second server on the same path is refused, and a socket file found
  // under the lock is replaced only if nothing answers on it.
  std::string public_socket;
  // The `keepfs serve` process's state, for the commands that ask for it
  // (status, admit, run-job); null under `keepfs mount`.
  server::ServerState* server = nullptr;
  // Return the heap's free pages to the system after each command
  // (malloc_trim): a backup or gc run here would otherwise leave the process
  // tens of MiB above its serving size ([mount] profile = "small").
  bool trim_heap_after_command = false;
};

class ControlServer {
 public:
  // Serves commands against store (open, owned by the caller) until Stop().
  // Busy when another server holds the public socket; the other errors name
  // the path and what to do.
  static Result<std::unique_ptr<ControlServer>> Start(Store* store,
                                                      const ControlOptions& options = {});
  ~ControlServer();  // Stop()
  // Stops accepting, cancels running commands and waits for them.
  void Stop();
  // The process's writer lock: other commands the process runs itself
  // (the server's scheduled jobs) take it too.
  std::mutex* writer_mu() { return &writer_mu_; }

 private:
  ControlServer() = default;
  Status OpenPublicSocket(const std::string& path);
  void AcceptLoop();
  void StartClient(int fd);
  void Serve(int fd);

  Store* store_ = nullptr;
  server::ServerState* server_ = nullptr;
  bool trim_heap_ = false;
  std::string path_;
  int listen_fd_ = -1;
  std::string public_path_;
  int public_fd_ = -1;
  int public_lock_fd_ = -1;  // flock held on public_path_ + ".lock" while serving
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

// Client side: sends args to the server listening on socket_path
// (STORE/control.sock or a public socket) and relays its output to io until
// it exits; returns its exit code. An error status when nothing answers
// there: NotFound (no socket), PermissionDenied (not open to us), IoError.
Result<int> Forward(const std::string& socket_path, const std::vector<std::string>& args, Io& io);

}  // namespace keepfs::cli
