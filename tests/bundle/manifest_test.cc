// manifest_test.cc - ParseManifest, ValidateManifest, ValidateGroupName and
// ManifestToJson.
#include "daemon/bundle/manifest.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_replace.h"
#include "daemon/common/strings.h"
#include "tests/common/status_matchers.h"
#include "troupe/abi.h"

namespace troupe::bundle {
namespace {

// GoogleTest without gmock (troupe_test_common links gtest only).

std::string StatusText(const absl::Status& status) { return std::string(status.message()); }

// Every field of manifest.proto is used once.
constexpr char kFullManifest[] = R"json({
  "group": "hello.world_2",
  "version": "1.2.0-rc.1",
  "description": "says hello",
  "abi": {"major": 1, "minor": 0},
  "libraries": ["lib/hello.so", "lib/libgreet+x-1.0.so"],
  "actors": [{
    "class_name": "hello.Greeter",
    "requirements": [
      {"capability": "gpu", "present": true},
      {"capability": "memory_gb", "at_least": 4},
      {"capability": "load", "at_most": 0.5},
      {"capability": "zone", "equals": "eu"},
      {"capability": "arch", "one_of": ["x86_64", "aarch64"]}
    ],
    "global_name": "greeter",
    "role": "greeting",
    "on_load": [{"type": "hello.Start", "payload": "go"}],
    "on_deactivate": [{"type": "hello.Pause", "payload_base64": "AAE="}],
    "on_reactivate": [{"type": "hello.Resume"}],
    "failure_policy": "FAILURE_POLICY_RESTART"
  }],
  "auto_unload": {"keep_loaded": 2},
  "keep_limit": 3,
  "isolation": "process"
})json";

// A minimal valid manifest with `field` (a JSON member, e.g. "\"x\": 1")
// replacing the marker.
std::string Manifest(const std::string& extra = "") {
  std::string json = R"({"group": "hello", "version": "1.0", "abi": {"major": 1, "minor": 0},
                         "libraries": ["lib/hello.so"])";
  if (!extra.empty()) json += ", " + extra;
  return json + "}";
}

TEST(ManifestTest, FullManifestParses) {
  ASSERT_OK_AND_ASSIGN(troupe::v1::Manifest manifest,
                       ParseManifest(kFullManifest, "manifest.json"));
  EXPECT_EQ(manifest.group(), "hello.world_2");
  EXPECT_EQ(manifest.version(), "1.2.0-rc.1");
  EXPECT_EQ(manifest.description(), "says hello");
  EXPECT_EQ(manifest.abi().major(), 1u);
  ASSERT_EQ(manifest.libraries_size(), 2);
  EXPECT_EQ(manifest.libraries(1), "lib/libgreet+x-1.0.so");
  ASSERT_EQ(manifest.actors_size(), 1);
  const troupe::v1::ActorSpec& actor = manifest.actors(0);
  EXPECT_EQ(actor.class_name(), "hello.Greeter");
  ASSERT_EQ(actor.requirements_size(), 5);
  EXPECT_TRUE(actor.requirements(0).present());
  EXPECT_EQ(actor.requirements(1).at_least(), 4);
  EXPECT_EQ(actor.requirements(3).equals().string_value(), "eu");
  EXPECT_EQ(actor.requirements(4).one_of().values_size(), 2);
  EXPECT_EQ(actor.global_name(), "greeter");
  EXPECT_EQ(actor.role(), "greeting");
  EXPECT_EQ(actor.on_load(0).payload(), "go");
  EXPECT_EQ(actor.on_deactivate(0).payload_base64(), std::string("\0\1", 2));
  EXPECT_EQ(actor.on_reactivate(0).type(), "hello.Resume");
  EXPECT_EQ(actor.failure_policy(), troupe::v1::FAILURE_POLICY_RESTART);
  EXPECT_EQ(manifest.auto_unload().keep_loaded(), 2u);
  EXPECT_EQ(manifest.keep_limit(), 3u);
  EXPECT_EQ(manifest.isolation(), "process");
}

TEST(ManifestTest, LowerCamelFieldNamesAreAcceptedToo) {
  ASSERT_OK_AND_ASSIGN(
      troupe::v1::Manifest manifest,
      ParseManifest(Manifest(R"("keepLimit": 2, "actors": [{"className": "a.B"}])"), "m"));
  EXPECT_EQ(manifest.keep_limit(), 2u);
  EXPECT_EQ(manifest.actors(0).class_name(), "a.B");
}

TEST(ManifestTest, ToJsonUsesProtoFieldNamesAndRoundTrips) {
  ASSERT_OK_AND_ASSIGN(troupe::v1::Manifest manifest, ParseManifest(kFullManifest, "m"));
  std::string json = ManifestToJson(manifest);
  EXPECT_CONTAINS(json, ("\"class_name\""));
  EXPECT_CONTAINS(json, ("\"keep_limit\""));
  ASSERT_OK_AND_ASSIGN(troupe::v1::Manifest again, ParseManifest(json, "m"));
  EXPECT_EQ(again.SerializeAsString(), manifest.SerializeAsString());
}

TEST(ManifestTest, UnknownFieldIsAnErrorNamingIt) {
  absl::StatusOr<troupe::v1::Manifest> result =
      ParseManifest(Manifest(R"("keep_limmit": 2)"), "bundle x: manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(StatusText(result.status()), ("bundle x: manifest.json: invalid JSON: "));
  EXPECT_CONTAINS(StatusText(result.status()), ("keep_limmit"));
}

TEST(ManifestTest, WrongTypeIsAnError) {
  absl::StatusOr<troupe::v1::Manifest> result =
      ParseManifest(Manifest(R"("keep_limit": "many")"), "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(StatusText(result.status()), ("manifest.json: invalid JSON: "));
  EXPECT_CONTAINS(StatusText(result.status()), ("keep_limit"));
}

TEST(ManifestTest, MalformedJsonIsAnError) {
  absl::StatusOr<troupe::v1::Manifest> result =
      ParseManifest(R"({"group": "hello", )", "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(StatusText(result.status()), ("manifest.json: invalid JSON: "));
  EXPECT_EQ(StatusText(result.status()).find('\n'), std::string::npos);
}

// Hostile nesting is refused from a linear pre-check: protobuf's parser took
// 91 s for 40 k levels. (100 k levels here: before the check, this test ran
// into ctest's timeout.)
TEST(ManifestTest, DeeplyNestedArraysAreRefusedBeforeProtobufParses) {
  const size_t levels = 100000;
  const std::string deep =
      Manifest(R"("actors": [{"class_name": "a.B", "requirements": [{"capability": "x", "equals": )" +
               std::string(levels, '[') + std::string(levels, ']') + "}]}]");
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(deep, "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(StatusText(result.status()), "manifest.json: invalid JSON: ");
  EXPECT_CONTAINS(StatusText(result.status()), "nested more than 64 deep");
}

TEST(ManifestTest, MalformedJsonIsRefusedNamingLineAndColumn) {
  absl::StatusOr<troupe::v1::Manifest> result =
      ParseManifest("{\n  \"group\": \"hello\",\n  \"version\" \"1.0\"\n}", "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(StatusText(result.status()),
            "manifest.json: invalid JSON: at line 3, column 13: expected ':' after a member name");
  // Text that is not UTF-8 never reaches protobuf.
  result = ParseManifest(Manifest("\"description\": \"caf\xe9\""), "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(StatusText(result.status()), "manifest.json: invalid JSON: at line 2, column ");
  EXPECT_CONTAINS(StatusText(result.status()), "UTF-8");
}

TEST(ManifestTest, AManifestOverOneMebibyteIsRefusedBeforeParsing) {
  const std::string big = Manifest(R"("description": ")" + std::string(2 << 20, 'x') + "\"");
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(big, "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(StatusText(result.status()), "more than the limit of 1048576");
}

TEST(ManifestTest, ADuplicateKeyIsRefusedNamingIt) {
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(
      R"({"group": "hz", "group": "evil", "version": "1.0", "abi": {"major": 1, "minor": 0},
          "libraries": ["lib/hello.so"]})",
      "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusText(result.status()),
            "manifest.json: \"group\" is given twice in the manifest's top-level object (a "
            "manifest may name each field once)");
}

TEST(ManifestTest, DuplicateKeysAreRefusedAtAnyDepthAndInEitherSpelling) {
  absl::StatusOr<troupe::v1::Manifest> nested = ParseManifest(
      Manifest(R"("actors": [{"class_name": "a.B", "requirements": [{"capability": "x",
               "equals": {"k": 1, "k": 2}}]}])"),
      "m");
  ASSERT_FALSE(nested.ok());
  EXPECT_CONTAINS(StatusText(nested.status()),
                  "\"k\" is given twice in actors[0].requirements[0].equals");
  absl::StatusOr<troupe::v1::Manifest> spelled = ParseManifest(
      Manifest(R"("actors": [{"class_name": "a.B", "className": "evil.C"}])"), "m");
  ASSERT_FALSE(spelled.ok());
  EXPECT_CONTAINS(StatusText(spelled.status()), "\"className\" is given twice in actors[0]");
  // Names compare unescaped: "\u0067roup" is "group".
  absl::StatusOr<troupe::v1::Manifest> escaped =
      ParseManifest(Manifest(R"("\u0067roup": "evil")"), "m");
  ASSERT_FALSE(escaped.ok());
  EXPECT_CONTAINS(StatusText(escaped.status()),
                  "\"group\" is given twice in the manifest's top-level object");
  // Objects whose paths print alike are still different objects.
  EXPECT_OK(ParseManifest(
      Manifest(R"("actors": [{"class_name": "a.B", "requirements": [{"capability": "x",
               "equals": {"a.b": {"c": 1}, "a": {"b": {"c": 2}}}}]}])"),
      "m").status());
}

TEST(ManifestTest, MissingVersionIsRefused) {
  std::string json = absl::StrReplaceAll(Manifest(), {{R"("version": "1.0", )", ""}});
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(json, "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(StatusText(result.status()),
                  ("manifest.json: bundle 'hello' has no version: set \"version\" (e.g. "
                   "\"1.0\") — an unversioned bundle would outrank every release"));
}

TEST(ManifestTest, InvalidVersionIsRefused) {
  std::string json = absl::StrReplaceAll(Manifest(), {{R"("1.0")", R"("v2")"}});
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(json, "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(StatusText(result.status()), ("version 'v2': character 'v'"));
}

TEST(ManifestTest, GroupWithDashIsRefusedSayingWhy) {
  std::string json = absl::StrReplaceAll(Manifest(), {{R"("hello")", R"("my-app")"}});
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(json, "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(StatusText(result.status()),
                  ("manifest.json: group 'my-app': character '-' at position 3 is not "
                   "allowed: '-' separates group and version"));
}

TEST(ManifestTest, GroupNameRules) {
  EXPECT_OK(ValidateGroupName("a"));
  EXPECT_OK(ValidateGroupName("net.example_9"));
  EXPECT_OK(ValidateGroupName(std::string(64, 'a')));
  EXPECT_CONTAINS(StatusText(ValidateGroupName("")), ("group name is empty"));
  EXPECT_CONTAINS(StatusText(ValidateGroupName(std::string(65, 'a'))),
                  ("longer than 64 characters"));
  EXPECT_CONTAINS(StatusText(ValidateGroupName("Hello")),
                  ("must start with a lowercase letter, not 'H'"));
  EXPECT_CONTAINS(StatusText(ValidateGroupName("9lives")),
                  ("must start with a lowercase letter, not '9'"));
  EXPECT_CONTAINS(StatusText(ValidateGroupName("helloWorld")),
                  ("character 'W' at position 6 is not allowed: group names are lowercase"));
  EXPECT_CONTAINS(StatusText(ValidateGroupName("a/b")),
                  ("character '/' at position 2 is not allowed"));
  EXPECT_EQ(ValidateGroupName("a b").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ManifestTest, AbiMajorMismatchIsFailedPrecondition) {
  std::string json = absl::StrReplaceAll(
      Manifest(), {{R"("major": 1)", "\"major\": " + std::to_string(TROUPE_ABI_MAJOR + 1)}});
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(json, "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(
      StatusText(result.status()),
      ("manifest.json: bundle 'hello' needs ABI major " + std::to_string(TROUPE_ABI_MAJOR + 1) +
       ", this host supports " + std::to_string(TROUPE_ABI_MAJOR)));
}

TEST(ManifestTest, NewerAbiMinorIsFailedPrecondition) {
  std::string json = absl::StrReplaceAll(
      Manifest(), {{R"("minor": 0)", "\"minor\": " + std::to_string(TROUPE_ABI_MINOR + 1)}});
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(json, "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(StatusText(result.status()), ("this host supports up to"));
  // The host's own minor is fine.
  std::string same = absl::StrReplaceAll(
      Manifest(), {{R"("minor": 0)", "\"minor\": " + std::to_string(TROUPE_ABI_MINOR)}});
  EXPECT_OK(ParseManifest(same, "manifest.json"));
}

TEST(ManifestTest, MissingAbiIsRefused) {
  std::string json = absl::StrReplaceAll(Manifest(), {{R"("abi": {"major": 1, "minor": 0},)", ""}});
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(json, "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(StatusText(result.status()), ("has no abi"));
}

TEST(ManifestTest, NoLibrariesIsRefused) {
  std::string json = absl::StrReplaceAll(Manifest(), {{R"("lib/hello.so")", ""}});
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(json, "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(StatusText(result.status()), ("lists no libraries"));
}

absl::Status LibraryStatus(const std::string& path) {
  std::string json = absl::StrReplaceAll(Manifest(), {{R"("lib/hello.so")", "\"" + path + "\""}});
  return ParseManifest(json, "manifest.json").status();
}

TEST(ManifestTest, LibraryPathOutsideLibIsRefused) {
  for (const char* path : {"hello.so", "bin/hello.so", "/lib/hello.so", "lib/hello", "lib/.so",
                           "lib/hello.so.1", "deps/libfoo.so"}) {
    absl::Status status = LibraryStatus(path);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_CONTAINS(StatusText(status), ("is not of the form \"lib/<name>.so\"")) << path;
  }
  EXPECT_CONTAINS(StatusText(LibraryStatus("lib/sub/hello.so")),
                  ("character '/' is not allowed in a library name"));
  EXPECT_CONTAINS(StatusText(LibraryStatus("lib/he llo.so")),
                  ("character ' ' is not allowed in a library name"));
}

TEST(ManifestTest, LibraryPathWithDotDotIsRefused) {
  for (const char* path : {"lib/../hello.so", "lib/..so", "lib/a..b.so"}) {
    EXPECT_CONTAINS(StatusText(LibraryStatus(path)), ("contains '..'")) << path;
  }
}

TEST(ManifestTest, DuplicateLibraryIsRefused) {
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(
      absl::StrReplaceAll(Manifest(), {{R"("lib/hello.so")", R"("lib/a.so", "lib/a.so")"}}),
      "manifest.json");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(StatusText(result.status()),
                  ("manifest.json: libraries[1] 'lib/a.so' is listed twice"));
}

TEST(ManifestTest, ActorWithoutClassNameIsRefused) {
  absl::StatusOr<troupe::v1::Manifest> result =
      ParseManifest(Manifest(R"("actors": [{"class_name": "a.B"}, {"role": "x"}])"), "m.json");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(StatusText(result.status()), ("m.json: actors[1] has no class_name"));
}

TEST(ManifestTest, RequirementNeedsCapabilityAndCondition) {
  absl::StatusOr<troupe::v1::Manifest> no_capability = ParseManifest(
      Manifest(R"("actors": [{"class_name": "a.B", "requirements": [{"present": true}]}])"), "m");
  ASSERT_FALSE(no_capability.ok());
  EXPECT_CONTAINS(StatusText(no_capability.status()),
                  ("actors[0] (class 'a.B'): requirements[0] has no capability"));
  absl::StatusOr<troupe::v1::Manifest> no_condition = ParseManifest(
      Manifest(R"("actors": [{"class_name": "a.B", "requirements": [{"capability": "gpu"}]}])"),
      "m");
  ASSERT_FALSE(no_condition.ok());
  EXPECT_CONTAINS(StatusText(no_condition.status()),
                  ("requirements[0] (capability 'gpu') has no condition"));
}

TEST(ManifestTest, ActionNeedsAType) {
  absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(
      Manifest(R"("actors": [{"class_name": "a.B", "on_reactivate": [{"payload": "x"}]}])"), "m");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(StatusText(result.status()),
                  ("actors[0] (class 'a.B'): on_reactivate[0] has no type"));
}

TEST(ManifestTest, AutoUnloadKeepLoadedZeroIsRefused) {
  absl::StatusOr<troupe::v1::Manifest> result =
      ParseManifest(Manifest(R"("auto_unload": {"keep_loaded": 0})"), "m");
  ASSERT_FALSE(result.ok());
  EXPECT_CONTAINS(StatusText(result.status()), ("auto_unload.keep_loaded is 0"));
  EXPECT_OK(ParseManifest(Manifest(R"("auto_unload": {"enabled": false})"), "m"));
}

TEST(ManifestTest, AnyKeepLimitIsAccepted) {
  EXPECT_OK(ParseManifest(Manifest(R"("keep_limit": 0)"), "m"));
  EXPECT_OK(ParseManifest(Manifest(R"("keep_limit": 4294967295)"), "m"));
}

TEST(ManifestTest, IsolationIsInlineProcessOrUnset) {
  ASSERT_OK_AND_ASSIGN(troupe::v1::Manifest unset, ParseManifest(Manifest(), "m"));
  EXPECT_EQ(unset.isolation(), "") << "an older manifest says nothing: the daemon decides";
  for (const char* value : {"inline", "process"}) {
    ASSERT_OK_AND_ASSIGN(
        troupe::v1::Manifest manifest,
        ParseManifest(Manifest(troupe::StrCat(R"("isolation": ")", value, R"(")")), "m"));
    EXPECT_EQ(manifest.isolation(), value);
    // And it survives the round trip director gensrc makes.
    ASSERT_OK_AND_ASSIGN(troupe::v1::Manifest again, ParseManifest(ManifestToJson(manifest), "m"));
    EXPECT_EQ(again.isolation(), value);
  }
  EXPECT_EQ(ManifestToJson(unset).find("isolation"), std::string::npos)
      << "unset stays unset in a built bundle's manifest";
}

TEST(ManifestTest, AnOtherIsolationIsRefusedNamingFieldAndValue) {
  for (const char* value : {"Process", "isolated", "none", " inline", "proc"}) {
    absl::StatusOr<troupe::v1::Manifest> result = ParseManifest(
        Manifest(troupe::StrCat(R"("isolation": ")", value, R"(")")), "bundle x: manifest.json");
    ASSERT_FALSE(result.ok()) << value;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(StatusText(result.status()),
              troupe::StrCat("bundle x: manifest.json: bundle 'hello': isolation '", value,
                             "' is not one of \"inline\", \"process\" (leave it out to follow "
                             "the daemon's isolation_default)"));
  }
  // A long value is cut in the message.
  absl::StatusOr<troupe::v1::Manifest> long_value = ParseManifest(
      Manifest(troupe::StrCat(R"("isolation": ")", std::string(500, 'p'), R"(")")), "m");
  ASSERT_FALSE(long_value.ok());
  EXPECT_CONTAINS(StatusText(long_value.status()), "(500 bytes) is not one of");
  // A wrong type is the JSON parser's error, naming the field.
  absl::StatusOr<troupe::v1::Manifest> number =
      ParseManifest(Manifest(R"("isolation": 1)"), "m");
  ASSERT_FALSE(number.ok());
  EXPECT_CONTAINS(StatusText(number.status()), "isolation");
}

}  // namespace
}  // namespace troupe::bundle
