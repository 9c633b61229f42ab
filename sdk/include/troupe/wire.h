// wire.h - the field encoding of Troupe's system message payloads (see the
// "System message types" section of abi.h): a field is a little-endian uint32
// length followed by that many bytes; fixed-size numbers are little-endian.
//
// Header-only, standard library only, no exceptions. Used by actor code
// (through actor.h) and by host code (the runtime builds system message
// payloads with it), so it must stay free of any other Troupe dependency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::wire {

// Appends `value` as 4 little-endian bytes to *out.
inline void AppendU32(std::string* out, uint32_t value) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  out->append(bytes, sizeof(bytes));
}

// Appends `value` as 8 little-endian bytes to *out.
inline void AppendU64(std::string* out, uint64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  out->append(bytes, sizeof(bytes));
}

// Appends one field: uint32 LE length of `field`, then its bytes. Fields longer
// than 4 GiB - 1 cannot be encoded; the caller must not pass one.
inline void AppendField(std::string* out, std::string_view field) {
  AppendU32(out, static_cast<uint32_t>(field.size()));
  out->append(field.data(), field.size());
}

// Reads 4 LE bytes from the front of *in into *value and advances *in.
// Returns false (and leaves *in and *value unchanged) when *in is too short.
inline bool ReadU32(std::string_view* in, uint32_t* value) {
  if (in->size() < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>((*in)[i])) << (8 * i);
  *value = v;
  in->remove_prefix(4);
  return true;
}

// Reads 8 LE bytes from the front of *in into *value and advances *in.
// Returns false (and leaves *in and *value unchanged) when *in is too short.
inline bool ReadU64(std::string_view* in, uint64_t* value) {
  if (in->size() < 8) return false;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>((*in)[i])) << (8 * i);
  *value = v;
  in->remove_prefix(8);
  return true;
}

// Reads one field from the front of *in. On success *out views the field's
// bytes inside the original buffer (no copy) and *in is advanced past it.
// Returns false (and leaves *in and *out unchanged) when *in is truncated.
inline bool ReadField(std::string_view* in, std::string_view* out) {
  std::string_view rest = *in;
  uint32_t size = 0;
  if (!ReadU32(&rest, &size) || rest.size() < size) return false;
  *out = rest.substr(0, size);
  rest.remove_prefix(size);
  *in = rest;
  return true;
}

}  // namespace troupe::wire
