// name_table.cc - see name_table.h.
#include "daemon/convention/name_table.h"

#include "daemon/runtime/addresses.h"

namespace troupe::convention {

std::string_view NodeOfAddress(std::string_view address) {
  absl::StatusOr<runtime::AddressParts> parts = runtime::SplitAddress(address);
  return parts.ok() ? parts->node : std::string_view();
}

std::string NameTable::Claim(const std::string& name, const std::string& address) {
  return holders_.try_emplace(name, address).first->second;
}

bool NameTable::Release(const std::string& name, const std::string& address) {
  auto it = holders_.find(name);
  if (it == holders_.end() || it->second != address) return false;
  holders_.erase(it);
  return true;
}

std::string NameTable::Holder(const std::string& name) const {
  auto it = holders_.find(name);
  return it == holders_.end() ? std::string() : it->second;
}

std::vector<std::string> NameTable::DropNode(std::string_view node) {
  std::vector<std::string> dropped;
  for (auto it = holders_.begin(); it != holders_.end();) {
    if (NodeOfAddress(it->second) == node) {
      dropped.push_back(it->first);
      it = holders_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

std::vector<std::pair<std::string, std::string>> NameTable::List() const {
  return {holders_.begin(), holders_.end()};
}

}  // namespace troupe::convention
