// root_access.h - whether a process that drops root can still reach files:
// some build roots (chroots made from a 0700 temporary directory) have a "/"
// only root may search. There an isolated host, which runs as nobody when
// troupd is root, can open nothing, and the tests that switch users skip.
#pragma once

#include <sys/stat.h>

namespace troupe::testing {

// True when "/" is searchable by users other than its owner.
inline bool OthersCanSearchRoot() {
  struct stat st;
  return ::stat("/", &st) == 0 && (st.st_mode & S_IXOTH) != 0;
}

inline constexpr const char* kRootNotSearchable =
    "'/' is not searchable by other users here (mode 0700): a process that drops root "
    "(an isolated host as nobody) can open no file in this root";

}  // namespace troupe::testing
