// director_test.cc - runs the built `director` binary in temporary
// TROUPE_DIRs and checks its output and exit codes.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/command_result.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

using Result = troupe::testing::CommandResult;
using troupe::testing::ReadFileForTest;
using troupe::testing::WriteFileForTest;

constexpr char kManifest[] = R"({
  "group": "demo",
  "abi": {"major": 1, "minor": 1},
  "libraries": ["lib/troupe_examples.so"],
  "actors": [{"class_name": "examples.Echo", "role": "echo"}]
})";

class DirectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/director_test.XXXXXX";
    ASSERT_NE(::mkdtemp(root_.data()), nullptr);
    dir_ = root_ + "/troupe";
    manifest_ = root_ + "/manifest.json";
    WriteFileForTest(manifest_, kManifest);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Runs director with `args` (after --dir, unless `with_dir` is false), in
  // root_ (or `cwd`), with TROUPE_DIR unset unless `troupe_dir_env` is given.
  Result Run(const std::vector<std::string>& args, bool with_dir = true,
             const std::string& troupe_dir_env = "", const std::string& cwd = "") {
    std::vector<std::string> argv = {TROUPE_DIRECTOR_PATH};
    if (with_dir) argv.insert(argv.end(), {"--dir", dir_});
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("TROUPE_DIR=", 0) != 0) env.push_back(*e);
    }
    if (!troupe_dir_env.empty()) env.push_back("TROUPE_DIR=" + troupe_dir_env);
    return troupe::testing::RunCommandForTest(argv, env, cwd.empty() ? root_ : cwd, root_);
  }

  // keygen + trust of <dir>/keys/signing.key; returns the key id.
  std::string MakeTrustedSigningKey() {
    Result keygen = Run({"keygen", "signing"});
    EXPECT_EQ(keygen.code, 0) << keygen;
    Result trust = Run({"trust", dir_ + "/keys/signing.pub"});
    EXPECT_EQ(trust.code, 0) << trust;
    std::smatch m;
    const std::regex id("trusted key ([0-9a-f]{16})");
    EXPECT_TRUE(std::regex_search(trust.out, m, id)) << trust;
    return m.size() > 1 ? m[1].str() : "";
  }

  Result Gensrc(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"gensrc", "--manifest", manifest_, "--lib",
                                     TROUPE_EXAMPLES_PATH};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }

  static std::string HashOf(const Result& r) {
    std::smatch m;
    const std::regex hash("hash ([0-9a-f]{64})");
    return std::regex_search(r.out, m, hash) ? m[1].str() : "";
  }

  std::string root_, dir_, manifest_;
};

TEST_F(DirectorTest, NoCommandPrintsHelpWithExitCodesAndExitsZero) {
  Result r = Run({}, /*with_dir=*/false);
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_NE(r.out.find("gensrc"), std::string::npos) << r;
  EXPECT_NE(r.out.find("Exit codes:"), std::string::npos) << r;
  EXPECT_NE(r.out.find("7  invalid configuration"), std::string::npos) << r;
}

TEST_F(DirectorTest, UnknownCommandExitsTwoAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  Result r = Run({"frobnicate"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(Run({"keygen"}).code, 2);                   // missing argument
  EXPECT_EQ(Run({"avail", "--no-such-flag"}).code, 2);  // bad flag
}

TEST_F(DirectorTest, EveryCommandHasHelp) {
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{{"keygen"},
                                                                            {"trust"},
                                                                            {"untrust"},
                                                                            {"keys"},
                                                                            {"gensrc"},
                                                                            {"tlsinfo"},
                                                                            {"verify"},
                                                                            {"avail"},
                                                                            {"config"},
                                                                            {"config", "check"},
                                                                            {"new"}}) {
    cmd.push_back("--help");
    Result r = Run(cmd);
    EXPECT_EQ(r.code, 0) << cmd[0] << "\n" << r;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << cmd[0] << "\n" << r;
  }
}

TEST_F(DirectorTest, KeygenWritesAPrivateKeyAndRefusesToOverwrite) {
  Result r = Run({"keygen", "release"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("key id [0-9a-f]{16}"))) << r;
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/keys/release.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(fs::exists(dir_ + "/keys/release.pub"));
  const std::string secret = ReadFileForTest(dir_ + "/keys/release.key");

  Result again = Run({"keygen", "release"});
  EXPECT_EQ(again.code, 6) << again;
  EXPECT_NE(again.err.find("release.key"), std::string::npos) << again;
  EXPECT_EQ(ReadFileForTest(dir_ + "/keys/release.key"), secret);

  EXPECT_EQ(Run({"keygen", "../escape"}).code, 5);
  Result json = Run({"--json", "keygen", "other", "--out", root_ + "/elsewhere"});
  EXPECT_EQ(json.code, 0) << json;
  EXPECT_EQ(json.out.rfind("{\"ok\":true,\"key_id\":\"", 0), 0u) << json;
  EXPECT_TRUE(fs::exists(root_ + "/elsewhere/other.key"));
}

TEST_F(DirectorTest, TrustAndUntrust) {
  const std::string key_id = MakeTrustedSigningKey();
  ASSERT_EQ(key_id.size(), 16u);
  EXPECT_TRUE(fs::exists(dir_ + "/keys/trusted/" + key_id + ".pub"));
  Result untrust = Run({"untrust", key_id});
  EXPECT_EQ(untrust.code, 0) << untrust;
  EXPECT_FALSE(fs::exists(dir_ + "/keys/trusted/" + key_id + ".pub"));
  Result again = Run({"untrust", key_id});
  EXPECT_EQ(again.code, 3) << again;
  EXPECT_EQ(Run({"untrust", "../../etc"}).code, 5);
  EXPECT_EQ(Run({"trust", root_ + "/missing.pub"}).code, 3);
  WriteFileForTest(root_ + "/garbage.pub", "not a key\n");
  EXPECT_EQ(Run({"trust", root_ + "/garbage.pub"}).code, 5);
}

TEST_F(DirectorTest, GensrcRefusesAManifestWithAnUnknownField) {
  MakeTrustedSigningKey();
  WriteFileForTest(manifest_, R"({"group": "demo", "versoin": "1"})");
  Result r = Gensrc({"--version", "1"});
  EXPECT_EQ(r.code, 5) << r;
  EXPECT_NE(r.err.find(manifest_ + ": invalid JSON"), std::string::npos) << r;
  EXPECT_NE(r.err.find("versoin"), std::string::npos) << r;
}

// Every file director reads is bounded: a manifest past the bundle limit for
// manifests (1 MiB by default) is refused before it is parsed.
TEST_F(DirectorTest, GensrcRefusesAManifestLargerThanTheManifestLimit) {
  MakeTrustedSigningKey();
  WriteFileForTest(manifest_, R"({"group": "demo")" + std::string((1 << 20) + 1, ' ') + "}");
  Result r = Gensrc({"--version", "1"});
  EXPECT_NE(r.code, 0) << r;
  EXPECT_NE(r.err.find(manifest_ + " is more than 1048576 bytes, the limit for it"),
            std::string::npos)
      << r;
}

TEST_F(DirectorTest, GensrcWithoutAVersionIsRefused) {
  MakeTrustedSigningKey();
  Result r = Gensrc({});
  EXPECT_EQ(r.code, 5) << r;
  EXPECT_NE(r.err.find("without a version"), std::string::npos) << r;
  EXPECT_FALSE(fs::exists(dir_ + "/bundles") && !fs::is_empty(dir_ + "/bundles"));
  Result bad = Gensrc({"--version", "1..2"});
  EXPECT_EQ(bad.code, 5) << bad;
}

TEST_F(DirectorTest, GensrcWithoutAKeyNamesTheDefaultKey) {
  Result r = Gensrc({"--version", "1"});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_NE(r.err.find("keygen signing"), std::string::npos) << r;
}

TEST_F(DirectorTest, GensrcDateVersionNamesTheFile) {
  MakeTrustedSigningKey();
  Result r = Gensrc({"--version", "date"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("wrote .*/bundles/demo-[0-9]{12}\\.troupe \\(hash [0-9a-f]{64}, key ")))
      << r;
}

TEST_F(DirectorTest, GensrcIsReproducibleAndNeverOverwrites) {
  MakeTrustedSigningKey();
  Result a = Gensrc({"--version", "1.0", "--out", root_ + "/a"});
  Result b = Gensrc({"--version", "1.0", "--out", root_ + "/b"});
  ASSERT_EQ(a.code, 0) << a;
  ASSERT_EQ(b.code, 0) << b;
  EXPECT_EQ(HashOf(a), HashOf(b));
  EXPECT_EQ(ReadFileForTest(root_ + "/a/demo-1.0.troupe"),
            ReadFileForTest(root_ + "/b/demo-1.0.troupe"));
  Result same = Gensrc({"--version", "1.0", "--out", root_ + "/a"});
  EXPECT_EQ(same.code, 0) << same;
  EXPECT_NE(same.out.find("unchanged"), std::string::npos) << same;
  // Same version, different content: refused.
  WriteFileForTest(root_ + "/extra.txt", "data");
  Result different = Run({"gensrc", "--manifest", manifest_, "--lib", TROUPE_EXAMPLES_PATH,
                          "--version", "1.0", "--out", root_ + "/a", "--data", "extra.txt"});
  EXPECT_EQ(different.code, 6) << different;
  EXPECT_EQ(ReadFileForTest(root_ + "/a/demo-1.0.troupe"),
            ReadFileForTest(root_ + "/b/demo-1.0.troupe"));
}

TEST_F(DirectorTest, GensrcChecksLibrariesAgainstTheManifest) {
  MakeTrustedSigningKey();
  WriteFileForTest(root_ + "/other.so", "x");
  Result extra = Gensrc({"--version", "1", "--lib", root_ + "/other.so"});
  EXPECT_EQ(extra.code, 5) << extra;
  EXPECT_NE(extra.err.find("lib/other.so"), std::string::npos) << extra;
  Result missing = Run({"gensrc", "--manifest", manifest_, "--lib", root_ + "/nope.so"});
  EXPECT_NE(missing.code, 0) << missing;
}

TEST_F(DirectorTest, GensrcBundlesDepsAndData) {
  MakeTrustedSigningKey();
  fs::create_directories(root_ + "/assets/sub");
  WriteFileForTest(root_ + "/assets/a.txt", "a");
  WriteFileForTest(root_ + "/assets/sub/b.txt", "bb");
  WriteFileForTest(root_ + "/libdep.so", "dep");
  WriteFileForTest(root_ + "/deps.txt", "# private libraries\nlibdep.so\n\n");
  Result r = Gensrc({"--version", "1", "--deps", root_ + "/deps.txt", "--data", "assets/*.txt",
                     "--data", "assets/sub"});
  ASSERT_EQ(r.code, 0) << r;
  Result contents = Run({"tlsinfo", "demo-1", "contents"});
  ASSERT_EQ(contents.code, 0) << contents;
  for (const char* name : {"data/assets/a.txt", "data/assets/sub/b.txt", "deps/libdep.so",
                           "lib/troupe_examples.so", "manifest.json"}) {
    EXPECT_NE(contents.out.find(name), std::string::npos) << name << "\n" << contents;
  }
  Result entry = Run({"tlsinfo", "demo-1", "data/assets/sub/b.txt"});
  EXPECT_EQ(entry.code, 0) << entry;
  EXPECT_EQ(entry.out, "bb");
  EXPECT_EQ(Gensrc({"--version", "2", "--data", "nothing*.bin"}).code, 3);
}

TEST_F(DirectorTest, TlsinfoAndVerifyAcceptAGoodBundle) {
  const std::string key_id = MakeTrustedSigningKey();
  Result built = Gensrc({"--version", "1.2"});
  ASSERT_EQ(built.code, 0) << built;
  const std::string path = dir_ + "/bundles/demo-1.2.troupe";

  Result info = Run({"tlsinfo", path});
  EXPECT_EQ(info.code, 0) << info;
  EXPECT_NE(info.out.find("verified " + path + ": group demo version 1.2 hash " + HashOf(built) +
                          " key " + key_id),
            std::string::npos)
      << info;
  Result contents = Run({"tlsinfo", "demo-1.2.troupe", "contents"});  // found in bundles/
  EXPECT_EQ(contents.code, 0) << contents;
  EXPECT_TRUE(std::regex_search(contents.out, std::regex(" +[0-9]+  lib/troupe_examples.so\n")))
      << contents;
  Result manifest = Run({"tlsinfo", path, "manifest.json"});
  EXPECT_EQ(manifest.code, 0) << manifest;
  EXPECT_NE(manifest.out.find("\"demo\""), std::string::npos) << manifest;
  EXPECT_EQ(Run({"tlsinfo", path, "lib/absent.so"}).code, 3);
  EXPECT_EQ(Run({"tlsinfo", root_ + "/absent.troupe"}).code, 3);
  EXPECT_EQ(Run({"verify", "absent"}).code, 3);

  Result verify = Run({"verify", path});
  EXPECT_EQ(verify.code, 0) << verify;
  Result json = Run({"--json", "verify", path});
  EXPECT_EQ(json.code, 0) << json;
  EXPECT_NE(json.out.find("\"hash\":\"" + HashOf(built) + "\""), std::string::npos) << json;
  Result json_info = Run({"tlsinfo", path, "--json"});
  EXPECT_EQ(json_info.code, 0) << json_info;
  EXPECT_EQ(std::count(json_info.out.begin(), json_info.out.end(), '\n'), 1) << json_info;
}

TEST_F(DirectorTest, VerifyRejectsTamperedAndUntrustedBundles) {
  const std::string key_id = MakeTrustedSigningKey();
  ASSERT_EQ(Gensrc({"--version", "1"}).code, 0);
  const std::string path = dir_ + "/bundles/demo-1.troupe";
  std::string bytes = ReadFileForTest(path);
  ASSERT_GT(bytes.size(), 1000u);
  bytes[bytes.size() / 2] ^= 0x20;  // inside the library's data
  const std::string tampered = root_ + "/tampered.troupe";
  WriteFileForTest(tampered, bytes);
  Result bad = Run({"verify", tampered});
  EXPECT_EQ(bad.code, 4) << bad;
  EXPECT_NE(bad.err.find("tampered.troupe"), std::string::npos) << bad;
  EXPECT_EQ(Run({"tlsinfo", tampered, "contents"}).code, 4);
  WriteFileForTest(root_ + "/notzip.troupe", "hello");
  EXPECT_EQ(Run({"verify", root_ + "/notzip.troupe"}).code, 4);

  ASSERT_EQ(Run({"untrust", key_id}).code, 0);
  Result untrusted = Run({"verify", path});
  EXPECT_EQ(untrusted.code, 4) << untrusted;
  EXPECT_NE(untrusted.err.find(key_id), std::string::npos) << untrusted;
}

TEST_F(DirectorTest, AvailListsNewestFirstAndMarksInvalidFiles) {
  MakeTrustedSigningKey();
  EXPECT_NE(Run({"avail"}).out.find("no bundles"), std::string::npos);
  for (const char* version : {"1.2", "1.10", "2.0-rc.1"}) {
    ASSERT_EQ(Gensrc({"--version", version}).code, 0) << version;
  }
  WriteFileForTest(dir_ + "/bundles/demo-0.5.troupe", "garbage");
  Result r = Run({"avail"});
  ASSERT_EQ(r.code, 0) << r;
  const size_t rc = r.out.find("demo: 2.0-rc.1  ");
  const size_t ten = r.out.find("demo: 1.10  ");
  const size_t two = r.out.find("demo: 1.2  ");
  const size_t bad = r.out.find("demo: 0.5  INVALID");
  ASSERT_NE(rc, std::string::npos) << r;
  ASSERT_NE(ten, std::string::npos) << r;
  ASSERT_NE(two, std::string::npos) << r;
  ASSERT_NE(bad, std::string::npos) << r;
  EXPECT_LT(rc, ten);
  EXPECT_LT(ten, two);
  EXPECT_LT(two, bad);
  Result json = Run({"avail", "--json"});
  EXPECT_EQ(json.code, 0) << json;
  EXPECT_NE(json.out.find("\"group\":\"demo\""), std::string::npos) << json;
}

TEST_F(DirectorTest, KeepLimitDeletesOlderBundlesAndSaysSo) {
  MakeTrustedSigningKey();
  fs::create_directories(dir_ + "/config");
  WriteFileForTest(dir_ + "/config/keep_limit", "2\n");
  ASSERT_EQ(Gensrc({"--version", "1"}).code, 0);
  ASSERT_EQ(Gensrc({"--version", "2"}).code, 0);
  Result third = Gensrc({"--version", "3"});
  ASSERT_EQ(third.code, 0) << third;
  EXPECT_NE(third.out.find("deleted old bundle " + dir_ + "/bundles/demo-1.troupe (keep limit 2)"),
            std::string::npos)
      << third;
  EXPECT_FALSE(fs::exists(dir_ + "/bundles/demo-1.troupe"));
  EXPECT_TRUE(fs::exists(dir_ + "/bundles/demo-2.troupe"));
  EXPECT_TRUE(fs::exists(dir_ + "/bundles/demo-3.troupe"));
  // Building an older version never deletes the newest, nor the file just built.
  Result old = Gensrc({"--version", "0.9"});
  ASSERT_EQ(old.code, 0) << old;
  EXPECT_TRUE(fs::exists(dir_ + "/bundles/demo-3.troupe"));
  EXPECT_TRUE(fs::exists(dir_ + "/bundles/demo-0.9.troupe"));
}

TEST_F(DirectorTest, KeepLimitIgnoresJunkAndChecksTheConfigBeforeWriting) {
  MakeTrustedSigningKey();
  fs::create_directories(dir_ + "/config");
  WriteFileForTest(dir_ + "/config/keep_limit", "2\n");
  ASSERT_EQ(Gensrc({"--version", "1.0"}).code, 0);
  ASSERT_EQ(Gensrc({"--version", "0.9"}).code, 0);
  // Junk named like a newer bundle neither takes a place nor gets deleted.
  WriteFileForTest(dir_ + "/bundles/demo-3.0.troupe", "not a bundle");
  Result older = Gensrc({"--version", "0.8"});
  ASSERT_EQ(older.code, 0) << older;
  EXPECT_TRUE(fs::exists(dir_ + "/bundles/demo-1.0.troupe")) << older;
  EXPECT_TRUE(fs::exists(dir_ + "/bundles/demo-3.0.troupe")) << older;
  EXPECT_TRUE(fs::exists(dir_ + "/bundles/demo-0.9.troupe")) << "one of the 2 newest bundles";
  EXPECT_TRUE(fs::exists(dir_ + "/bundles/demo-0.8.troupe")) << "the file just built stays";
  EXPECT_EQ(older.out.find("deleted"), std::string::npos) << "nothing newer may be deleted";
  // An invalid setting stops gensrc before it writes anything.
  WriteFileForTest(dir_ + "/config/keep_limit", "many\n");
  Result bad = Gensrc({"--version", "0.7"});
  EXPECT_EQ(bad.code, 7) << bad;
  EXPECT_FALSE(fs::exists(dir_ + "/bundles/demo-0.7.troupe"));
}

TEST_F(DirectorTest, ConfigShowsEveryValueAndItsSource) {
  fs::create_directories(dir_ + "/config");
  WriteFileForTest(dir_ + "/config/keep_limit", " 4 \n");
  Result r = Run({"config"}, /*with_dir=*/false, /*troupe_dir_env=*/dir_);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("dir +=  ?" + dir_ + "  \\(env TROUPE_DIR\\)")))
      << r;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("keep_limit += 4  \\(file " + dir_ + "/config/keep_limit\\)")))
      << r;
  EXPECT_TRUE(
      std::regex_search(r.out, std::regex("allow_remote_actor_sources += no  \\(default\\)")))
      << r;
  Result flag = Run({"config"});
  EXPECT_NE(flag.out.find("(--dir)"), std::string::npos) << flag;
  Result json = Run({"config", "--json"});
  EXPECT_NE(json.out.find("{\"name\":\"keep_limit\",\"value\":\"4\""), std::string::npos) << json;
}

TEST_F(DirectorTest, ConfigCheckExitsSevenNamingTheFile) {
  Result ok = Run({"config", "check"});
  EXPECT_EQ(ok.code, 0) << ok;
  fs::create_directories(dir_ + "/config");
  WriteFileForTest(dir_ + "/config/allow_remote_actor_sources", "True\n");
  Result bad = Run({"config", "check"});
  EXPECT_EQ(bad.code, 7) << bad;
  EXPECT_NE(bad.err.find(dir_ + "/config/allow_remote_actor_sources"), std::string::npos) << bad;
  // `config` still shows everything, marking the bad value.
  Result show = Run({"config"});
  EXPECT_EQ(show.code, 0) << show;
  EXPECT_NE(show.out.find("INVALID"), std::string::npos) << show;
  // A command that needs an invalid setting fails with the same class.
  WriteFileForTest(dir_ + "/config/max_entries", "many");
  MakeTrustedSigningKey();
  EXPECT_EQ(Gensrc({"--version", "1"}).code, 7);
}

TEST_F(DirectorTest, ConfigCheckRefusesATroupeDirOthersCanWrite) {
  fs::create_directories(dir_ + "/keys");
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  Result bad = Run({"config", "check"});
  EXPECT_EQ(bad.code, 7) << bad;
  EXPECT_NE(bad.err.find("invalid: TROUPE_DIR " + dir_ +
                         " is writable by others (mode 0777): chmod go-w " + dir_ + "\n"),
            std::string::npos)
      << bad;
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  ASSERT_EQ(::chmod((dir_ + "/keys").c_str(), 0775), 0);
  Result group = Run({"config", "check"});
  EXPECT_EQ(group.code, 7) << group;
  EXPECT_NE(group.err.find("keys directory " + dir_ + "/keys is writable by its group"),
            std::string::npos)
      << group;
  ASSERT_EQ(::chmod((dir_ + "/keys").c_str(), 0755), 0);
  Result ok = Run({"config", "check"});
  EXPECT_EQ(ok.code, 0) << ok;
}

TEST_F(DirectorTest, ConfigCheckRefusesASettingOrTrustedKeyOthersCanWrite) {
  const std::string key_id = MakeTrustedSigningKey();
  fs::create_directories(dir_ + "/config");
  const std::string setting = dir_ + "/config/listen_tcp";
  WriteFileForTest(setting, "0.0.0.0:7000\n");
  ASSERT_EQ(::chmod(setting.c_str(), 0666), 0);
  Result bad = Run({"config", "check"});
  EXPECT_EQ(bad.code, 7) << bad;
  EXPECT_NE(
      bad.err.find(setting + ": listen_tcp: writable by others (mode 0666): chmod go-w " + setting),
      std::string::npos)
      << bad;
  ASSERT_EQ(::chmod(setting.c_str(), 0644), 0);
  const std::string key = dir_ + "/keys/trusted/" + key_id + ".pub";
  ASSERT_EQ(::chmod(key.c_str(), 0664), 0);
  Result group = Run({"config", "check"});
  EXPECT_EQ(group.code, 7) << group;
  EXPECT_NE(group.err.find("trusted key " + key +
                           " is writable by its group (mode 0664): "
                           "chmod go-w " +
                           key),
            std::string::npos)
      << group;
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  Result ok = Run({"config", "check"});
  EXPECT_EQ(ok.code, 0) << ok;
}

TEST_F(DirectorTest, NewGeneratesABuildableProjectOnce) {
  Result r = Run({"new", "hello.world"});
  ASSERT_EQ(r.code, 0) << r;
  const std::string project = root_ + "/hello.world";
  for (const char* file : {"CMakeLists.txt", "manifest.json", "README.md", "src/hello_world.cc"}) {
    EXPECT_TRUE(fs::exists(project + "/" + file)) << file;
  }
  const std::string cmake = ReadFileForTest(project + "/CMakeLists.txt");
  EXPECT_NE(cmake.find("find_package(Troupe"), std::string::npos);
  EXPECT_NE(cmake.find("troupe_add_actor_library(hello_world SOURCES src/hello_world.cc)"),
            std::string::npos);
  EXPECT_NE(cmake.find("troupe_add_bundle(NAME hello_world_bundle MANIFEST manifest.json "
                       "LIBRARIES hello_world)"),
            std::string::npos);
  EXPECT_NE(ReadFileForTest(project + "/src/hello_world.cc").find("TROUPE_EXPORT_ACTORS"),
            std::string::npos);

  // The manifest is valid: gensrc builds a bundle from it.
  MakeTrustedSigningKey();
  fs::copy_file(TROUPE_EXAMPLES_PATH, root_ + "/hello_world.so");
  Result built =
      Run({"gensrc", "--manifest", project + "/manifest.json", "--lib", root_ + "/hello_world.so"});
  EXPECT_EQ(built.code, 0) << built;
  EXPECT_NE(built.out.find("hello.world-0.1.0.troupe"), std::string::npos) << built;

  Result again = Run({"new", "hello.world"});
  EXPECT_EQ(again.code, 6) << again;
  EXPECT_EQ(Run({"new", "Bad-Name", "--out", root_ + "/bad"}).code, 5);
  EXPECT_FALSE(fs::exists(root_ + "/bad"));
}

// ------------------------------------------------- isolation (trust, gensrc)

TEST_F(DirectorTest, TrustIsolatedMarksTheSignerAndKeysListsIt) {
  ASSERT_EQ(Run({"keygen", "signing"}).code, 0);
  const std::string pub = dir_ + "/keys/signing.pub";
  const std::string store = dir_ + "/keys/trusted";
  Result none = Run({"keys"});
  EXPECT_EQ(none.code, 0) << none;
  EXPECT_EQ(none.out, "no trusted keys (in " + store + ")\n");

  Result marked = Run({"trust", "--isolated", pub});
  ASSERT_EQ(marked.code, 0) << marked;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(marked.out, m, std::regex("trusted key ([0-9a-f]{16})"))) << marked;
  const std::string id = m[1].str();
  EXPECT_EQ(marked.out, "trusted key " + id + " (in " + store +
                            "); it is --isolated: bundles it signed always run in an isolated "
                            "host process, whatever their manifest says\n");
  const std::string mark = store + "/" + id + ".isolated";
  EXPECT_TRUE(fs::exists(mark));
  EXPECT_EQ(Run({"keys"}).out, id + "  isolated     " + store + "/" + id + ".pub\n");
  Result json = Run({"--json", "keys"});
  EXPECT_EQ(json.code, 0) << json;
  EXPECT_NE(json.out.find("\"key_id\":\"" + id + "\""), std::string::npos) << json;
  EXPECT_NE(json.out.find("\"isolated\":true"), std::string::npos) << json;

  // Trusting it again without a flag keeps the mark, and says how to lift it.
  Result again = Run({"trust", pub});
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_EQ(again.out, "trusted key " + id + " (in " + store +
                           "); it stays --isolated: bundles it signed always run in an isolated "
                           "host process (lift that with `director trust --inline " +
                           pub + "`)\n");
  EXPECT_TRUE(fs::exists(mark));

  Result lifted = Run({"trust", "--inline", pub});
  ASSERT_EQ(lifted.code, 0) << lifted;
  EXPECT_EQ(lifted.out, "trusted key " + id + " (in " + store +
                            "); no longer --isolated: its bundles run where their manifest or "
                            "isolation_default says\n");
  EXPECT_FALSE(fs::exists(mark));
  EXPECT_EQ(Run({"keys"}).out, id + "  by manifest  " + store + "/" + id + ".pub\n");
  Result nothing = Run({"--json", "trust", "--inline", pub});
  EXPECT_NE(nothing.out.find("\"isolated\":false"), std::string::npos) << nothing;
  EXPECT_NE(nothing.out.find("\"was_isolated\":false"), std::string::npos) << nothing;

  Result both = Run({"trust", "--isolated", "--inline", pub});
  EXPECT_EQ(both.code, 2) << both;
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both;

  // untrust takes the mark with the key.
  ASSERT_EQ(Run({"trust", "--isolated", pub}).code, 0);
  Result untrust = Run({"untrust", id});
  EXPECT_EQ(untrust.code, 0) << untrust;
  EXPECT_FALSE(fs::exists(mark));
  EXPECT_FALSE(fs::exists(store + "/" + id + ".pub"));
  EXPECT_EQ(Run({"keys"}).out, "no trusted keys (in " + store + ")\n");

  // A mark left in place (by hand, or by an older director's untrust) is
  // honoured, and said so, when its key is trusted again.
  WriteFileForTest(mark, "");
  Result back = Run({"trust", pub});
  ASSERT_EQ(back.code, 0) << back;
  EXPECT_EQ(back.out, "trusted key " + id + " (in " + store +
                          "); it is --isolated (its mark was already in place): bundles it "
                          "signed always run in an isolated host process (lift that with "
                          "`director trust --inline " +
                          pub + "`)\n");
}

TEST_F(DirectorTest, AMalformedOrWritableIsolationMarkIsAnErrorNamingIt) {
  ASSERT_EQ(Run({"keygen", "signing"}).code, 0);
  Result trusted = Run({"--json", "trust", "--isolated", dir_ + "/keys/signing.pub"});
  ASSERT_EQ(trusted.code, 0) << trusted;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(trusted.out, m, std::regex("\"key_id\":\"([0-9a-f]{16})\"")));
  const std::string mark = dir_ + "/keys/trusted/" + m[1].str() + ".isolated";

  WriteFileForTest(mark, "inline please\n");
  Result keys = Run({"keys"});
  EXPECT_EQ(keys.code, 4) << keys;
  EXPECT_NE(keys.err.find(mark + ": not an isolation mark (a mark is an empty file; this one "
                                 "holds 14 bytes)"),
            std::string::npos)
      << keys;
  Result check = Run({"config", "check"});
  EXPECT_EQ(check.code, 7) << check;
  EXPECT_NE(check.err.find(mark + ": not an isolation mark"), std::string::npos) << check;

  WriteFileForTest(mark, "");
  ASSERT_EQ(::chmod(mark.c_str(), 0666), 0);
  Result writable = Run({"config", "check"});
  EXPECT_EQ(writable.code, 7) << writable;
  EXPECT_NE(writable.err.find("isolation mark " + mark + " is writable by others (mode 0666): " +
                              "chmod go-w " + mark),
            std::string::npos)
      << writable;
  ASSERT_EQ(::chmod(mark.c_str(), 0644), 0);
  EXPECT_EQ(Run({"config", "check"}).code, 0);

  // A mark whose key is not trusted.
  const std::string orphan = dir_ + "/keys/trusted/0123456789abcdef.isolated";
  WriteFileForTest(orphan, "");
  Result lone = Run({"config", "check"});
  EXPECT_EQ(lone.code, 7) << lone;
  EXPECT_NE(lone.err.find(orphan + ": isolation mark of key 0123456789abcdef, which is not "
                                   "trusted"),
            std::string::npos)
      << lone;
}

TEST_F(DirectorTest, GensrcChecksTheManifestIsolationAndTlsinfoShowsIt) {
  const std::string key_id = MakeTrustedSigningKey();
  const std::string with_isolation = R"({
  "group": "demo",
  "abi": {"major": 1, "minor": 1},
  "libraries": ["lib/troupe_examples.so"],
  "isolation": "ISOLATION"
})";
  WriteFileForTest(manifest_, std::regex_replace(with_isolation, std::regex("ISOLATION"),
                                                 "sandbox"));
  Result bad = Gensrc({"--version", "1"});
  EXPECT_EQ(bad.code, 5) << bad;
  EXPECT_NE(bad.err.find(manifest_ + ": bundle 'demo': isolation 'sandbox' is not one of "
                                     "\"inline\", \"process\""),
            std::string::npos)
      << bad;
  EXPECT_FALSE(fs::exists(dir_ + "/bundles/demo-1.troupe"));

  WriteFileForTest(manifest_, std::regex_replace(with_isolation, std::regex("ISOLATION"),
                                                 "process"));
  ASSERT_EQ(Gensrc({"--version", "2"}).code, 0);
  Result process = Run({"tlsinfo", "demo-2"});
  EXPECT_EQ(process.code, 0) << process;
  EXPECT_NE(process.out.find("\n  isolation: process\n"), std::string::npos) << process;

  WriteFileForTest(manifest_, kManifest);
  ASSERT_EQ(Gensrc({"--version", "3"}).code, 0);
  Result unset = Run({"tlsinfo", "demo-3"});
  EXPECT_NE(unset.out.find("\n  isolation: unset (the daemon's isolation_default decides)\n"),
            std::string::npos)
      << unset;

  // Verification here reads the signer's mark too.
  ASSERT_EQ(Run({"trust", "--isolated", dir_ + "/keys/signing.pub"}).code, 0);
  Result marked = Run({"tlsinfo", "demo-3"});
  EXPECT_NE(marked.out.find("\n  isolation: unset (the daemon's isolation_default decides) (its "
                            "signer " +
                            key_id + " is trusted --isolated here: it always runs isolated)\n"),
            std::string::npos)
      << marked;
  Result json = Run({"--json", "verify", "demo-3"});
  EXPECT_NE(json.out.find("\"signer_isolated\":true"), std::string::npos) << json;
}

TEST_F(DirectorTest, ConfigShowsAndChecksTheIsolationSettings) {
  Result shown = Run({"config"});
  ASSERT_EQ(shown.code, 0) << shown;
  for (const char* line :
       {"isolation_default +=  ?inline  \\(default\\)", "isolated_memory_bytes += 4294967296  ",
        "isolated_cpu_seconds += 0  ", "isolated_open_files += 256  ",
        "isolated_user += nobody  ", "isolated_handler_timeout_ms += 30000  "}) {
    EXPECT_TRUE(std::regex_search(shown.out, std::regex(line))) << line << "\n" << shown;
  }
  fs::create_directories(dir_ + "/config");
  const std::string setting = dir_ + "/config/isolated_open_files";
  WriteFileForTest(setting, "8\n");
  Result check = Run({"config", "check"});
  EXPECT_EQ(check.code, 7) << check;
  EXPECT_NE(check.err.find("invalid: " + setting +
                           ": isolated_open_files: must be between 16 and 65536\n"),
            std::string::npos)
      << check;
  Result invalid = Run({"config"});
  EXPECT_NE(invalid.out.find("INVALID: must be between 16 and 65536"), std::string::npos)
      << invalid;
}

}  // namespace
