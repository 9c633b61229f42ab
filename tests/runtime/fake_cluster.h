// fake_cluster.h - a runtime::Cluster for tests: each method runs the hook
// the test set (before attaching it), or a default: Forward drops the message
// and reports room, ResumeWhenRoom says there is room, Place refuses with
// FAILED_PRECONDITION "no cluster placement in this test", Members is empty,
// the notices are ignored. Thread-safe as far as the hooks are.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/runtime/cluster.h"

namespace troupe::runtime::testing {

class FakeCluster : public Cluster {
 public:
  std::function<bool(std::string_view node, uint64_t remote_id, Message message)> on_forward;
  std::function<bool(std::string_view node, std::function<void()> resume)> on_resume_when_room;
  std::function<absl::Status(PlaceRequest request, Placed placed)> on_place;
  std::function<std::vector<std::pair<std::string, std::string>>()> on_members;
  std::function<void(std::string_view name, std::string_view address)> on_name_released;
  std::function<void(const std::string& capabilities_json)> on_capabilities_changed;

  bool Forward(std::string_view node, uint64_t remote_id, Message message) override {
    return on_forward ? on_forward(node, remote_id, std::move(message)) : true;
  }
  bool ResumeWhenRoom(std::string_view node, std::function<void()> resume) override {
    return on_resume_when_room ? on_resume_when_room(node, std::move(resume)) : false;
  }
  absl::Status Place(PlaceRequest request, Placed placed) override {
    if (on_place) return on_place(std::move(request), std::move(placed));
    return absl::FailedPreconditionError("no cluster placement in this test");
  }
  std::vector<std::pair<std::string, std::string>> Members() override {
    return on_members ? on_members() : std::vector<std::pair<std::string, std::string>>{};
  }
  void NameReleased(std::string_view name, std::string_view address) override {
    if (on_name_released) on_name_released(name, address);
  }
  void CapabilitiesChanged(const std::string& capabilities_json) override {
    if (on_capabilities_changed) on_capabilities_changed(capabilities_json);
  }
};

}  // namespace troupe::runtime::testing
