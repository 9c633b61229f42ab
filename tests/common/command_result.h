// command_result.h - what tests that run programs (director, troupd, the SDK
// examples) need: the finished program's exit status and output, and small
// whole-file read/write helpers.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace troupe::testing {

// What a finished program printed, and how it ended.
struct CommandResult {
  int code = -1;  // exit status; -1 when killed by a signal
  std::string out;
  std::string err;
};

inline std::ostream& operator<<(std::ostream& os, const CommandResult& r) {
  return os << "exit " << r.code << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

// The whole file, or "" when it cannot be read.
inline std::string ReadFileForTest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `text` split at newlines (a last line without one included).
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Whether `text` has `line` as one of its lines.
inline bool HasLine(const std::string& text, const std::string& line) {
  for (const std::string& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

inline void WriteFileForTest(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

// Runs the program argv[0] (a path) with `argv` and the environment `env`,
// in `work_dir`, its stdout and stderr written to files in `output_dir`, and
// waits for it. `in_child`, when set, runs in the child just before exec
// (a test's single-threaded process: e.g. dropping privileges).
inline CommandResult RunCommandForTest(std::vector<std::string> argv,
                                       std::vector<std::string> env,
                                       const std::string& work_dir,
                                       const std::string& output_dir,
                                       const std::function<void()>& in_child = nullptr) {
  std::vector<char*> c_argv, c_env;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  for (std::string& e : env) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  const std::string out_path = output_dir + "/.stdout", err_path = output_dir + "/.stderr";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0 ||
        ::chdir(work_dir.c_str()) != 0) {
      ::_exit(127);
    }
    if (in_child) in_child();
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  CommandResult result;
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    result.code = WEXITSTATUS(status);
  }
  result.out = ReadFileForTest(out_path);
  result.err = ReadFileForTest(err_path);
  return result;
}

// This process's environment, as RunCommandForTest takes it.
inline std::vector<std::string> CurrentEnvironmentForTest() {
  std::vector<std::string> env;
  for (char** e = ::environ; *e != nullptr; ++e) env.push_back(*e);
  return env;
}

}  // namespace troupe::testing
