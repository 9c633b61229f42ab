// completion_test.cc - `director completion bash` (director/commands/
// bash_completion.cc): the script parses, and bash, given the words of a
// command line as COMP_WORDS, completes them from director's command tree.
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/command_result.h"
#include "tests/common/temp_dir.h"

namespace {

using Result = troupe::testing::CommandResult;
using troupe::testing::ReadFileForTest;
using troupe::testing::WriteFileForTest;

class CompletionTest : public ::testing::Test {
 protected:
  // Runs `argv` (argv[0] a path) with its output in files under temp_.
  Result Run(std::vector<std::string> argv) {
    return troupe::testing::RunCommandForTest(std::move(argv),
                                              troupe::testing::CurrentEnvironmentForTest(),
                                              temp_.path(), temp_.path());
  }

  // The script, written to a file in temp_; "" (and a failure) when
  // director does not print one.
  std::string Script() {
    Result r = Run({TROUPE_DIRECTOR_PATH, "completion", "bash"});
    EXPECT_EQ(r.code, 0) << r;
    EXPECT_NE(r.out, "");
    const std::string path = temp_.path() + "/director.bash";
    WriteFileForTest(path, r.out);
    return path;
  }

  // What bash offers for `line` (words separated by spaces; a trailing space
  // starts a new, empty word), one candidate per element.
  std::vector<std::string> Complete(const std::string& line) {
    const std::string script = Script();
    const std::string program = R"(source "$1" || exit 3
read -r -a COMP_WORDS <<< "$2"
if [[ $2 == *' ' ]]; then COMP_WORDS+=(''); fi
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_director || exit 4
printf '%s\n' "${COMPREPLY[@]}"
)";
    Result r = Run({"/bin/bash", "-c", program, "bash", script, line});
    EXPECT_EQ(r.code, 0) << line << "\n" << r;
    std::vector<std::string> words;
    std::stringstream in(r.out);
    for (std::string word; std::getline(in, word);) {
      if (!word.empty()) words.push_back(word);
    }
    return words;
  }

  static bool Has(const std::vector<std::string>& words, const std::string& word) {
    for (const std::string& w : words) {
      if (w == word) return true;
    }
    return false;
  }

  troupe::testing::TempDir temp_{"completion_test"};
};

TEST_F(CompletionTest, ScriptParsesAndRegistersTheFunction) {
  const std::string script = Script();
  Result syntax = Run({"/bin/bash", "-n", script});
  EXPECT_EQ(syntax.code, 0) << syntax;
  Result registered =
      Run({"/bin/bash", "-c", "source \"$1\" && complete -p director", "bash", script});
  EXPECT_EQ(registered.code, 0) << registered;
  EXPECT_NE(registered.out.find("-F _director director"), std::string::npos) << registered;
}

TEST_F(CompletionTest, CompletesCommandsByPrefix) {
  EXPECT_EQ(Complete("director loa"), std::vector<std::string>{"load"});
  EXPECT_EQ(Complete("director lo"), (std::vector<std::string>{"load", "logs"}));
  const std::vector<std::string> all = Complete("director ");
  for (const char* command : {"keygen", "gensrc", "config", "start", "status", "completion"}) {
    EXPECT_TRUE(Has(all, command)) << command;
  }
  EXPECT_FALSE(Has(all, "check"));  // a subcommand of config only
}

TEST_F(CompletionTest, CompletesSubcommandsAndOptionsOfTheCommandTyped) {
  EXPECT_EQ(Complete("director config "), std::vector<std::string>{"check"});
  EXPECT_EQ(Complete("director convention in"), std::vector<std::string>{"invite"});
  const std::vector<std::string> load = Complete("director load --");
  EXPECT_TRUE(Has(load, "--by-path"));
  EXPECT_TRUE(Has(load, "--help"));
  EXPECT_TRUE(Has(load, "--dir"));  // global options follow a command too
  EXPECT_TRUE(Has(load, "--json"));
  EXPECT_FALSE(Has(load, "--foreground"));  // start's
}

TEST_F(CompletionTest, SkipsOptionValuesAndLeavesThemToFileNames) {
  // `config` after --dir's value is still the command.
  EXPECT_EQ(Complete("director --dir config conf"), std::vector<std::string>{"config"});
  EXPECT_EQ(Complete("director --dir /tmp/t config "), std::vector<std::string>{"check"});
  // An option's value: nothing from the tree (bash then completes file names).
  EXPECT_EQ(Complete("director gensrc --manifest "), std::vector<std::string>{});
  // A flag takes no value: what follows is a command again.
  EXPECT_EQ(Complete("director --json sta"), (std::vector<std::string>{"start", "status"}));
}

TEST_F(CompletionTest, OtherShellsAreAUsageError) {
  Result r = Run({TROUPE_DIRECTOR_PATH, "completion", "zsh"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_NE(r.err.find("bash"), std::string::npos) << r;
  Result missing = Run({TROUPE_DIRECTOR_PATH, "completion"});
  EXPECT_EQ(missing.code, 2) << missing;
}

}  // namespace
