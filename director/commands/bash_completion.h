// bash_completion.h - the bash completion script of `director`, made from its
// CLI11 command tree (`director completion bash`; the Debian package installs
// the output as /usr/share/bash-completion/completions/director).
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace CLI {
class App;
}  // namespace CLI

namespace troupe::director {

// A bash script defining `_director` and registering it with `complete` for
// the command `director`. It offers, at each level of `root`'s tree, the
// subcommands of that level and (after a `-`) its options plus the root's
// own options (which CLI11 accepts after a command too); the word after an
// option that takes a value, and positional arguments, fall back to bash's
// file name completion. InternalError when a command or option name holds a
// character the script would have to quote (none does: the names are ours).
absl::StatusOr<std::string> BashCompletionScript(const CLI::App& root);

}  // namespace troupe::director
