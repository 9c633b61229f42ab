// director_daemon_test.cc - director's daemon commands against a real troupd:
// the built programs as separate processes, in temporary TROUPE_DIRs, with
// the bundles plugins/ builds. Every test checks exit codes and output.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/root_access.h"
#include "tests/common/status_matchers.h"
#include "tests/e2e/daemon_harness.h"
#include "troupe/json.h"

namespace troupe::testing {
namespace {

namespace fs = std::filesystem;

class DirectorDaemonTest : public ::testing::Test {
 protected:
  CommandResult Director(const std::vector<std::string>& args) { return harness_.Director(args); }

  // The "not running" line for this fixture's socket, as director prints it.
  std::string NotRunningLine() const {
    return "director: troupd is not running: nothing answers on " + harness_.socket() +
           " (start it with `director start`)\n";
  }

  // Copies a built bundle into TROUPE_DIR/bundles.
  void PlaceBundle(const std::string& path) {
    fs::copy_file(path, harness_.bundles_dir() + "/" + fs::path(path).filename().string(),
                  fs::copy_options::overwrite_existing);
  }

  // `director ask TO --type T --data D`, expecting success; returns stdout.
  std::string Ask(const std::string& to, const std::string& type, const std::string& data) {
    CommandResult r = Director({"ask", to, "--type", type, "--data", data});
    EXPECT_EQ(r.code, 0) << r;
    return r.out;
  }

  // hello answers an ask: the daemon still serves after what came before.
  void ExpectHelloAnswers(const std::string& text) {
    CommandResult r = Director({"ask", "hello", "--type", "text", "--data", text});
    EXPECT_EQ(r.code, 0) << r;
    EXPECT_CONTAINS(r.out, "\n" + text + "\n");
  }

  // The node part of hello's address (troupe://NODE/ID), from `director list`.
  std::string HelloNode() {
    CommandResult list = Director({"list", "hello"});
    EXPECT_EQ(list.code, 0) << list;
    std::smatch m;
    if (!std::regex_search(list.out, m, std::regex("troupe://(\\S+)/\\d+  hello\\.Echo"))) {
      ADD_FAILURE() << "no address for hello.Echo in: " << list;
      return "";
    }
    return m[1].str();
  }

  // Runs `argv` like harness_.Run, but waits at most `bound` (then kills it:
  // code -1), so that a program that unexpectedly keeps running (a troupd
  // that did start) cannot hang the test.
  CommandResult RunBounded(const std::vector<std::string>& argv, std::chrono::seconds bound) {
    const std::string out = harness_.root() + "/.bounded.out";
    const std::string err = harness_.root() + "/.bounded.err";
    fs::remove(out);
    fs::remove(err);
    CommandResult result;
    const pid_t pid = SpawnForTest(argv, out, err);
    if (pid <= 0) {
      ADD_FAILURE() << "cannot spawn " << argv[0];
      return result;
    }
    const bool exited = WaitForProcessExit(pid, bound);
    if (!exited) {
      ADD_FAILURE() << argv[0] << " still runs after " << bound.count() << " s; killing it";
      ::kill(pid, SIGKILL);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) result.code = WEXITSTATUS(status);
    result.out = ReadFileForTest(out);
    result.err = ReadFileForTest(err);
    return result;
  }

  DaemonHarness harness_;
};

TEST_F(DirectorDaemonTest, LoadedHelloEchoesAnAsk) {
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult load = Director({"load", TROUPE_HELLO_BUNDLE});
  ASSERT_EQ(load.code, 0) << load;
  EXPECT_CONTAINS(load.out, "loaded hello 1.0 (hash ");
  EXPECT_CONTAINS(load.out, std::string("from ") + TROUPE_HELLO_BUNDLE);

  CommandResult ask = Director({"ask", "hello", "--type", "text", "--data", "hi"});
  ASSERT_EQ(ask.code, 0) << ask;
  EXPECT_TRUE(std::regex_search(ask.out, std::regex("^reply from troupe://\\S+ \\(type text, 2 "
                                                    "bytes\\)\nhi\n$")))
      << ask;
  EXPECT_EQ(ask.err, "");

  CommandResult raw = Director({"ask", "hello", "--type", "text", "--data", "hi", "--raw"});
  ASSERT_EQ(raw.code, 0) << raw;
  EXPECT_EQ(raw.out, "hi");

  CommandResult tell = Director({"tell", "hello", "--type", "text", "--data", "fire and forget"});
  ASSERT_EQ(tell.code, 0) << tell;
  EXPECT_EQ(tell.out, "sent text (15 bytes) to hello\n");
}

TEST_F(DirectorDaemonTest, LoadingTheSameBundleTwiceSaysAlreadyLoaded) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  CommandResult again = Director({"load", TROUPE_HELLO_BUNDLE});
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_CONTAINS(again.out, "already loaded: hello 1.0 (hash ");
  EXPECT_CONTAINS(again.out, "active; nothing changed");
}

TEST_F(DirectorDaemonTest, ListShowsTheLoadedBundleActiveWithItsActor) {
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult empty = Director({"list"});
  ASSERT_EQ(empty.code, 0) << empty;
  EXPECT_EQ(empty.out, "no bundles loaded in troupd (" + harness_.socket() + ")\n");

  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  CommandResult list = Director({"list"});
  ASSERT_EQ(list.code, 0) << list;
  EXPECT_TRUE(std::regex_search(list.out, std::regex("^hello:\n  1\\.0  \\[ACTIVE\\]  hash "
                                                     "[0-9a-f]{64}  ")))
      << list;
  EXPECT_TRUE(std::regex_search(
      list.out, std::regex("\n      troupe://\\S+  hello\\.Echo  name hello  since \\d{4}-")))
      << list;

  CommandResult other = Director({"list", "nosuchgroup"});
  ASSERT_EQ(other.code, 0) << other;
  EXPECT_EQ(other.out, "nosuchgroup: not loaded\n");

  CommandResult json = Director({"list", "--json"});
  ASSERT_EQ(json.code, 0) << json;
  EXPECT_TRUE(json::IsValid(json.out)) << json;
  EXPECT_CONTAINS(json.out, "{\"ok\":true,\"bundles\":[{");
  EXPECT_CONTAINS(json.out, "\"group\":\"hello\"");
  EXPECT_CONTAINS(json.out, "\"state\":\"BUNDLE_STATE_ACTIVE\"");
  EXPECT_CONTAINS(json.out, "\"class_name\":\"hello.Echo\"");
}

TEST_F(DirectorDaemonTest, StatusPrintsTheDaemonsTextAndValidJson) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  CommandResult text = Director({"status"});
  ASSERT_EQ(text.code, 0) << text;
  EXPECT_CONTAINS(text.out, "troupd ");
  EXPECT_CONTAINS(text.out, "listening on unix:" + harness_.socket());
  EXPECT_CONTAINS(text.out, "hello");

  CommandResult json = Director({"status", "--json"});
  ASSERT_EQ(json.code, 0) << json;
  EXPECT_TRUE(json::IsValid(json.out)) << json;
  EXPECT_EQ(json.out.rfind("{\"ok\":true,", 0), 0u) << json;
  EXPECT_CONTAINS(json.out, "\"system\":{");
  EXPECT_CONTAINS(json.out, "\"listeners\":[\"unix:" + harness_.socket() + "\"]");
  // The convention part: alone, without a convention key.
  EXPECT_CONTAINS(text.out, "\nconvention: none (this daemon is alone)\n");
  EXPECT_CONTAINS(json.out, "\"convention\":{\"role\":\"alone\"");

  CommandResult actor = Director({"status", "--actor", "hello"});
  ASSERT_EQ(actor.code, 0) << actor;
  EXPECT_CONTAINS(actor.out, "hello.Echo");
  EXPECT_EQ(actor.out.find("convention:"), std::string::npos) << actor;

  CommandResult missing = Director({"status", "--actor", "nobody"});
  EXPECT_EQ(missing.code, 3) << missing;
  EXPECT_CONTAINS(missing.err, "director: status of nobody: ");
}

TEST_F(DirectorDaemonTest, UnloadOfSomethingNotLoadedFailsWithNotFound) {
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult r = Director({"unload", "nosuchgroup"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_CONTAINS(r.err, "director: cannot unload nosuchgroup: ");
  EXPECT_CONTAINS(r.err, " (see `director list`)\n");
  EXPECT_EQ(r.out, "");

  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  CommandResult unload = Director({"unload", "hello"});
  ASSERT_EQ(unload.code, 0) << unload;
  EXPECT_CONTAINS(unload.out, "unloaded hello 1.0 (hash ");
  CommandResult ask = Director({"ask", "hello", "--data", "hi"});
  EXPECT_EQ(ask.code, 3) << ask;
  EXPECT_CONTAINS(ask.err, "director: ask hello: ");
}

TEST_F(DirectorDaemonTest, TamperedBundleIsRejectedAndTheDaemonKeepsAnswering) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  std::string bytes = ReadFileForTest(TROUPE_HELLO_BUNDLE);
  ASSERT_GT(bytes.size(), 1000u);
  bytes[bytes.size() / 2] ^= 0x5a;  // inside the library's compressed data
  const std::string tampered = harness_.root() + "/hello-tampered.troupe";
  WriteFileForTest(tampered, bytes);

  CommandResult r = Director({"load", tampered});
  EXPECT_EQ(r.code, 4) << r;
  EXPECT_CONTAINS(r.err, "director: troupd rejected " + tampered + ": ");
  EXPECT_EQ(r.out, "");

  EXPECT_CONTAINS(Ask("hello", "text", "still here"), "\nstill here\n");
  CommandResult list = Director({"list"});
  EXPECT_EQ(list.code, 0) << list;
  EXPECT_CONTAINS(list.out, "1.0  [ACTIVE]");
}

TEST_F(DirectorDaemonTest, WrongFlagIsAUsageError) {
  CommandResult r = Director({"load", "--no-such-flag", TROUPE_HELLO_BUNDLE});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_CONTAINS(r.err, "--no-such-flag");
  CommandResult missing = Director({"ask"});
  EXPECT_EQ(missing.code, 2) << missing;
  EXPECT_CONTAINS(missing.err, "TO is required");
}

TEST_F(DirectorDaemonTest, WrongFlagWithARunningDaemonIsAUsageErrorAndTheDaemonKeepsServing) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);

  CommandResult r = Director({"load", "--no-such-flag", TROUPE_HELLO_BUNDLE});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_CONTAINS(r.err, "--no-such-flag");
  EXPECT_EQ(r.out, "");
  CommandResult ask_flag = Director({"ask", "hello", "--no-such-flag", "--data", "x"});
  EXPECT_EQ(ask_flag.code, 2) << ask_flag;
  EXPECT_CONTAINS(ask_flag.err, "--no-such-flag");
  CommandResult missing = Director({"ask"});
  EXPECT_EQ(missing.code, 2) << missing;
  EXPECT_CONTAINS(missing.err, "TO is required");
  CommandResult unknown = Director({"frobnicate"});
  EXPECT_EQ(unknown.code, 2) << unknown;
  EXPECT_CONTAINS(unknown.err, "director: unknown command or extra argument");

  ExpectHelloAnswers("still serving");
  CommandResult list = Director({"list"});
  EXPECT_EQ(list.code, 0) << list;
  EXPECT_CONTAINS(list.out, "hello:\n  1.0  [ACTIVE]");
}

TEST_F(DirectorDaemonTest, TroupdRefusesAWrongFlagAndAnInvalidConfigWithoutDisturbingARunningOne) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);

  // A directory of its own, so that a troupd that did start could not take
  // the running one's socket.
  const std::string other = harness_.root() + "/other";
  fs::create_directories(other + "/config");
  CommandResult bogus =
      RunBounded({TROUPD_PATH, "--dir", other, "--bogus"}, std::chrono::seconds(30));
  EXPECT_EQ(bogus.code, 2) << bogus;
  EXPECT_CONTAINS(bogus.err, "--bogus");
  EXPECT_FALSE(fs::exists(other + "/run/troupd.sock"));

  WriteFileForTest(other + "/config/restart_limit", "abc\n");
  CommandResult invalid = RunBounded({TROUPD_PATH, "--dir", other}, std::chrono::seconds(30));
  EXPECT_EQ(invalid.code, 1) << invalid;
  EXPECT_CONTAINS(invalid.err, "troupd cannot start: ");
  EXPECT_CONTAINS(invalid.err, other + "/config/restart_limit: restart_limit: ");
  EXPECT_FALSE(fs::exists(other + "/run/troupd.sock"));

  ExpectHelloAnswers("still serving");
}

TEST_F(DirectorDaemonTest, EveryDaemonCommandSaysInOneLineThatNothingRuns) {
  const std::vector<std::vector<std::string>> commands = {
      {"status"},
      {"list"},
      {"shutdown"},
      {"refresh"},
      {"unload", "hello"},
      {"load", TROUPE_HELLO_BUNDLE},
      {"role", "echo"},
      {"capabilities"},
      {"convention"},
      {"convention", "invite", "127.0.0.1:7002"},
      {"tell", "hello", "--data", "x"},
      {"ask", "hello", "--data", "x"},
      {"create", "examples", "examples.Echo"},
  };
  for (const std::vector<std::string>& command : commands) {
    CommandResult r = Director(command);
    EXPECT_EQ(r.code, 8) << command[0] << ": " << r;
    EXPECT_EQ(r.err, NotRunningLine()) << command[0];
    EXPECT_EQ(r.out, "") << command[0];
  }
  // Nothing was started behind our back.
  EXPECT_FALSE(fs::exists(harness_.socket()));

  CommandResult json = Director({"status", "--json"});
  EXPECT_EQ(json.code, 8) << json;
  EXPECT_TRUE(json::IsValid(json.out)) << json;
  EXPECT_CONTAINS(json.out, "\"exit_code\":8");

  CommandResult elsewhere = Director({"status", "--socket", harness_.root() + "/other.sock"});
  EXPECT_EQ(elsewhere.code, 8) << elsewhere;
  EXPECT_CONTAINS(elsewhere.err, "nothing answers on " + harness_.root() + "/other.sock");
}

TEST_F(DirectorDaemonTest, StartThenShutdownRoundTrip) {
  CommandResult start = Director({"start"});
  ASSERT_EQ(start.code, 0) << start;
  std::smatch m;
  const std::string log = harness_.dir() + "/run/troupd.log";
  ASSERT_TRUE(std::regex_match(start.out, m,
                               std::regex("troupd started \\(pid (\\d+)\\), socket (.*), log "
                                          "(.*)\n")))
      << start;
  const pid_t pid = std::stoi(m[1].str());
  harness_.Adopt(pid);
  EXPECT_EQ(m[2].str(), harness_.socket());
  EXPECT_EQ(m[3].str(), log);
  struct stat st;
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((harness_.dir() + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  CommandResult status = Director({"status"});
  ASSERT_EQ(status.code, 0) << status;
  EXPECT_CONTAINS(status.out, "listening on unix:" + harness_.socket());

  CommandResult again = Director({"start"});
  EXPECT_EQ(again.code, 0) << again;
  EXPECT_EQ(again.out, "troupd is already running on " + harness_.socket() + " (pid " +
                           std::to_string(pid) + ")\n");

  CommandResult shutdown = Director({"shutdown"});
  ASSERT_EQ(shutdown.code, 0) << shutdown;
  EXPECT_EQ(shutdown.out, "troupd stopped (pid " + std::to_string(pid) + ")\n");
  EXPECT_TRUE(WaitForProcessExit(pid, std::chrono::milliseconds(0)));
  EXPECT_FALSE(fs::exists(harness_.socket()));
  CommandResult after = Director({"status"});
  EXPECT_EQ(after.code, 8) << after;
  EXPECT_EQ(after.err, NotRunningLine());
  EXPECT_CONTAINS(ReadFileForTest(log), "stopped");
}

TEST_F(DirectorDaemonTest, StartReportsADaemonThatCannotStart) {
  WriteFileForTest(harness_.dir() + "/config/worker_threads", "lots\n");
  CommandResult start = Director({"start"});
  EXPECT_EQ(start.code, 1) << start;
  EXPECT_CONTAINS(start.err, "director: troupd exited with status 1 before it answered on " +
                                 harness_.socket());
  EXPECT_CONTAINS(start.err, "worker_threads");  // the log's last lines say why
  EXPECT_EQ(start.out, "");
  EXPECT_FALSE(fs::exists(harness_.socket()));
}

TEST_F(DirectorDaemonTest, RestartedDaemonRestoresTheLoadedBundle) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  ASSERT_TRUE(harness_.StopDaemon());
  EXPECT_EQ(Director({"list"}).code, 8);

  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult list = Director({"list"});
  ASSERT_EQ(list.code, 0) << list;
  EXPECT_CONTAINS(list.out, "hello:\n  1.0  [ACTIVE]");
  EXPECT_CONTAINS(Ask("hello", "text", "again"), "\nagain\n");
}

TEST_F(DirectorDaemonTest, KilledDaemonLeavesAStaleSocketAndRestoresOnStart) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  harness_.KillDaemon();
  ASSERT_TRUE(fs::exists(harness_.socket()));  // left behind by the crash
  CommandResult stale = Director({"ask", "hello", "--data", "x"});
  EXPECT_EQ(stale.code, 8) << stale;
  EXPECT_EQ(stale.err, NotRunningLine());

  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult list = Director({"list"});
  ASSERT_EQ(list.code, 0) << list;
  EXPECT_CONTAINS(list.out, "hello:\n  1.0  [ACTIVE]");
  EXPECT_CONTAINS(Ask("hello", "text", "back"), "\nback\n");
}

TEST_F(DirectorDaemonTest, NewestLoadAnswersAndANamedVersionLoadsExactlyThatOne) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_VERSIONED_1_0}).code, 0);
  CommandResult two = Director({"load", TROUPE_VERSIONED_2_0});
  ASSERT_EQ(two.code, 0) << two;
  EXPECT_CONTAINS(two.out, "loaded versioned 2.0");
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n2.0\n");
  CommandResult list = Director({"list", "versioned"});
  ASSERT_EQ(list.code, 0) << list;
  EXPECT_TRUE(std::regex_search(list.out, std::regex("versioned:\n  1\\.0  \\[inactive\\][^\n]*\n"
                                                     "(      [^\n]*\n)*  2\\.0  \\[ACTIVE\\]")))
      << list;

  // By name from TROUPE_DIR/bundles: GROUP-VERSION is that version, not the
  // newest (Thespian's `load` always took the newest).
  PlaceBundle(TROUPE_VERSIONED_1_0);
  PlaceBundle(TROUPE_VERSIONED_2_0);
  CommandResult unload = Director({"unload", "versioned"});
  ASSERT_EQ(unload.code, 0) << unload;
  EXPECT_CONTAINS(unload.out, "unloaded versioned 1.0");
  EXPECT_CONTAINS(unload.out, "unloaded versioned 2.0");
  CommandResult one = Director({"load", "versioned-1.0"});
  ASSERT_EQ(one.code, 0) << one;
  EXPECT_CONTAINS(one.out, "loaded versioned 1.0 (hash ");
  EXPECT_CONTAINS(one.out, "from " + harness_.bundles_dir() + "/versioned-1.0.troupe");
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n1.0\n");

  CommandResult newest = Director({"load", "versioned"});
  ASSERT_EQ(newest.code, 0) << newest;
  EXPECT_CONTAINS(newest.out, "loaded versioned 2.0 (hash ");
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n2.0\n");

  CommandResult absent = Director({"load", "versioned-3.0"});
  EXPECT_EQ(absent.code, 3) << absent;
  EXPECT_CONTAINS(absent.err, "director: no version 3.0 of versioned in " + harness_.bundles_dir() +
                                  "; there: 2.0, 1.0");
}

TEST_F(DirectorDaemonTest, RefreshLoadsTheNewestOfEveryGroup) {
  PlaceBundle(TROUPE_VERSIONED_1_0);
  PlaceBundle(TROUPE_VERSIONED_2_0);
  PlaceBundle(TROUPE_HELLO_BUNDLE);
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", "versioned-1.0"}).code, 0);
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n1.0\n");

  CommandResult refresh = Director({"refresh"});
  ASSERT_EQ(refresh.code, 0) << refresh;
  EXPECT_EQ(refresh.out,
            "hello: loaded 1.0 (was not loaded)\n"
            "versioned: loaded 2.0 (was 1.0)\n");
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n2.0\n");
  EXPECT_CONTAINS(Ask("hello", "text", "hi"), "\nhi\n");

  CommandResult again = Director({"refresh"});
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_EQ(again.out,
            "hello: 1.0 is active, nothing to do\n"
            "versioned: 2.0 is active, nothing to do\n");
}

TEST_F(DirectorDaemonTest, AskWithoutReplyTimesOut) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_VERSIONED_1_0}).code, 0);
  // versioned.Version ignores every type but "version".
  CommandResult r =
      Director({"ask", "versioned", "--type", "unknown", "--data", "x", "--timeout", "0.5"});
  EXPECT_EQ(r.code, 9) << r;
  EXPECT_EQ(r.err, "director: no reply from versioned within 500ms\n");
  EXPECT_EQ(r.out, "");

  // The ask that timed out leaves nothing behind: the same actor, and the
  // daemon, answer the next one.
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n1.0\n");
  CommandResult again =
      Director({"ask", "versioned", "--type", "unknown", "--data", "x", "--timeout", "0.5"});
  EXPECT_EQ(again.code, 9) << again;
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n1.0\n");
  CommandResult status = Director({"status"});
  EXPECT_EQ(status.code, 0) << status;
}

TEST_F(DirectorDaemonTest, UnknownAndMalformedAddressesFailClearlyAndTheDaemonKeepsServing) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  const std::string node = HelloNode();
  ASSERT_FALSE(node.empty());

  // An id this node never handed out: NotFound (3), for ask and for tell.
  const std::string unknown = "troupe://" + node + "/999999";
  CommandResult ask = Director({"ask", unknown, "--type", "text", "--data", "x"});
  EXPECT_EQ(ask.code, 3) << ask;
  EXPECT_EQ(ask.err.rfind("director: ask " + unknown + ": ", 0), 0u) << ask;
  EXPECT_CONTAINS(ask.err, "no actor at " + unknown);
  EXPECT_EQ(ask.out, "");
  CommandResult tell = Director({"tell", unknown, "--type", "text", "--data", "x"});
  EXPECT_EQ(tell.code, 3) << tell;
  EXPECT_EQ(tell.err.rfind("director: tell " + unknown + ": ", 0), 0u) << tell;
  EXPECT_CONTAINS(tell.err, "no actor at " + unknown);
  EXPECT_EQ(tell.out, "");

  // No actor id at all: InvalidArgument (5).
  CommandResult bad_ask = Director({"ask", "troupe://", "--type", "text", "--data", "x"});
  EXPECT_EQ(bad_ask.code, 5) << bad_ask;
  EXPECT_EQ(bad_ask.err, "director: ask troupe://: address 'troupe://' has no actor id\n");
  EXPECT_EQ(bad_ask.out, "");
  CommandResult bad_tell = Director({"tell", "troupe://", "--type", "text", "--data", "x"});
  EXPECT_EQ(bad_tell.code, 5) << bad_tell;
  EXPECT_EQ(bad_tell.err, "director: tell troupe://: address 'troupe://' has no actor id\n");
  EXPECT_EQ(bad_tell.out, "");

  CommandResult bad_id = Director({"ask", "troupe://" + node + "/x1", "--data", "x"});
  EXPECT_EQ(bad_id.code, 5) << bad_id;
  EXPECT_CONTAINS(bad_id.err, "has a bad actor id");

  ExpectHelloAnswers("still serving");
  CommandResult sent = Director({"tell", "hello", "--type", "text", "--data", "x"});
  EXPECT_EQ(sent.code, 0) << sent;
  EXPECT_EQ(sent.out, "sent text (1 bytes) to hello\n");
}

TEST_F(DirectorDaemonTest, LoadByPathNeedsAnAbsolutePathAndLoadsWithOne) {
  ASSERT_TRUE(harness_.StartDaemon());
  const std::string absolute = fs::absolute(TROUPE_HELLO_BUNDLE).lexically_normal().string();
  const std::string relative = fs::relative(absolute).string();
  ASSERT_FALSE(relative.empty());
  ASSERT_NE(relative.front(), '/');

  // director refuses a relative FILE: troupd would open it in its own
  // working directory.
  CommandResult r = Director({"load", "--by-path", relative});
  EXPECT_EQ(r.code, 5) << r;
  EXPECT_EQ(r.err,
            "director: --by-path needs an absolute path: troupd reads the file itself and does "
            "not share director's working directory (give " +
                absolute + ", or load without --by-path to send the bytes)\n");
  EXPECT_EQ(r.out, "");

  // troupd refuses one too, when a client sends it.
  auto channel =
      grpc::CreateChannel("unix:" + harness_.socket(), grpc::InsecureChannelCredentials());
  auto admin = troupe::v1::Admin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  troupe::v1::LoadRequest request;
  request.set_path(relative);
  troupe::v1::LoadResponse response;
  grpc::Status status = admin->Load(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_CONTAINS(status.error_message(), "must be absolute");

  CommandResult list = Director({"list"});
  EXPECT_EQ(list.code, 0) << list;
  EXPECT_EQ(list.out, "no bundles loaded in troupd (" + harness_.socket() + ")\n");

  CommandResult load = Director({"load", "--by-path", absolute});
  ASSERT_EQ(load.code, 0) << load;
  EXPECT_CONTAINS(load.out, "loaded hello 1.0 (hash ");
  EXPECT_CONTAINS(load.out, "from " + absolute + "\n");
  ExpectHelloAnswers("by path");
}

TEST_F(DirectorDaemonTest, AskThatMakesTheActorFailExitsWithItsError) {
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult load = Director({"load", TROUPE_EXAMPLES_BUNDLE});
  ASSERT_EQ(load.code, 0) << load;
  CommandResult role = Director({"role", "counter"});
  ASSERT_EQ(role.code, 0) << role;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(role.out, m,
                                std::regex("^(troupe://\\S+)  examples\\.Counter  role counter")))
      << role;
  const std::string counter = m[1].str();

  CommandResult poisoned = Director({"ask", counter, "--type", "increment", "--data", "many"});
  EXPECT_EQ(poisoned.code, 10) << poisoned;
  EXPECT_CONTAINS(poisoned.err, "failed on the increment message: ");
  EXPECT_CONTAINS(poisoned.err, "is not a non-negative integer");

  ASSERT_EQ(Director({"tell", counter, "--type", "increment", "--data", "2"}).code, 0);
  EXPECT_CONTAINS(Ask(counter, "get", ""), "(type count, 1 bytes)\n2\n");

  CommandResult no_role = Director({"role", "nosuchrole"});
  EXPECT_EQ(no_role.code, 3) << no_role;
  EXPECT_CONTAINS(no_role.err, "director: role nosuchrole: ");

  // What the counter logged: one line per increment that worked.
  ASSERT_EQ(Director({"tell", counter, "--type", "increment", "--data", "3"}).code, 0);
  EXPECT_CONTAINS(Ask(counter, "get", ""), "\n5\n");
  CommandResult logs = Director({"logs", counter});
  ASSERT_EQ(logs.code, 0) << logs;
  EXPECT_TRUE(std::regex_search(
      logs.out, std::regex("  info  count is now 2\n[^\n]*  info  count is now 5\n$")))
      << logs;
  CommandResult last = Director({"logs", counter, "--lines", "1"});
  ASSERT_EQ(last.code, 0) << last;
  EXPECT_EQ(std::count(last.out.begin(), last.out.end(), '\n'), 1) << last;
  CommandResult none = Director({"logs", "nosuchname"});
  EXPECT_EQ(none.code, 3) << none;
  EXPECT_CONTAINS(none.err, "director: logs of nosuchname: ");
}

TEST_F(DirectorDaemonTest, CreateMakesAnActorThatAnswersAndSaysWhyWhenItCannot) {
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_EXAMPLES_BUNDLE}).code, 0);

  CommandResult created = Director({"create", "examples", "examples.Echo"});
  ASSERT_EQ(created.code, 0) << created;
  std::smatch m;
  ASSERT_TRUE(std::regex_match(created.out, m,
                               std::regex("created examples\\.Echo at (troupe://\\S+/\\d+)\n")))
      << created;
  EXPECT_EQ(created.err, "");
  EXPECT_CONTAINS(Ask(m[1].str(), "text", "from create"), "\nfrom create\n");

  CommandResult named = Director({"create", "examples", "examples.Counter", "--name", "tally"});
  ASSERT_EQ(named.code, 0) << named;
  EXPECT_CONTAINS(Ask("tally", "get", ""), "\n0\n");
  CommandResult again = Director({"create", "examples", "examples.Counter", "--name", "tally"});
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_EQ(again.out, named.out) << "the live actor of that name is returned";

  CommandResult json = Director({"create", "examples", "examples.Echo", "--json",
                                 "--requirements", "[]"});
  ASSERT_EQ(json.code, 0) << json;
  EXPECT_TRUE(json::IsValid(json.out)) << json;
  EXPECT_TRUE(std::regex_search(json.out, std::regex("^\\{\"ok\":true,\"address\":\"troupe://")))
      << json;
  EXPECT_CONTAINS(json.out, "\"class_name\":\"examples.Echo\"");

  // Requirements this daemon does not meet: refused (4), naming them.
  CommandResult unfit = Director({"create", "examples", "examples.Echo", "--requirements",
                                  R"([{"capability": "gpu", "equals": true}])"});
  EXPECT_EQ(unfit.code, 4) << unfit;
  EXPECT_EQ(unfit.out, "");
  EXPECT_CONTAINS(unfit.err, "director: create examples examples.Echo: ");
  EXPECT_CONTAINS(unfit.err, "cannot run on this node");
  EXPECT_CONTAINS(unfit.err, "gpu equals true");

  // Unknown group or class: 3.
  CommandResult no_group = Director({"create", "nosuchgroup", "nosuchgroup.X"});
  EXPECT_EQ(no_group.code, 3) << no_group;
  EXPECT_CONTAINS(no_group.err, "no bundle of group 'nosuchgroup' is loaded");
  CommandResult no_class = Director({"create", "examples", "examples.Nope"});
  EXPECT_EQ(no_class.code, 3) << no_class;
  EXPECT_CONTAINS(no_class.err, "has no actor class 'examples.Nope'");

  // Requirements that are not JSON are refused before any call (5); JSON of
  // the wrong shape by the client library, also before any call (5).
  CommandResult not_json =
      Director({"create", "examples", "examples.Echo", "--requirements", "[{gpu"});
  EXPECT_EQ(not_json.code, 5) << not_json;
  EXPECT_CONTAINS(not_json.err, "director: --requirements is not JSON: [{gpu");
  CommandResult object =
      Director({"create", "examples", "examples.Echo", "--requirements", R"({"gpu": true})"});
  EXPECT_EQ(object.code, 5) << object;
  EXPECT_CONTAINS(object.err, "director: create examples examples.Echo: ");
  EXPECT_CONTAINS(object.err, "not a JSON array of requirements as in a manifest");

  CommandResult usage = Director({"create", "examples"});
  EXPECT_EQ(usage.code, 2) << usage;
  EXPECT_EQ(Director({"status"}).code, 0) << "the daemon keeps serving";
}

TEST_F(DirectorDaemonTest, CapabilitiesCanBeSetReadAndRemoved) {
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult set = Director({"capabilities", "zone", "\"eu\""});
  ASSERT_EQ(set.code, 0) << set;
  EXPECT_EQ(set.out, "set capability zone = \"eu\"\n");
  CommandResult one = Director({"capabilities", "zone"});
  ASSERT_EQ(one.code, 0) << one;
  EXPECT_EQ(one.out, "\"eu\"\n");
  CommandResult all = Director({"capabilities"});
  ASSERT_EQ(all.code, 0) << all;
  EXPECT_TRUE(std::regex_search(all.out, std::regex("\nzone +=  ?\"eu\"\n"))) << all;
  CommandResult json = Director({"capabilities", "--json"});
  ASSERT_EQ(json.code, 0) << json;
  EXPECT_TRUE(json::IsValid(json.out)) << json;
  EXPECT_CONTAINS(json.out, "zone");

  CommandResult bad = Director({"capabilities", "zone", "eu"});
  EXPECT_EQ(bad.code, 5) << bad;
  EXPECT_CONTAINS(bad.err, "is not JSON");

  CommandResult unset = Director({"capabilities", "--unset", "zone"});
  ASSERT_EQ(unset.code, 0) << unset;
  EXPECT_EQ(unset.out, "removed capability zone\n");
  CommandResult gone = Director({"capabilities", "zone"});
  EXPECT_EQ(gone.code, 3) << gone;
  EXPECT_CONTAINS(gone.err, "troupd has no capability 'zone'");
}

TEST_F(DirectorDaemonTest, ConventionSaysAloneWithoutAConventionKey) {
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult text = Director({"convention"});
  ASSERT_EQ(text.code, 0) << text;
  EXPECT_EQ(text.out, "convention: none (this daemon is alone)\n");
  CommandResult json = Director({"convention", "--json"});
  ASSERT_EQ(json.code, 0) << json;
  EXPECT_TRUE(json::IsValid(json.out)) << json;
  EXPECT_EQ(json.out.rfind("{\"ok\":true,", 0), 0u) << json;
  EXPECT_CONTAINS(json.out, "\"role\":\"alone\"");
}

TEST_F(DirectorDaemonTest, InviteWithoutAConventionIsRefusedWithTheReason) {
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult invite = Director({"convention", "invite", "127.0.0.1:7002"});
  EXPECT_EQ(invite.code, 4) << invite;
  EXPECT_EQ(invite.out, "") << invite;
  EXPECT_CONTAINS(invite.err,
                  "director: invite 127.0.0.1:7002: this daemon takes part in no convention (it "
                  "needs listen_tcp with a fixed port and keys/convention.key)\n");
  CommandResult json = Director({"convention", "invite", "127.0.0.1:7002", "--json"});
  EXPECT_EQ(json.code, 4) << json;
  EXPECT_TRUE(json::IsValid(json.out)) << json;
  EXPECT_CONTAINS(json.out, "\"exit_code\":4");
  // The daemon keeps serving.
  CommandResult status = Director({"status"});
  EXPECT_EQ(status.code, 0) << status;
}

TEST_F(DirectorDaemonTest, InviteOfAMalformedAddressIsAUsageErrorBeforeAnyCall) {
  // No daemon runs: the address is checked first (2, not 8).
  for (const char* address :
       {"nonsense", "127.0.0.1", "127.0.0.1:", ":7002", "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:70x", "::1:7002", "host name:7002"}) {
    const std::string bad = address;
    CommandResult r = Director({"convention", "invite", bad});
    EXPECT_EQ(r.code, 2) << bad << ": " << r;
    EXPECT_CONTAINS(r.err, "'" + bad + "' is not a daemon address: expected HOST:PORT");
  }
  CommandResult missing = Director({"convention", "invite"});
  EXPECT_EQ(missing.code, 2) << missing;
  CommandResult ipv6 = Director({"convention", "invite", "[::1]:7002"});
  EXPECT_EQ(ipv6.code, 8) << ipv6;  // well-formed: only then is the daemon asked
}

TEST_F(DirectorDaemonTest, CapabilitiesComeFromFilesAndTroupdsOwnAreReadOnly) {
  {
    std::ofstream(harness_.dir() + "/capabilities.json") << R"({"zone": "eu", "gpu": false})";
    fs::create_directories(harness_.dir() + "/capabilities");
    std::ofstream(harness_.dir() + "/capabilities/gpu") << "true\n";
    std::ofstream(harness_.dir() + "/capabilities/rack") << "r12\n";
  }
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult all = Director({"capabilities"});
  ASSERT_EQ(all.code, 0) << all;
  EXPECT_TRUE(std::regex_search(
      all.out, std::regex(R"((^|\n)troupe\.cores += [1-9][0-9]*  \(read-only\)\n)")))
      << all;
  EXPECT_TRUE(std::regex_search(
      all.out, std::regex(R"(\ntroupe\.abi_version += "1\.2"  \(read-only\)\n)")))
      << all;
  EXPECT_CONTAINS(all.out, "troupe.memory_bytes");
  EXPECT_TRUE(std::regex_search(all.out, std::regex("(^|\n)gpu += true\n"))) << all;
  EXPECT_TRUE(std::regex_search(all.out, std::regex("\nrack += \"r12\"\n"))) << all;
  EXPECT_TRUE(std::regex_search(all.out, std::regex("\nzone += \"eu\"\n"))) << all;

  CommandResult refused = Director({"capabilities", "troupe.cores", "1"});
  EXPECT_NE(refused.code, 0) << refused;
  EXPECT_EQ(refused.out, "");
  EXPECT_CONTAINS(refused.err, "capability 'troupe.cores' is read-only");
  CommandResult unset = Director({"capabilities", "--unset", "troupe.cores"});
  EXPECT_NE(unset.code, 0) << unset;
  CommandResult still = Director({"capabilities", "troupe.cores"});
  ASSERT_EQ(still.code, 0) << still;
  EXPECT_NE(still.out, "1\n");
}

TEST_F(DirectorDaemonTest, ABadCapabilitiesFileStopsTheStartAndConfigCheckSaysWhy) {
  std::ofstream(harness_.dir() + "/capabilities.json") << "{\"zone\": eu}\n";
  CommandResult check = Director({"config", "check"});
  EXPECT_EQ(check.code, 7) << check;
  EXPECT_CONTAINS(check.err, harness_.dir() + "/capabilities.json: not valid JSON: at line 1, "
                                              "column 10: expected a JSON value");
  CommandResult start =
      RunBounded({TROUPD_PATH, "--dir", harness_.dir()}, std::chrono::seconds(60));
  EXPECT_EQ(start.code, 1) << start;
  EXPECT_CONTAINS(start.err, harness_.dir() + "/capabilities.json: not valid JSON");
  EXPECT_FALSE(fs::exists(harness_.socket()));
}

TEST_F(DirectorDaemonTest, GensrcKeepLimitSparesBundlesLoadedInTheDaemon) {
  // versioned-1.0 loaded; building 2.0 and 3.0 with keep limit 1 would delete
  // 1.0 and 2.0, but 1.0 is loaded and stays.
  PlaceBundle(TROUPE_VERSIONED_1_0);
  PlaceBundle(TROUPE_VERSIONED_2_0);
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", "versioned-1.0"}).code, 0);
  WriteFileForTest(harness_.dir() + "/config/keep_limit", "1\n");
  CommandResult gensrc =
      Director({"gensrc", "--manifest", TROUPE_VERSIONED_MANIFEST, "--lib",
                TROUPE_VERSIONED_LIBRARY, "--version", "3.0", "--key", TROUPE_BUILD_SECRET_KEY});
  ASSERT_EQ(gensrc.code, 0) << gensrc;
  const std::string one = harness_.bundles_dir() + "/versioned-1.0.troupe";
  const std::string two = harness_.bundles_dir() + "/versioned-2.0.troupe";
  EXPECT_CONTAINS(gensrc.out, "deleted old bundle " + two + " (keep limit 1)\n");
  EXPECT_CONTAINS(gensrc.out, "kept old bundle " + one + ": loaded in troupd (keep limit 1)\n");
  EXPECT_TRUE(fs::exists(one));
  EXPECT_FALSE(fs::exists(two));

  // Without a daemon the limit applies as before.
  ASSERT_TRUE(harness_.StopDaemon());
  CommandResult offline =
      Director({"gensrc", "--manifest", TROUPE_VERSIONED_MANIFEST, "--lib",
                TROUPE_VERSIONED_LIBRARY, "--version", "4.0", "--key", TROUPE_BUILD_SECRET_KEY});
  ASSERT_EQ(offline.code, 0) << offline;
  EXPECT_CONTAINS(offline.out, "deleted old bundle " + one + " (keep limit 1)\n");
  EXPECT_FALSE(fs::exists(one));
}

// Where each version runs, as list and status show it: inline, or in an
// isolated host process chosen by the manifest, by the signer's mark or by
// isolation_default; isolated versions answer like inline ones.
TEST_F(DirectorDaemonTest, ListAndStatusSayWhereVersionsRunAndIsolatedOnesServe) {
  // troupd as root runs its hosts as nobody.
  if (::geteuid() == 0 && !troupe::testing::OthersCanSearchRoot()) {
    GTEST_SKIP() << troupe::testing::kRootNotSearchable;
  }
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  CommandResult list = Director({"list", "hello"});
  ASSERT_EQ(list.code, 0) << list;
  EXPECT_TRUE(std::regex_search(list.out, std::regex("^hello:\n  1\\.0  \\[ACTIVE\\]  hash "
                                                     "[0-9a-f]{64}  key [0-9a-f]{16}  isolation "
                                                     "inline  loaded ")))
      << list;
  EXPECT_EQ(list.out.find("host pid"), std::string::npos) << "no host for inline code: " << list;
  CommandResult status = Director({"status"});
  ASSERT_EQ(status.code, 0) << status;
  EXPECT_TRUE(std::regex_search(
      status.out, std::regex("\n  hello +1\\.0 +active +[0-9a-f]{16}  1 actors  inline "
                             "\\(isolation_default is inline\\)\n")))
      << status;
  CommandResult json = Director({"--json", "list"});
  EXPECT_CONTAINS(json.out, "\"isolation\":\"inline\"");
  EXPECT_CONTAINS(json.out, "\"isolation_reason\":\"isolation_default is inline\"");

  // A manifest that says process: its actor runs in a host process and
  // answers as the inline one would.
  std::string manifest = ReadFileForTest(TROUPE_VERSIONED_MANIFEST);
  ASSERT_NE(manifest.find('{'), std::string::npos);
  const std::string process_manifest = harness_.root() + "/process.json";
  WriteFileForTest(process_manifest,
                   std::string(manifest).insert(manifest.find('{') + 1,
                                                "\n  \"isolation\": \"process\","));
  CommandResult built = Director({"gensrc", "--manifest", process_manifest, "--lib",
                                  TROUPE_VERSIONED_LIBRARY, "--version", "3.0", "--key",
                                  TROUPE_BUILD_SECRET_KEY});
  ASSERT_EQ(built.code, 0) << built;
  CommandResult isolated = Director({"load", "versioned-3.0"});
  ASSERT_EQ(isolated.code, 0) << isolated;
  // (The library answers the version it was built as: 1.0.)
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n1.0\n");
  CommandResult listed = Director({"list", "versioned"});
  EXPECT_TRUE(std::regex_search(
      listed.out, std::regex("isolation process  loaded [^\n]*\n      host pid [1-9][0-9]*  "
                             "rss [0-9]+ MiB  restarts 0\n")))
      << listed;
  CommandResult isolated_status = Director({"status"});
  EXPECT_TRUE(std::regex_search(
      isolated_status.out,
      std::regex("\n  versioned +3\\.0 +active +[0-9a-f]{16}  1 actors  process "
                 "\\(the manifest says process\\)\n")))
      << isolated_status;
  ExpectHelloAnswers("beside an isolated version");

  // The signer trusted --isolated: whatever the manifest says.
  CommandResult marked = Director({"trust", "--isolated", TROUPE_BUILD_PUBLIC_KEY});
  ASSERT_EQ(marked.code, 0) << marked;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(marked.out, m, std::regex("trusted key ([0-9a-f]{16})")));
  const std::string key_id = m[1].str();
  PlaceBundle(TROUPE_VERSIONED_1_0);
  CommandResult by_signer = Director({"load", "versioned-1.0"});
  ASSERT_EQ(by_signer.code, 0) << by_signer;
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n1.0\n");
  EXPECT_CONTAINS(Director({"--json", "list", "versioned"}).out,
                  "\"isolation_reason\":\"signer " + key_id + " is trusted --isolated\"");
  ASSERT_EQ(Director({"trust", "--inline", TROUPE_BUILD_PUBLIC_KEY}).code, 0);

  // isolation_default process, after a restart: the versions that say
  // nothing come back isolated; one whose manifest says inline stays inline.
  ASSERT_TRUE(harness_.StopDaemon());
  WriteFileForTest(harness_.dir() + "/config/isolation_default", "process\n");
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult restored = Director({"list", "hello"});
  ASSERT_EQ(restored.code, 0) << restored;
  EXPECT_CONTAINS(restored.out, "isolation process");
  ExpectHelloAnswers("isolated after the restart");
  const std::string inline_manifest = harness_.root() + "/inline.json";
  WriteFileForTest(inline_manifest, std::string(manifest).insert(manifest.find('{') + 1,
                                                                 "\n  \"isolation\": \"inline\","));
  ASSERT_EQ(Director({"gensrc", "--manifest", inline_manifest, "--lib", TROUPE_VERSIONED_LIBRARY,
                      "--version", "4.0", "--key", TROUPE_BUILD_SECRET_KEY})
                .code,
            0);
  CommandResult said_inline = Director({"load", "versioned-4.0"});
  ASSERT_EQ(said_inline.code, 0) << said_inline;
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n1.0\n");
  CommandResult after = Director({"status"});
  EXPECT_TRUE(std::regex_search(
      after.out, std::regex("\n  versioned +4\\.0 +active +[0-9a-f]{16}  1 actors  inline "
                            "\\(the manifest says inline\\)\n")))
      << after;
}

// A host process killed from outside: the daemon and the other bundles keep
// serving, status says how the host ended, and the manifest actor comes back
// in a new host (a restart within the restart intensity).
TEST_F(DirectorDaemonTest, AKilledIsolatedHostIsReplacedAndTheDaemonKeepsServing) {
  // troupd as root runs its hosts as nobody.
  if (::geteuid() == 0 && !troupe::testing::OthersCanSearchRoot()) {
    GTEST_SKIP() << troupe::testing::kRootNotSearchable;
  }
  WriteFileForTest(harness_.dir() + "/config/isolation_default", "process\n");
  ASSERT_TRUE(harness_.StartDaemon());
  PlaceBundle(TROUPE_VERSIONED_1_0);
  CommandResult loaded = Director({"load", "versioned-1.0"});
  ASSERT_EQ(loaded.code, 0) << loaded << harness_.DaemonLog();
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n1.0\n");
  std::smatch m;
  const std::string before = Director({"list", "versioned"}).out;
  ASSERT_TRUE(std::regex_search(before, m, std::regex("host pid ([0-9]+)"))) << before;
  const pid_t pid = static_cast<pid_t>(std::stol(m[1].str()));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);

  // Each look is a call to the daemon (no sleep): until the new host runs.
  std::string after;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    after = Director({"list", "versioned"}).out;
    if (after.find("restarts 1") != std::string::npos &&
        after.find("host pid " + std::to_string(pid) + " ") == std::string::npos &&
        after.find("host pid ") != std::string::npos) {
      break;
    }
  }
  EXPECT_CONTAINS(after, "restarts 1  last end: host process killed by signal 9 (SIGKILL)");
  EXPECT_TRUE(std::regex_search(after, std::regex("versioned\\.Version  name versioned  since "
                                                  "[^\n]*  restarts 1\n")))
      << after;
  EXPECT_CONTAINS(Ask("versioned", "version", ""), "\n1.0\n");
  CommandResult log = Director({"status"});
  EXPECT_EQ(log.code, 0) << log;
}

// isolated_handler_timeout_ms for the fault tests: sanitizer builds take
// longer than 500 ms to run exit(0) (their own exit-time work), which the
// watchdog would count as the handler's.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kFaultHandlerTimeoutMs = 5000;
#else
constexpr int kFaultHandlerTimeoutMs = 500;
#endif

// The end of the faults bundle's host after `type` reached its probe, as
// `director list faults` says it ("last end: ...").
std::string FaultEnd(const std::string& type) {
  if (type == "segv") {
#if defined(__SANITIZE_ADDRESS__)
    return "host process exited with code 1";  // the sanitizer reports and exits
#elif defined(__SANITIZE_THREAD__)
    return "host process exited with code 66";
#else
    return "host process killed by signal 11 (SIGSEGV)";
#endif
  }
  if (type == "abort") return "host process killed by signal 6 (SIGABRT)";
  if (type == "exit") return "host process exited with code 0";
  return "handler ran over " + std::to_string(kFaultHandlerTimeoutMs) +
         " ms on message 'loop'; the host was killed";
}

// A signed bundle that crashes, aborts, exits or hangs in a handler: each
// time only its host ends, the daemon and another bundle keep answering,
// status says how the host ended, and its manifest actor is back in a new
// host, until the restart limit: then it is DOWN and says why.
TEST_F(DirectorDaemonTest, AnIsolatedBundleThatCrashesTakesDownOnlyItsHost) {
  if (::geteuid() == 0 && !troupe::testing::OthersCanSearchRoot()) {
    GTEST_SKIP() << troupe::testing::kRootNotSearchable;
  }
  WriteFileForTest(harness_.dir() + "/config/restart_limit", "4\n");
  // Five crashes fall in one window however slow the machine is.
  WriteFileForTest(harness_.dir() + "/config/restart_window_seconds", "3600\n");
  WriteFileForTest(harness_.dir() + "/config/isolated_handler_timeout_ms",
                   std::to_string(kFaultHandlerTimeoutMs) + "\n");
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_HELLO_BUNDLE}).code, 0);
  CommandResult loaded = Director({"load", TROUPE_FAULTS_BUNDLE});
  ASSERT_EQ(loaded.code, 0) << loaded;
  EXPECT_CONTAINS(Ask("probe", "ping", "hi"), "\nhi\n");

  // Each look is a call to the daemon (no sleep), until `want` shows.
  auto list_until = [&](const std::string& want) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      out = Director({"list", "faults"}).out;
      if (out.find(want) != std::string::npos) break;
    }
    return out;
  };
  const std::vector<std::string> faults = {"segv", "abort", "exit", "loop"};
  for (size_t i = 0; i < faults.size(); ++i) {
    SCOPED_TRACE(faults[i]);
    CommandResult told = Director({"tell", "probe", "--type", faults[i]});
    ASSERT_EQ(told.code, 0) << told;
    const std::string want =
        "restarts " + std::to_string(i + 1) + "  last end: " + FaultEnd(faults[i]);
    const std::string listed = list_until(want);
    EXPECT_CONTAINS(listed, want);
    EXPECT_TRUE(std::regex_search(listed, std::regex("host pid [1-9][0-9]*  rss"))) << listed;
    ExpectHelloAnswers("after " + faults[i]);
    // The new probe answers (its name is bound again once it is restarted).
    std::string answer;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      CommandResult asked = Director({"ask", "probe", "--type", "ping", "--data", "back"});
      answer = asked.out;
      if (asked.code == 0) break;
    }
    EXPECT_CONTAINS(answer, "\nback\n");
  }
  // One crash more than the limit allows: the probe stays down, and says why.
  ASSERT_EQ(Director({"tell", "probe", "--type", "abort"}).code, 0);
  const std::string down = list_until("DOWN: ");
  EXPECT_TRUE(std::regex_search(
      down, std::regex("faults\\.Probe  name probe  since [^\\n]*  DOWN: host process killed by "
                       "signal 6 \\(SIGABRT\\); not restarted: it was restarted 4 times within")))
      << down;
  ExpectHelloAnswers("with the probe down");
  CommandResult status = Director({"status"});
  EXPECT_EQ(status.code, 0) << status;
}

// A client's ask waiting on an isolated actor (by name or by address) ends
// as soon as its host ends, with UNAVAILABLE naming the bundle and the
// reason, not at its deadline.
TEST_F(DirectorDaemonTest, AnAskWaitingOnAnIsolatedActorFailsAtOnceWhenItsHostEnds) {
  if (::geteuid() == 0 && !troupe::testing::OthersCanSearchRoot()) {
    GTEST_SKIP() << troupe::testing::kRootNotSearchable;
  }
  WriteFileForTest(harness_.dir() + "/config/isolated_handler_timeout_ms", "300\n");
  ASSERT_TRUE(harness_.StartDaemon());
  ASSERT_EQ(Director({"load", TROUPE_FAULTS_BUNDLE}).code, 0);
  CommandResult by_name =
      Director({"ask", "probe", "--type", "loop", "--timeout", "600"});
  EXPECT_NE(by_name.code, 0) << by_name;
  EXPECT_CONTAINS(by_name.err, "bundle 'faults' version '1.0': handler ran over 300 ms on message "
                               "'loop'; the host was killed");
  std::smatch m;
  std::string listed;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    listed = Director({"list", "faults"}).out;
    if (std::regex_search(listed, m, std::regex("(troupe://\\S+)  faults\\.Probe  name probe  "
                                                "since [^\\n]*  restarts 1\n"))) {
      break;
    }
  }
  ASSERT_FALSE(m.empty()) << listed;
  CommandResult by_address =
      Director({"ask", m[1].str(), "--type", "abort", "--timeout", "600"});
  EXPECT_NE(by_address.code, 0) << by_address;
  EXPECT_CONTAINS(by_address.err, "no reply can come from " + m[1].str() +
                                      ": bundle 'faults' version '1.0': host process killed by "
                                      "signal 6 (SIGABRT)");
}

TEST_F(DirectorDaemonTest, TheBundleLimitSettingsApplyToLoads) {
  WriteFileForTest(harness_.dir() + "/config/max_entries", "1\n");
  ASSERT_TRUE(harness_.StartDaemon());
  PlaceBundle(TROUPE_VERSIONED_1_0);
  CommandResult refused = Director({"load", "versioned-1.0"});
  EXPECT_NE(refused.code, 0) << refused;
  EXPECT_CONTAINS(refused.err, "entries");
  ASSERT_TRUE(harness_.StopDaemon());
  ::unlink((harness_.dir() + "/config/max_entries").c_str());
  ASSERT_TRUE(harness_.StartDaemon());
  CommandResult loaded = Director({"load", "versioned-1.0"});
  EXPECT_EQ(loaded.code, 0) << loaded;
}

}  // namespace
}  // namespace troupe::testing
