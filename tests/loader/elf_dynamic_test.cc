// Tests of ReadElfDynamic (daemon/loader/elf_dynamic.h) on real libraries and
// corrupted copies of them, and of the soname check in bundle_loader.h with
// two files that share one soname.
#include "daemon/loader/elf_dynamic.h"

#include <dlfcn.h>
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "daemon/loader/bundle_loader.h"
#include "tests/common/status_matchers.h"

namespace troupe::loader {
namespace {

namespace fs = std::filesystem;

constexpr char kSoname[] = "libtroupe_soname_test.so.1";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

template <typename T>
T Get(const std::string& bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}
template <typename T>
void Put(std::string* bytes, size_t offset, const T& value) {
  std::memcpy(bytes->data() + offset, &value, sizeof(T));
}

// Where the dynamic entries of a well-formed library start, and how many.
struct DynamicTable {
  size_t offset = 0;
  size_t count = 0;
};
DynamicTable FindDynamic(const std::string& bytes) {
  const auto header = Get<Elf64_Ehdr>(bytes, 0);
  for (size_t i = 0; i < header.e_phnum; ++i) {
    const auto phdr = Get<Elf64_Phdr>(bytes, header.e_phoff + i * sizeof(Elf64_Phdr));
    if (phdr.p_type == PT_DYNAMIC) return {phdr.p_offset, phdr.p_filesz / sizeof(Elf64_Dyn)};
  }
  ADD_FAILURE() << "no PT_DYNAMIC";
  return {};
}
// The offset of the first dynamic entry tagged `tag`.
std::optional<size_t> FindTag(const std::string& bytes, int64_t tag) {
  const DynamicTable table = FindDynamic(bytes);
  for (size_t i = 0; i < table.count; ++i) {
    const size_t at = table.offset + i * sizeof(Elf64_Dyn);
    if (Get<Elf64_Dyn>(bytes, at).d_tag == tag) return at;
  }
  return std::nullopt;
}

class ElfDynamicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    library_ = ReadAll(TROUPE_SONAME_ONE_PATH);
    ASSERT_GT(library_.size(), sizeof(Elf64_Ehdr));
  }
  // Expects InvalidArgument whose message names the file and contains `part`.
  void ExpectRejected(const std::string& bytes, const std::string& part) {
    absl::StatusOr<ElfDynamicInfo> info = ReadElfDynamic(bytes, "lib/x.so");
    ASSERT_FALSE(info.ok()) << "accepted; soname " << info->soname;
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_CONTAINS(info.status().message(), "lib/x.so: ");
    EXPECT_CONTAINS(info.status().message(), part);
  }

  std::string library_;
};

TEST_F(ElfDynamicTest, ReadsTheSonameOfABuiltLibrary) {
  ASSERT_OK_AND_ASSIGN(ElfDynamicInfo info, ReadElfDynamic(library_, TROUPE_SONAME_ONE_PATH));
  EXPECT_EQ(info.soname, kSoname);
}

TEST_F(ElfDynamicTest, AnActorLibraryHasNoSonameAndNamesWhatItNeeds) {
  ASSERT_OK_AND_ASSIGN(ElfDynamicInfo info,
                       ReadElfDynamic(ReadAll(TROUPE_DEPS_ACTOR_PATH), TROUPE_DEPS_ACTOR_PATH));
  EXPECT_EQ(info.soname, "");
  const auto dep = std::find(info.needed.begin(), info.needed.end(), "libtdep_a.so.1");
  const auto libc = std::find(info.needed.begin(), info.needed.end(), "libc.so.6");
  EXPECT_NE(dep, info.needed.end());
  EXPECT_NE(libc, info.needed.end());
  EXPECT_LT(dep, libc) << "DT_NEEDED in file order";
  EXPECT_EQ(info.runpath, "");
}

TEST_F(ElfDynamicTest, RejectsWhatIsNotAnElfFile) {
  ExpectRejected("", "not an ELF file");
  ExpectRejected("hello, world", "not an ELF file");
  ExpectRejected(std::string("PK\x03\x04", 4) + std::string(100, '\0'), "not an ELF file");
  ExpectRejected(
      "\x7f"
      "ELF",
      "not an ELF file");  // shorter than e_ident
}

TEST_F(ElfDynamicTest, RejectsAnotherClassByteOrderOrType) {
  std::string bytes = library_;
  bytes[EI_CLASS] = ELFCLASS32;
  ExpectRejected(bytes, "not a 64-bit ELF file");
  bytes = library_;
  bytes[EI_DATA] = bytes[EI_DATA] == ELFDATA2LSB ? ELFDATA2MSB : ELFDATA2LSB;
  ExpectRejected(bytes, "byte order");
  bytes = library_;
  Put<Elf64_Half>(&bytes, offsetof(Elf64_Ehdr, e_type), ET_EXEC);
  ExpectRejected(bytes, "not a shared object");
}

TEST_F(ElfDynamicTest, EveryTruncationIsRejectedOrReadsTheSameAnswer) {
  ASSERT_OK_AND_ASSIGN(ElfDynamicInfo full, ReadElfDynamic(library_, "full"));
  size_t accepted = 0;
  for (size_t n = 0; n < library_.size(); ++n) {
    absl::StatusOr<ElfDynamicInfo> info =
        ReadElfDynamic(std::string_view(library_).substr(0, n), "x");
    if (info.ok()) {
      // Only a cut after everything the reader needs (e.g. in the section
      // headers at the end) may succeed, and then with the same result.
      EXPECT_EQ(info->soname, full.soname) << "cut at " << n;
      EXPECT_EQ(info->needed, full.needed) << "cut at " << n;
      ++accepted;
    } else {
      EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument) << "cut at " << n;
    }
  }
  EXPECT_GT(accepted, 0u) << "the section headers at the end are not needed";
  const DynamicTable table = FindDynamic(library_);
  ExpectRejected(library_.substr(0, table.offset + table.count * sizeof(Elf64_Dyn) - 1),
                 "truncated: dynamic section");
  ExpectRejected(library_.substr(0, sizeof(Elf64_Ehdr) - 1), "truncated ELF header");
  ExpectRejected(library_.substr(0, sizeof(Elf64_Ehdr)), "truncated: program headers");
}

TEST_F(ElfDynamicTest, RejectsOffsetsOutsideTheFile) {
  std::string bytes = library_;
  Put<Elf64_Off>(&bytes, offsetof(Elf64_Ehdr, e_phoff), ~Elf64_Off{0} - 8);
  ExpectRejected(bytes, "program headers past the end");

  bytes = library_;
  Put<Elf64_Half>(&bytes, offsetof(Elf64_Ehdr, e_phnum), PN_XNUM);
  ExpectRejected(bytes, "extended program header numbering");

  bytes = library_;
  Put<Elf64_Half>(&bytes, offsetof(Elf64_Ehdr, e_phentsize), 32);
  ExpectRejected(bytes, "program header size");

  const std::optional<size_t> soname = FindTag(library_, DT_SONAME);
  const std::optional<size_t> strsz = FindTag(library_, DT_STRSZ);
  const std::optional<size_t> strtab = FindTag(library_, DT_STRTAB);
  ASSERT_TRUE(soname && strsz && strtab);

  bytes = library_;
  Put<Elf64_Xword>(&bytes, *soname + offsetof(Elf64_Dyn, d_un), 1u << 30);
  ExpectRejected(bytes, "outside the string table");

  bytes = library_;
  Put<Elf64_Xword>(&bytes, *strsz + offsetof(Elf64_Dyn, d_un), ~Elf64_Xword{0});
  ExpectRejected(bytes, "string table outside the loaded segments");

  bytes = library_;
  Put<Elf64_Addr>(&bytes, *strtab + offsetof(Elf64_Dyn, d_un), ~Elf64_Addr{0} - 4);
  ExpectRejected(bytes, "string table outside the loaded segments");

  // A string table that ends inside the soname: no terminating NUL.
  bytes = library_;
  const auto soname_index = Get<Elf64_Dyn>(library_, *soname).d_un.d_val;
  Put<Elf64_Xword>(&bytes, *strsz + offsetof(Elf64_Dyn, d_un), soname_index + 3);
  ExpectRejected(bytes, "unterminated string");

  // No DT_NULL: every entry's tag overwritten with DT_DEBUG.
  bytes = library_;
  const DynamicTable table = FindDynamic(library_);
  for (size_t i = 0; i < table.count; ++i) {
    Put<Elf64_Sxword>(&bytes, table.offset + i * sizeof(Elf64_Dyn), DT_DEBUG);
  }
  ExpectRejected(bytes, "without DT_NULL");
}

TEST(SonameCheckTest, ASecondFileWithALoadedSonameIsRefused) {
  EXPECT_EQ(ResidentPathOfSoname(kSoname), std::nullopt);
  EXPECT_OK(CheckSonameNotLoadedElsewhere(kSoname, TROUPE_SONAME_TWO_PATH));

  void* one = ::dlopen(TROUPE_SONAME_ONE_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(one, nullptr) << ::dlerror();
  std::optional<std::string> resident = ResidentPathOfSoname(kSoname);
  ASSERT_TRUE(resident.has_value()) << "RTLD_LOCAL still registers the soname";
  EXPECT_TRUE(fs::equivalent(*resident, TROUPE_SONAME_ONE_PATH)) << *resident;

  absl::Status refused = CheckSonameNotLoadedElsewhere(kSoname, TROUPE_SONAME_TWO_PATH);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(refused.message(), TROUPE_SONAME_TWO_PATH);
  EXPECT_CONTAINS(refused.message(), kSoname);
  EXPECT_CONTAINS(refused.message(), *resident);
  EXPECT_OK(CheckSonameNotLoadedElsewhere(kSoname, TROUPE_SONAME_ONE_PATH))
      << "the loaded file itself is no clash";
  EXPECT_OK(CheckSonameNotLoadedElsewhere("", TROUPE_SONAME_TWO_PATH));

  ASSERT_EQ(::dlclose(one), 0);
  EXPECT_EQ(ResidentPathOfSoname(kSoname), std::nullopt);
  EXPECT_OK(CheckSonameNotLoadedElsewhere(kSoname, TROUPE_SONAME_TWO_PATH));
}

TEST(SonameCheckTest, FindsSystemLibrariesBySoname) {
  std::optional<std::string> libc = ResidentPathOfSoname("libc.so.6");
  ASSERT_TRUE(libc.has_value());
  EXPECT_CONTAINS(*libc, "libc");
  EXPECT_EQ(ResidentPathOfSoname("libtroupe-nobody-has-this.so.7"), std::nullopt);
}

}  // namespace
}  // namespace troupe::loader
