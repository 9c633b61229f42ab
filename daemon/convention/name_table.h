// name_table.h - the leader's table of convention-wide global names: which
// actor (troupe://NODE/ID) holds each name. The first claim of a free name
// wins; later claims are answered with the holder. Pure bookkeeping; the
// leader's GlobalNames (global_names.h) serializes calls. Private to
// daemon/convention.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe::convention {

// The NODE (host:port) of a troupe://NODE/ID address (runtime::SplitAddress);
// "" for anything else.
std::string_view NodeOfAddress(std::string_view address);

// Not thread-safe: the owner serializes calls.
class NameTable {
 public:
  // Gives `name` to `address` unless another address holds it. Returns the
  // holder afterwards: `address` when the claim won (or it held the name
  // already), else the earlier holder.
  std::string Claim(const std::string& name, const std::string& address);
  // Frees `name` when `address` holds it; false (nothing changes) when the
  // name is free or held by another address.
  bool Release(const std::string& name, const std::string& address);
  // The holder of `name`, or "".
  std::string Holder(const std::string& name) const;
  // Frees every name held by an actor of `node` (a member that left or
  // expired); returns those names, sorted.
  std::vector<std::string> DropNode(std::string_view node);
  // Every (name, holder), by name.
  std::vector<std::pair<std::string, std::string>> List() const;
  size_t size() const { return holders_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> holders_;  // name -> address
};

}  // namespace troupe::convention
