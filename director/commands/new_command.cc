// new_command.cc - `director new NAME`: a ready-to-build bundle project (a
// CMakeLists.txt using the Troupe CMake helpers, an echo actor, a manifest
// and a README).
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/bundle/manifest.h"
#include "daemon/common/strings.h"
#include "director/commands/commands.h"
#include "troupe/abi.h"

namespace troupe::director {
namespace {

namespace fs = std::filesystem;

struct NewOptions {
  std::string name;
  std::string out;
};

// Replaces `{{key}}` in `text`.
std::string Fill(std::string text, std::string_view key, std::string_view value) {
  const std::string marker = troupe::StrCat("{{", key, "}}");
  for (size_t at = text.find(marker); at != std::string::npos;
       at = text.find(marker, at + value.size())) {
    text.replace(at, marker.size(), value);
  }
  return text;
}

constexpr std::string_view kCMakeLists =
    R"(# {{name}}: a Troupe bundle project made by `director new {{name}}`.
cmake_minimum_required(VERSION 3.25)
project({{target}} LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)

# Provides troupe_add_actor_library() and troupe_add_bundle().
find_package(Troupe REQUIRED)

# The actor library: {{target}}.so, exporting the classes in src/{{target}}.cc.
troupe_add_actor_library({{target}} SOURCES src/{{target}}.cc)

# The signed bundle {{name}}-<version>.troupe (version from manifest.json),
# holding manifest.json and lib/{{target}}.so. Without KEY it is signed with
# the build tree's development key; add KEY <secret key file> for releases,
# DATA <file>... for data files.
troupe_add_bundle(NAME {{target}}_bundle MANIFEST manifest.json LIBRARIES {{target}})
)";

constexpr std::string_view kSource =
    R"(// {{target}}.cc - the actors of bundle {{name}} (made by `director new`).
// See sdk/include/troupe/actor.h for the SDK.
#include <string>

#include "troupe/actor.h"

namespace {

// {{name}}.Echo: replies "echo" with the payload of every "hello" message,
// and the same type and payload to anything else.
class Echo : public troupe::Actor {
 public:
  Echo() { On("hello", &Echo::Hello); }

  void Unhandled(const troupe::Message& message) override {
    Reply(message, message.type(), message.payload());
  }

 private:
  void Hello(const troupe::Message& message) {
    Reply(message, "echo", std::string(message.payload()));
  }
};

}  // namespace

TROUPE_EXPORT_ACTORS("{{target}}", troupe::ActorClass<Echo>("{{name}}.Echo"));
)";

constexpr std::string_view kManifest = R"({
  "group": "{{name}}",
  "version": "0.1.0",
  "description": "{{name}}: made by director new",
  "abi": {"major": {{abi_major}}, "minor": {{abi_minor}}},
  "libraries": ["lib/{{target}}.so"],
  "actors": [
    {"class_name": "{{name}}.Echo", "role": "echo"}
  ],
  "keep_limit": 3
}
)";

constexpr std::string_view kReadme = R"(# {{name}} — a Troupe bundle

Made by `director new {{name}}`. Files:

- `src/{{target}}.cc`: the actor classes (`{{name}}.Echo`), written against `troupe/actor.h`.
- `manifest.json`: the bundle manifest (group `{{name}}`, version, actors, keep limit).
- `CMakeLists.txt`: builds `{{target}}.so` and the signed bundle.

## Build

```sh
cmake -S . -B build -DCMAKE_PREFIX_PATH=<Troupe install prefix>
cmake --build build      # {{target}}.so and build/{{name}}-<version>.troupe
# This host must trust the key that signed it before anything verifies:
director --dir /tmp/troupe trust build/troupe-keys/build.pub
director --dir /tmp/troupe tlsinfo build/{{name}}-0.1.0.troupe contents
```

(`--dir` names the Troupe directory; without it `TROUPE_DIR`, else `/var/lib/troupe`.)

The CMake build signs with a development key kept in the build tree
(`build/troupe-keys/build.key`); trust its `.pub` only on test hosts. For a release,
sign with your own key (`director keygen signing`, then `KEY` in `troupe_add_bundle`)
and `director trust` its `.pub` on every host that loads the bundle.

Without the CMake bundle helper, build the library and sign it by hand:

```sh
director --dir /tmp/troupe keygen signing       # once; prints how to trust it
director --dir /tmp/troupe trust /tmp/troupe/keys/signing.pub
director --dir /tmp/troupe gensrc --manifest manifest.json --lib build/{{target}}.so --version date
director --dir /tmp/troupe avail
```

Every bundle needs a version: bump `"version"` in `manifest.json` (or pass `--version`)
for each release; `--version date` gives `YYYYMMDDHHMM` (UTC).

Where it runs: without an `"isolation"` in `manifest.json` the daemon's `isolation_default`
decides (inside troupd unless changed). `"isolation": "process"` asks for a host process of
its own; `"inline"` for troupd itself. A host that trusts the signing key with `director
trust --isolated` always runs it in its own process (Troupe's docs/manifest.md, "Isolation").
)";

absl::Status WriteNew(const fs::path& path, std::string_view content) {
  return WriteFileAtomically(path.string(), content, 0644, /*overwrite=*/false);
}

int New(Context& ctx, const NewOptions& options) {
  if (absl::Status s = bundle::ValidateGroupName(options.name); !s.ok()) {
    return ctx.Fail(absl::InvalidArgumentError(
        troupe::StrCat("invalid bundle name '", options.name, "': ", s.message())));
  }
  // Target and file names: the group name with '.' as '_'.
  std::string target = options.name;
  std::replace(target.begin(), target.end(), '.', '_');
  const fs::path dir = options.out.empty() ? fs::path(options.name) : fs::path(options.out);
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return ctx.Fail(
        absl::AlreadyExistsError(troupe::StrCat(dir.string(),
                                                " already exists; `director new` only creates new "
                                                "directories (use --out to choose another)")));
  }
  if (absl::Status s = MakeDirectories((dir / "src").string()); !s.ok()) return ctx.Fail(s);
  const auto fill = [&](std::string_view text) {
    std::string out = Fill(std::string(text), "name", options.name);
    out = Fill(out, "target", target);
    out = Fill(out, "abi_major", std::to_string(TROUPE_ABI_MAJOR));
    return Fill(out, "abi_minor", std::to_string(TROUPE_ABI_MINOR));
  };
  const std::pair<fs::path, std::string> files[] = {
      {dir / "CMakeLists.txt", fill(kCMakeLists)},
      {dir / "src" / (target + ".cc"), fill(kSource)},
      {dir / "manifest.json", fill(kManifest)},
      {dir / "README.md", fill(kReadme)},
  };
  std::vector<std::string> written;
  for (const auto& [path, content] : files) {
    if (absl::Status s = WriteNew(path, content); !s.ok()) return ctx.Fail(s);
    written.push_back(path.string());
  }
  if (ctx.json()) {
    Json files = Json::array();
    for (const std::string& w : written) files.push_back(Json{{"path", w}});
    return ctx.PrintJson(Json{{"dir", dir.string()}, {"group", options.name}, {"files", files}});
  }
  ctx.out() << "created bundle project " << options.name << " in " << dir.string() << ":\n";
  for (const std::string& w : written) ctx.out() << "  " << w << "\n";
  ctx.out() << "next: see " << (dir / "README.md").string() << "\n";
  return kExitOk;
}

}  // namespace

void AddNewCommand(CLI::App& app, Runner* run) {
  auto options = std::make_shared<NewOptions>();
  CLI::App* cmd = app.add_subcommand(
      "new",
      "Create a ready-to-build bundle project: CMakeLists.txt, src/NAME.cc (an echo actor), "
      "manifest.json, README.md. Refuses an existing directory (exit 6).");
  cmd->add_option("NAME", options->name,
                  "Bundle group name: lowercase letters, digits, '_', '.', starting with a letter")
      ->required();
  cmd->add_option("--out", options->out, "Project directory (default: ./NAME)");
  cmd->callback([options, run] { *run = [options](Context& ctx) { return New(ctx, *options); }; });
}

}  // namespace troupe::director
