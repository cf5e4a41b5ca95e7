// The soak's plumbing: running commands, reading their JSON, the config.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "tools/bench/soak_impl.h"

extern char** environ;

namespace keepfs::bench {

std::string Tail(const std::string& out) {
  return out.size() > 600 ? "..." + out.substr(out.size() - 600) : out;
}

uint64_t CountOf(const std::string& text, const std::string& needle) {
  uint64_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

int RunCommand(const std::vector<std::string>& args, std::string* out) {
  out->clear();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    *out = std::string("cannot start ") + argv[0] + ": " + std::strerror(rc);
    return -1;
  }
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) != 0;) {
    if (n > 0)
      out->append(buf, static_cast<size_t>(n));
    else if (errno != EINTR)
      break;
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint64_t JsonNumber(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return 0;
  return std::strtoull(json.c_str() + at + key.size() + 3, nullptr, 10);
}

Status SetConfig(const std::string& path, std::map<std::string, std::string> sections) {
  std::ifstream in(path);
  std::string text, section;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("[", 0) == 0) {
      section = line.substr(1, line.find(']') - 1);
      text += line + "\n";
      if (auto it = sections.find(section); it != sections.end()) {
        text += it->second;
        sections.erase(it);
      } else {
        section.clear();
      }
      continue;
    }
    bool key = !line.empty() && line[0] != '#';
    if (!(key && !section.empty())) text += line + "\n";
  }
  for (const auto& [name, keys] : sections) text += "\n[" + name + "]\n" + keys;
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  return out ? Status::OK() : Status::Internal("cannot write " + path);
}

}  // namespace keepfs::bench
