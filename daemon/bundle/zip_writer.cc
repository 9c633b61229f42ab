// zip_writer.cc - writing a bundle zip with libzip: fixed
// timestamps, entries in order (bundle_internal.h).
#include "daemon/bundle/bundle_internal.h"

namespace troupe::bundle::internal {

// 1980-01-01 00:00 local time: libzip converts to DOS time with localtime(),
// so this is the same DOS timestamp in every time zone.
time_t FixedMtime() {
  struct tm tm = {};
  tm.tm_year = 80;
  tm.tm_mon = 0;
  tm.tm_mday = 1;
  tm.tm_isdst = -1;
  return mktime(&tm);
}

absl::StatusOr<std::string> WriteZip(const std::vector<ZipInput>& inputs) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (out == nullptr) {
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    return absl::InternalError(StrCat("cannot create a bundle in memory (", message, ")"));
  }
  zip_source_keep(out);  // one reference for the archive, one for us
  zip_t* za = zip_open_from_source(out, ZIP_TRUNCATE, &error);
  if (za == nullptr) {
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    zip_source_free(out);
    zip_source_free(out);
    return absl::InternalError(StrCat("cannot create a bundle in memory (", message, ")"));
  }
  zip_error_fini(&error);
  auto fail = [&](std::string_view what, std::string_view name) {
    std::string message = StrCat("cannot write bundle entry '", Shown(name), "' (", what, ": ",
                                 zip_strerror(za), ")");
    zip_discard(za);
    zip_source_free(out);
    return absl::InternalError(message);
  };
  const time_t mtime = FixedMtime();
  for (const ZipInput& input : inputs) {
    zip_source_t* data = zip_source_buffer(za, input.content.data(), input.content.size(), 0);
    if (data == nullptr) return fail("source", input.name);
    std::string name(input.name);
    zip_int64_t index = zip_file_add(za, name.c_str(), data, 0);
    if (index < 0) {
      zip_source_free(data);
      return fail("add", input.name);
    }
    auto i = static_cast<zip_uint64_t>(index);
    uint32_t mode = input.executable ? 0100755 : 0100644;
    if (zip_file_set_mtime(za, i, mtime, 0) != 0) return fail("mtime", input.name);
    if (zip_file_set_external_attributes(za, i, 0, ZIP_OPSYS_UNIX, mode << 16) != 0) {
      return fail("attributes", input.name);
    }
    if (zip_set_file_compression(za, i, ZIP_CM_DEFLATE, 9) != 0) {
      return fail("compression", input.name);
    }
  }
  if (zip_close(za) != 0) return fail("close", "");
  std::string bytes;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_open(out) != 0 || zip_source_stat(out, &st) != 0 ||
      (st.valid & ZIP_STAT_SIZE) == 0) {
    zip_source_free(out);
    return absl::InternalError("cannot read back the bundle written in memory");
  }
  bytes.resize(st.size);
  size_t done = 0;
  while (done < bytes.size()) {
    zip_int64_t n = zip_source_read(out, bytes.data() + done, bytes.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  zip_source_close(out);
  zip_source_free(out);
  if (done != bytes.size()) {
    return absl::InternalError("cannot read back the bundle written in memory");
  }
  return bytes;
}

}  // namespace troupe::bundle::internal
