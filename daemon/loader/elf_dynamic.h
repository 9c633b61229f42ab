// elf_dynamic.h - reads the dynamic section of an ELF64 shared object from
// its bytes (DT_SONAME, DT_NEEDED, DT_RUNPATH/DT_RPATH), without loading it.
// The loader uses it to refuse a bundled library whose soname is already
// loaded from another file (PLUGIN-LOADING.md section 3.4) before any
// bundle code is mapped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace troupe::loader {

// What the dynamic linker reads by name from a shared object.
struct ElfDynamicInfo {
  std::string soname;               // DT_SONAME; empty when there is none
  std::vector<std::string> needed;  // DT_NEEDED, in file order
  std::string runpath;              // DT_RUNPATH, else DT_RPATH; empty when neither
};

// Parses `bytes` as a 64-bit ELF shared object (ET_DYN) of this host's byte
// order and reads its dynamic section through the program headers (PT_DYNAMIC
// and the PT_LOAD holding DT_STRTAB), as the dynamic linker does, so stripped
// section headers do not matter. Every offset and size is bounds-checked
// against `bytes`. InvalidArgument naming `name` (the file, for messages) when
// `bytes` is not such a file or is truncated or malformed. A shared object
// without PT_DYNAMIC gives an empty result.
absl::StatusOr<ElfDynamicInfo> ReadElfDynamic(std::string_view bytes, std::string_view name);

}  // namespace troupe::loader
