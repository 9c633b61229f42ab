// command_result.h - what tests that run programs (director, troupd, the SDK
// examples) need: the finished program's exit status and output, and small
// whole-file read/write helpers.
#pragma once

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>

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

inline void WriteFileForTest(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

}  // namespace troupe::testing
