// leftovers.h - what interrupted loads and unloads leave behind in
// <TROUPE_DIR>/loaded/ and the library root; BundleHost::Restore removes it
// at start-up. Private to daemon/hosting.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::hosting {

// Removes from `loaded_dir` the files whose names end in ".tmp" (partial
// writes) and the stored copies "<hash>.troupe" whose hash `state_text` (the
// state file) does not contain; from `library_root`, the directories named by
// a source hash that `state_text` does not contain, `loaded` does not accept
// and whose libraries are not mapped in this process. Nothing else is
// touched. Returns one line per removed (or unremovable) file or directory:
// "removed <path> (<what it was>)". A missing directory is no error.
std::vector<std::string> RemoveLeftovers(const std::string& loaded_dir,
                                         const std::string& library_root,
                                         std::string_view state_text,
                                         const std::function<bool(std::string_view hash)>& loaded);

}  // namespace troupe::hosting
