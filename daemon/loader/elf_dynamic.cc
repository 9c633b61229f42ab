#include "daemon/loader/elf_dynamic.h"

#include <elf.h>
#include <endian.h>

#include <cstdint>
#include <cstring>
#include <optional>

#include "daemon/common/strings.h"

namespace troupe::loader {
namespace {

#if __BYTE_ORDER == __LITTLE_ENDIAN
constexpr unsigned char kHostData = ELFDATA2LSB;
#else
constexpr unsigned char kHostData = ELFDATA2MSB;
#endif

// Dynamic sections hold tens of entries; this only bounds a hostile file.
constexpr uint64_t kMaxDynamicEntries = 1 << 16;

// True when [offset, offset + length) lies within [0, size), without overflow.
bool InRange(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

template <typename T>
T ReadAt(std::string_view bytes, uint64_t offset) {  // caller checked the range
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

}  // namespace

absl::StatusOr<ElfDynamicInfo> ReadElfDynamic(std::string_view bytes, std::string_view name) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(troupe::StrCat(name, ": ", why));
  };
  const uint64_t size = bytes.size();
  if (size < EI_NIDENT || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0) {
    return bad("not an ELF file");
  }
  if (static_cast<unsigned char>(bytes[EI_CLASS]) != ELFCLASS64) {
    return bad("not a 64-bit ELF file");
  }
  if (static_cast<unsigned char>(bytes[EI_DATA]) != kHostData) {
    return bad("ELF file of another byte order than this host");
  }
  if (size < sizeof(Elf64_Ehdr)) return bad("truncated ELF header");
  const auto header = ReadAt<Elf64_Ehdr>(bytes, 0);
  if (header.e_type != ET_DYN) {
    return bad(troupe::StrCat("not a shared object (ELF type ", header.e_type, ")"));
  }
  if (header.e_phnum == 0) return bad("no program headers");
  if (header.e_phentsize != sizeof(Elf64_Phdr)) {
    return bad(troupe::StrCat("program header size ", header.e_phentsize, ", expected ",
                              sizeof(Elf64_Phdr)));
  }
  if (header.e_phnum == PN_XNUM) return bad("extended program header numbering");
  const uint64_t phdrs_size = uint64_t{header.e_phnum} * sizeof(Elf64_Phdr);
  if (!InRange(header.e_phoff, phdrs_size, size)) {
    return bad("truncated: program headers past the end of the file");
  }
  std::vector<Elf64_Phdr> phdrs;
  phdrs.reserve(header.e_phnum);
  for (uint64_t i = 0; i < header.e_phnum; ++i) {
    phdrs.push_back(ReadAt<Elf64_Phdr>(bytes, header.e_phoff + i * sizeof(Elf64_Phdr)));
  }

  const Elf64_Phdr* dynamic = nullptr;
  for (const Elf64_Phdr& phdr : phdrs) {
    if (phdr.p_type == PT_DYNAMIC) {
      dynamic = &phdr;
      break;
    }
  }
  ElfDynamicInfo info;
  if (dynamic == nullptr) return info;
  if (!InRange(dynamic->p_offset, dynamic->p_filesz, size)) {
    return bad("truncated: dynamic section past the end of the file");
  }

  std::optional<uint64_t> strtab_address, strtab_size, soname, runpath, rpath;
  std::vector<uint64_t> needed;
  const uint64_t count = dynamic->p_filesz / sizeof(Elf64_Dyn);
  bool terminated = false;
  for (uint64_t i = 0; i < count && i < kMaxDynamicEntries; ++i) {
    const auto entry = ReadAt<Elf64_Dyn>(bytes, dynamic->p_offset + i * sizeof(Elf64_Dyn));
    if (entry.d_tag == DT_NULL) {
      terminated = true;
      break;
    }
    const uint64_t value = entry.d_un.d_val;
    switch (entry.d_tag) {
      case DT_STRTAB:
        strtab_address = value;
        break;
      case DT_STRSZ:
        strtab_size = value;
        break;
      case DT_SONAME:
        soname = value;
        break;
      case DT_NEEDED:
        needed.push_back(value);
        break;
      case DT_RUNPATH:
        runpath = value;
        break;
      case DT_RPATH:
        rpath = value;
        break;
      default:
        break;
    }
  }
  if (!terminated) return bad("dynamic section without DT_NULL terminator");
  if (!soname && needed.empty() && !runpath && !rpath) return info;

  // DT_STRTAB is an address: find the loaded segment that holds it.
  if (!strtab_address || !strtab_size) return bad("dynamic section without a string table");
  std::optional<uint64_t> strtab_offset;
  for (const Elf64_Phdr& phdr : phdrs) {
    if (phdr.p_type != PT_LOAD || *strtab_address < phdr.p_vaddr) continue;
    const uint64_t into = *strtab_address - phdr.p_vaddr;
    if (into < phdr.p_filesz && *strtab_size <= phdr.p_filesz - into) {
      strtab_offset = phdr.p_offset + into;
      break;
    }
  }
  if (!strtab_offset) return bad("string table outside the loaded segments");
  if (!InRange(*strtab_offset, *strtab_size, size)) {
    return bad("truncated: string table past the end of the file");
  }
  const std::string_view strtab = bytes.substr(*strtab_offset, *strtab_size);
  std::optional<absl::Status> error;
  const auto string_at = [&](uint64_t index) -> std::string {
    if (error) return "";
    if (index >= strtab.size()) {
      error = bad(troupe::StrCat("string offset ", index, " outside the string table"));
      return "";
    }
    const size_t end = strtab.find('\0', index);
    if (end == std::string_view::npos) {
      error = bad("unterminated string in the dynamic string table");
      return "";
    }
    return std::string(strtab.substr(index, end - index));
  };
  if (soname) info.soname = string_at(*soname);
  for (uint64_t index : needed) info.needed.push_back(string_at(index));
  if (runpath) {
    info.runpath = string_at(*runpath);
  } else if (rpath) {
    info.runpath = string_at(*rpath);
  }
  if (error) return *error;
  return info;
}

}  // namespace troupe::loader
