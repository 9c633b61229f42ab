// openssl_for_test.h - runs the openssl command-line tool for tests that need
// certificates (a CA and certificates it signs, for mutual TLS).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/common/command_result.h"

extern char** environ;

namespace troupe::testing {

// Runs `openssl args...` in `dir`; "" on success, else what went wrong (the
// command and its output).
inline std::string OpensslForTest(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string log = dir + "/openssl.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "openssl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return "cannot run openssl (install it: scripts/install-deps.sh): " +
           std::string(std::strerror(rc));
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string command;
    for (const std::string& arg : args) command += arg + " ";
    return command + "failed:\n" + ReadFileForTest(log);
  }
  return "";
}

}  // namespace troupe::testing
