// manifest.cc - parsing and checking a bundle manifest; see manifest.h.
#include "daemon/bundle/manifest.h"

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

#include <google/protobuf/util/json_util.h>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "daemon/bundle/isolation.h"
#include "daemon/bundle/limits.h"
#include "daemon/bundle/version.h"
#include "daemon/common/json.h"
#include "daemon/common/strings.h"
#include "troupe/abi.h"

namespace troupe::bundle {
namespace {

using troupe::v1::Action;
using troupe::v1::ActorSpec;
using troupe::v1::Manifest;
using troupe::v1::Requirement;

constexpr size_t kMaxGroupLength = 64;
constexpr std::string_view kLibPrefix = "lib/";
constexpr std::string_view kLibSuffix = ".so";

// protobuf's parse errors are a first line, then a multi-line excerpt of the
// input with a caret; we keep the first line, without its trailing period.
std::string TidyProtobufMessage(std::string_view message) {
  std::string out(message.substr(0, message.find_first_of("\r\n")));
  while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
  return out;
}

bool IsLibraryNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '+' || c == '-';
}

absl::Status ValidateLibraryPath(std::string_view path, std::string_view where, size_t index) {
  std::string field = troupe::StrCat("libraries[", index, "] '", path, "'");
  if (path.find("..") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        troupe::StrCat(where, ": ", field, " contains '..': library paths stay inside lib/"));
  }
  if (path.size() <= kLibPrefix.size() + kLibSuffix.size() ||
      path.substr(0, kLibPrefix.size()) != kLibPrefix ||
      path.substr(path.size() - kLibSuffix.size()) != kLibSuffix) {
    return absl::InvalidArgumentError(troupe::StrCat(
        where, ": ", field, " is not of the form \"lib/<name>.so\" (e.g. \"lib/hello.so\")"));
  }
  std::string_view name =
      path.substr(kLibPrefix.size(), path.size() - kLibPrefix.size() - kLibSuffix.size());
  for (char c : name) {
    if (!IsLibraryNameChar(c)) {
      return absl::InvalidArgumentError(troupe::StrCat(
          where, ": ", field, ": character '", std::string_view(&c, 1),
          "' is not allowed in a library name (use letters, digits, '_', '.', '+' and '-'; no "
          "subdirectories)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateActions(const google::protobuf::RepeatedPtrField<Action>& actions,
                             std::string_view where, std::string_view actor,
                             std::string_view list) {
  for (int i = 0; i < actions.size(); ++i) {
    if (actions[i].type().empty()) {
      return absl::InvalidArgumentError(
          troupe::StrCat(where, ": ", actor, ": ", list, "[", i, "] has no type"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateActor(const ActorSpec& actor, std::string_view where, int index) {
  if (actor.class_name().empty()) {
    return absl::InvalidArgumentError(
        troupe::StrCat(where, ": actors[", index, "] has no class_name"));
  }
  std::string name = troupe::StrCat("actors[", index, "] (class '", actor.class_name(), "')");
  for (int i = 0; i < actor.requirements_size(); ++i) {
    const Requirement& requirement = actor.requirements(i);
    if (requirement.capability().empty()) {
      return absl::InvalidArgumentError(
          troupe::StrCat(where, ": ", name, ": requirements[", i, "] has no capability"));
    }
    std::string req = troupe::StrCat(name, ": requirements[", i, "] (capability '",
                                     requirement.capability(), "')");
    switch (requirement.condition_case()) {
      case Requirement::CONDITION_NOT_SET:
        return absl::InvalidArgumentError(troupe::StrCat(
            where, ": ", req,
            " has no condition: set one of equals, at_least, at_most, present, one_of"));
      case Requirement::kAtLeast:
        if (std::isnan(requirement.at_least())) {
          return absl::InvalidArgumentError(troupe::StrCat(where, ": ", req, ": at_least is NaN"));
        }
        break;
      case Requirement::kAtMost:
        if (std::isnan(requirement.at_most())) {
          return absl::InvalidArgumentError(troupe::StrCat(where, ": ", req, ": at_most is NaN"));
        }
        break;
      default:
        break;
    }
  }
  if (absl::Status s = ValidateActions(actor.on_load(), where, name, "on_load"); !s.ok()) return s;
  if (absl::Status s = ValidateActions(actor.on_deactivate(), where, name, "on_deactivate");
      !s.ok()) {
    return s;
  }
  return ValidateActions(actor.on_reactivate(), where, name, "on_reactivate");
}

}  // namespace

absl::Status ValidateGroupName(std::string_view group) {
  if (group.empty()) return absl::InvalidArgumentError("group name is empty");
  if (group.size() > kMaxGroupLength) {
    return absl::InvalidArgumentError(
        troupe::StrCat("group '", group, "' is longer than ", kMaxGroupLength, " characters"));
  }
  if (!(group[0] >= 'a' && group[0] <= 'z')) {
    return absl::InvalidArgumentError(troupe::StrCat(
        "group '", group, "' must start with a lowercase letter, not '", group.substr(0, 1), "'"));
  }
  for (size_t i = 1; i < group.size(); ++i) {
    char c = group[i];
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.') continue;
    std::string_view why;
    if (c == '-') {
      why =
          "'-' separates group and version in bundle file names (<group>-<version>.troupe); use "
          "'_' or '.'";
    } else if (c >= 'A' && c <= 'Z') {
      why = "group names are lowercase";
    } else {
      why = "use lowercase letters, digits, '_' and '.'";
    }
    return absl::InvalidArgumentError(troupe::StrCat("group '", group, "': character '",
                                                     group.substr(i, 1), "' at position ", i + 1,
                                                     " is not allowed: ", why));
  }
  return absl::OkStatus();
}

absl::Status ValidateManifest(const Manifest& manifest, std::string_view where) {
  if (absl::Status s = ValidateGroupName(manifest.group()); !s.ok()) {
    return absl::InvalidArgumentError(troupe::StrCat(where, ": ", s.message()));
  }
  const std::string& group = manifest.group();
  if (manifest.version().empty()) {
    return absl::InvalidArgumentError(troupe::StrCat(
        where, ": bundle '", group,
        "' has no version: set \"version\" (e.g. \"1.0\") — an unversioned bundle would outrank "
        "every release"));
  }
  if (absl::Status s = ValidateVersion(manifest.version()); !s.ok()) {
    return absl::InvalidArgumentError(
        troupe::StrCat(where, ": bundle '", group, "': ", s.message()));
  }
  if (!manifest.has_abi()) {
    return absl::InvalidArgumentError(troupe::StrCat(
        where, ": bundle '", group, "' has no abi: set \"abi\": {\"major\": ", TROUPE_ABI_MAJOR,
        ", \"minor\": <the minor the libraries were built against>}"));
  }
  if (manifest.abi().major() != TROUPE_ABI_MAJOR) {
    return absl::FailedPreconditionError(
        troupe::StrCat(where, ": bundle '", group, "' needs ABI major ", manifest.abi().major(),
                       ", this host supports ", TROUPE_ABI_MAJOR));
  }
  if (manifest.abi().minor() > TROUPE_ABI_MINOR) {
    return absl::FailedPreconditionError(
        troupe::StrCat(where, ": bundle '", group, "' needs ABI ", manifest.abi().major(), ".",
                       manifest.abi().minor(), ", this host supports up to ", TROUPE_ABI_MAJOR, ".",
                       TROUPE_ABI_MINOR));
  }
  if (manifest.libraries().empty()) {
    return absl::InvalidArgumentError(
        troupe::StrCat(where, ": bundle '", group,
                       "' lists no libraries: add e.g. \"libraries\": [\"lib/", group, ".so\"]"));
  }
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < manifest.libraries_size(); ++i) {
    const std::string& path = manifest.libraries(i);
    if (absl::Status s = ValidateLibraryPath(path, where, i); !s.ok()) return s;
    if (!seen.insert(path).second) {
      return absl::InvalidArgumentError(
          troupe::StrCat(where, ": libraries[", i, "] '", path, "' is listed twice"));
    }
  }
  for (int i = 0; i < manifest.actors_size(); ++i) {
    if (absl::Status s = ValidateActor(manifest.actors(i), where, i); !s.ok()) return s;
  }
  if (manifest.auto_unload().policy_case() == troupe::v1::AutoUnload::kKeepLoaded &&
      manifest.auto_unload().keep_loaded() == 0) {
    return absl::InvalidArgumentError(troupe::StrCat(
        where,
        ": auto_unload.keep_loaded is 0: it counts the new version, so it must be at least 1 "
        "(use \"enabled\": false to keep every version loaded)"));
  }
  // keep_limit: any value is fine (0 keeps all).
  if (!manifest.isolation().empty() && !ParseIsolation(manifest.isolation()).has_value()) {
    return absl::InvalidArgumentError(troupe::StrCat(
        where, ": bundle '", group, "': isolation ", troupe::Quoted(manifest.isolation(), 64),
        " is not one of \"inline\", \"process\" (leave it out to follow the daemon's "
        "isolation_default)"));
  }
  return absl::OkStatus();
}

namespace {

// Manifests this large are refused before they are parsed.
constexpr size_t kMaxManifestBytes = Limits{}.max_manifest_bytes;
// Names quoted in errors are cut to this many bytes.
constexpr size_t kMaxQuotedName = 64;

std::string Bounded(std::string_view text) {
  if (text.size() <= kMaxQuotedName) return std::string(text);
  return troupe::StrCat(text.substr(0, kMaxQuotedName), "...");
}

// protobuf's JSON name of a proto field name: "class_name" -> "className".
std::string LowerCamel(std::string_view name) {
  std::string out;
  bool upper = false;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return out;
}

}  // namespace

absl::StatusOr<Manifest> ParseManifestJson(std::string_view json, std::string_view where) {
  // Before protobuf's parser, which takes super-linear time on deep nesting
  // and keeps the last of duplicate names: size, depth and names, in one
  // linear pass.
  if (json.size() > kMaxManifestBytes) {
    return absl::InvalidArgumentError(troupe::StrCat(where, ": the manifest is ", json.size(),
                                                     " bytes, more than the limit of ",
                                                     kMaxManifestBytes));
  }
  // A name given twice in one object, anywhere, is refused (protobuf's parser
  // would keep the last one silently). The proto field names and their
  // lowerCamel forms are one name (`class_name` = `className`).
  absl::Status repeated;
  JsonParseOptions options;
  options.same_name = [](const std::string& name) { return LowerCamel(name); };
  options.on_repeated_name = [&](std::string_view object, const std::string& name) {
    repeated = absl::InvalidArgumentError(troupe::StrCat(
        where, ": \"", Bounded(name), "\" is given twice in ",
        object.empty() ? std::string_view("the manifest's top-level object") : object,
        " (a manifest may name each field once)"));
    return repeated;
  };
  if (absl::StatusOr<nlohmann::json> outline = ParseJson(json, options); !outline.ok()) {
    if (!repeated.ok()) return repeated;
    return absl::InvalidArgumentError(
        troupe::StrCat(where, ": invalid JSON: ", outline.status().message()));
  }
  Manifest manifest;
  google::protobuf::util::JsonParseOptions protobuf_options;
  protobuf_options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &manifest, protobuf_options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(troupe::StrCat(
        where, ": invalid JSON: ", TidyProtobufMessage(status.message().ToString())));
  }
  return manifest;
}

absl::StatusOr<Manifest> ParseManifest(std::string_view json, std::string_view where) {
  absl::StatusOr<Manifest> manifest = ParseManifestJson(json, where);
  if (!manifest.ok()) return manifest;
  if (absl::Status s = ValidateManifest(*manifest, where); !s.ok()) return s;
  return manifest;
}

// Output uses the proto field names (snake_case, as in manifest.proto and
// docs/manifest.md); the parser accepts both those and protobuf's lowerCamel
// JSON names. Returns an empty string if protobuf cannot serialize the
// message (e.g. a NaN inside a google.protobuf.Value).
std::string ManifestToJson(const Manifest& manifest) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(manifest, &out, options).ok()) return {};
  return out;
}

}  // namespace troupe::bundle
