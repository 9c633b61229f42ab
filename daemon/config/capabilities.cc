// capabilities.cc - loading capabilities.json and capabilities/<name>.
#include "daemon/config/capabilities.h"

#include <algorithm>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "daemon/common/json.h"
#include "daemon/common/small_file.h"
#include "daemon/common/strings.h"

namespace troupe::config {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxObjectFileBytes = 1 << 20;
constexpr uint64_t kMaxValueFileBytes = 64 * 1024;

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n\v\f";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

void Set(std::vector<CapabilityValue>* out, CapabilityValue value) {
  for (CapabilityValue& existing : *out) {
    if (existing.name == value.name) {
      existing = std::move(value);
      return;
    }
  }
  out->push_back(std::move(value));
}

std::string ReadOnlyProblem(std::string_view name) {
  std::string names;
  for (std::string_view read_only : kReadOnlyCapabilities) {
    troupe::StrAppend(&names, names.empty() ? "" : ", ", read_only);
  }
  return troupe::StrCat("capability '", name, "' is read-only: troupd sets it (read-only names: ",
                        names, ")");
}

// How capability files are read: the daemon's user's (or root's) and writable
// by nobody else, since whoever can write one decides what this node offers.
SmallFileOptions Trusted(std::optional<uid_t> owner) {
  SmallFileOptions options;
  options.trusted_owner = true;
  options.owner = owner;
  return options;
}

void LoadObjectFile(const std::string& path, std::optional<uid_t> owner,
                    std::vector<CapabilityValue>* out, std::vector<std::string>* problems) {
  absl::StatusOr<std::string> text = ReadSmallFile(path, kMaxObjectFileBytes, Trusted(owner));
  if (!text.ok()) {
    problems->emplace_back(text.status().message());  // names the file
    return;
  }
  // Names given twice are problems; the parse goes on to find the others.
  std::vector<std::string> repeated;
  JsonParseOptions options;
  options.on_repeated_name = [&](std::string_view object, const std::string& name) {
    if (object.empty()) repeated.push_back(name);
    return absl::OkStatus();
  };
  absl::StatusOr<nlohmann::ordered_json> object = ParseOrderedJson(*text, options);
  if (!object.ok()) {
    problems->push_back(
        troupe::StrCat(path, ": not valid JSON: ", object.status().message()));
    return;
  }
  if (!object->is_object()) {
    problems->push_back(troupe::StrCat(
        path, ": must be a JSON object of capability name -> value, e.g. {\"zone\": \"eu\"}"));
    return;
  }
  for (const auto& [name, value] : object->items()) {
    if (name.empty()) {
      problems->push_back(troupe::StrCat(path, ": a capability name is empty"));
      continue;
    }
    if (std::find(repeated.begin(), repeated.end(), name) != repeated.end()) {
      problems->push_back(troupe::StrCat(path, ": capability '", name, "' is given twice"));
      continue;
    }
    if (IsReadOnlyCapability(name)) {
      problems->push_back(troupe::StrCat(path, ": ", ReadOnlyProblem(name)));
      continue;
    }
    Set(out, CapabilityValue{name, JsonText(value), path});
  }
}

void LoadValueFiles(const std::string& dir, std::optional<uid_t> owner,
                    std::vector<CapabilityValue>* out, std::vector<std::string>* problems) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) {
    problems->push_back(troupe::StrCat(dir, ": not a directory (one file per capability)"));
    return;
  }
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || name.back() == '~') continue;
    names.push_back(name);
  }
  if (ec) {
    problems->push_back(troupe::StrCat(dir, ": cannot be listed: ", ec.message()));
    return;
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = troupe::StrCat(dir, "/", name);
    if (IsReadOnlyCapability(name)) {
      problems->push_back(troupe::StrCat(path, ": ", ReadOnlyProblem(name)));
      continue;
    }
    absl::StatusOr<std::string> text = ReadSmallFile(path, kMaxValueFileBytes, Trusted(owner));
    if (!text.ok()) {
      problems->emplace_back(text.status().message());  // names the file
      continue;
    }
    const std::string_view value = Trim(*text);
    if (value.empty()) {
      problems->push_back(troupe::StrCat(
          path, ": empty; write a JSON value (8, true, \"eu\", [1, 2]) or plain text"));
      continue;
    }
    absl::StatusOr<nlohmann::ordered_json> parsed = ParseOrderedJson(value);
    if (parsed.ok()) {
      Set(out, CapabilityValue{name, JsonText(*parsed), path});
    } else if (value.front() == '{' || value.front() == '[' || value.front() == '"') {
      problems->push_back(
          troupe::StrCat(path, ": looks like JSON but is not: ", parsed.status().message()));
    } else {
      // Plain text: a string.
      Set(out, CapabilityValue{name, JsonText(nlohmann::ordered_json(std::string(value))), path});
    }
  }
}

}  // namespace

bool IsReadOnlyCapability(std::string_view name) {
  return std::find(std::begin(kReadOnlyCapabilities), std::end(kReadOnlyCapabilities), name) !=
         std::end(kReadOnlyCapabilities);
}

absl::StatusOr<std::vector<CapabilityValue>> LoadCapabilities(std::string_view troupe_dir,
                                                              std::optional<uid_t> owner) {
  std::vector<CapabilityValue> out;
  std::vector<std::string> problems;
  const std::string object_path = troupe::StrCat(troupe_dir, "/capabilities.json");
  std::error_code ec;
  if (fs::exists(object_path, ec) || fs::is_symlink(object_path, ec)) {
    LoadObjectFile(object_path, owner, &out, &problems);
  }
  LoadValueFiles(troupe::StrCat(troupe_dir, "/capabilities"), owner, &out, &problems);
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return out;
}

}  // namespace troupe::config
