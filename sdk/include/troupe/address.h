// address.h - troupe::Address, the owning handle to an actor address that the
// host hands out (retain on copy, release on destruction, through the host
// table that made it), and std::hash for it. Header-only; part of the C++
// actor SDK (troupe/actor.h includes it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "troupe/abi.h"
#include "troupe/error.h"

namespace troupe {

// Address is an owning handle to an opaque actor address: copying retains,
// destruction releases (through the host table that made it). A
// default-constructed Address is null ("no address"). Comparison, hashing and
// printing go to the host. Not synchronized: one Address object must not be
// mutated by two threads at once, but copies may live on any thread.
class Address {
 public:
  Address() noexcept = default;

  // Takes over a RETAINED reference (e.g. from create_actor or address_parse).
  static Address Adopt(const troupe_host_v1_t* host, troupe_address_t raw) noexcept {
    Address a;
    a.host_ = raw ? host : nullptr;
    a.raw_ = raw;
    return a;
  }
  // Retains a BORROWED address (e.g. a message's sender) into a new handle.
  static Address Retain(const troupe_host_v1_t* host, troupe_address_t raw) noexcept {
    if (raw == nullptr || host == nullptr) return Address();
    return Adopt(host, host->address_retain(raw));
  }
  // Turns printed text back into an address. Returns a null Address when the
  // host does not accept `text` as an address.
  static Address Parse(const troupe_host_v1_t* host, std::string_view text) noexcept {
    troupe_address_t raw = nullptr;
    if (host == nullptr || host->address_parse(detail::Bytes(text), &raw) != TROUPE_OK) {
      return Address();
    }
    return Adopt(host, raw);
  }

  Address(const Address& other) noexcept : host_(other.host_), raw_(other.raw_) {
    if (raw_ != nullptr) raw_ = host_->address_retain(raw_);
  }
  Address(Address&& other) noexcept
      : host_(std::exchange(other.host_, nullptr)), raw_(std::exchange(other.raw_, nullptr)) {}
  Address& operator=(const Address& other) noexcept {
    if (this != &other) *this = Address(other);
    return *this;
  }
  Address& operator=(Address&& other) noexcept {
    if (this != &other) {
      Reset();
      host_ = std::exchange(other.host_, nullptr);
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  ~Address() { Reset(); }

  bool is_null() const noexcept { return raw_ == nullptr; }
  explicit operator bool() const noexcept { return raw_ != nullptr; }
  // The raw handle, BORROWED from this object.
  troupe_address_t get() const noexcept { return raw_; }
  const troupe_host_v1_t* host() const noexcept { return host_; }
  // Gives up ownership: the caller now owns the RETAINED raw handle.
  troupe_address_t Release() noexcept {
    host_ = nullptr;
    return std::exchange(raw_, nullptr);
  }
  // Drops the reference; the Address becomes null.
  void Reset() noexcept {
    if (raw_ != nullptr) host_->address_release(raw_);
    raw_ = nullptr;
    host_ = nullptr;
  }

  // The printable form (e.g. "troupe://host:port/42"); empty for null.
  std::string ToString() const {
    if (raw_ == nullptr) return std::string();
    std::string text(64, '\0');
    size_t size = host_->address_format(raw_, text.data(), text.size());
    if (size > text.size()) {
      text.resize(size);
      size = host_->address_format(raw_, text.data(), text.size());
    }
    text.resize(std::min(size, text.size()));
    return text;
  }

  // <0, 0, >0; null sorts first.
  static int Compare(const Address& a, const Address& b) noexcept {
    if (a.raw_ == b.raw_) return 0;
    if (a.raw_ == nullptr) return -1;
    if (b.raw_ == nullptr) return 1;
    return a.host_->address_compare(a.raw_, b.raw_);
  }
  // 0 for null.
  uint64_t Hash() const noexcept { return raw_ == nullptr ? 0 : host_->address_hash(raw_); }

  friend bool operator==(const Address& a, const Address& b) noexcept { return Compare(a, b) == 0; }
  friend bool operator<(const Address& a, const Address& b) noexcept { return Compare(a, b) < 0; }

 private:
  const troupe_host_v1_t* host_ = nullptr;
  troupe_address_t raw_ = nullptr;
};

}  // namespace troupe

namespace std {
template <>
struct hash<troupe::Address> {
  size_t operator()(const troupe::Address& address) const noexcept {
    return static_cast<size_t>(address.Hash());
  }
};
}  // namespace std
