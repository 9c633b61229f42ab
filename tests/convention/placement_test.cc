// Tests of the convention's choice of members for a placement
// (daemon/convention/candidates.h) on hand-built rosters: who fits by
// requirements, bundles and a class's own check, in what order they are
// tried, and the failure text when none fits. No processes, no network.
#include "daemon/convention/candidates.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/runtime/actor_class.h"
#include "tests/common/status_matchers.h"

namespace troupe::convention {
namespace {

using runtime::Requirement;

v1::MemberInfo Member(std::string address, std::string capabilities,
                      std::vector<std::string> groups = {"g"}, uint64_t live_actors = 0,
                      uint64_t queued = 0, int64_t last_checkin = 1000) {
  v1::MemberInfo m;
  m.set_address(std::move(address));
  m.set_capabilities_json(std::move(capabilities));
  for (const std::string& group : groups) {
    v1::BundleSummary* b = m.add_bundles();
    b->set_group(group);
    b->set_version("1.0");
    b->set_hash(std::string(64, 'a'));
  }
  m.mutable_load()->set_live_actors(live_actors);
  m.mutable_load()->set_queued_messages(queued);
  m.set_last_checkin_unix_ms(last_checkin);
  return m;
}

PlaceSpec Spec(runtime::Requirements requirements = {}) {
  PlaceSpec spec;
  spec.group = "g";
  spec.class_name = "g.C";
  spec.requirements = requirements;
  spec.fits = MakeFits(std::move(requirements));
  return spec;
}

std::vector<std::string> Addresses(const std::vector<Candidate>& candidates) {
  std::vector<std::string> out;
  for (const Candidate& c : candidates) out.push_back(c.member.address());
  return out;
}

const runtime::Requirements kNeedsGpu = {{"gpu", Requirement::Op::kEquals, true}};

TEST(CandidatesTest, OnlyMembersWhoseCapabilitiesMeetTheRequirementsAreCandidates) {
  PlacedCounts placed;
  std::vector<std::string> considered;
  std::vector<Candidate> candidates = ChooseCandidates(
      {Member("a:1", R"({"gpu":true})"), Member("b:1", R"({"gpu":false})"),
       Member("c:1", "{}"), Member("d:1", R"({"gpu":1.0,"zone":"eu"})")},
      "self:1", Spec(kNeedsGpu), &placed, &considered);
  EXPECT_EQ(Addresses(candidates), std::vector<std::string>{"a:1"});
  EXPECT_EQ(considered,
            (std::vector<std::string>{
                R"(b:1: requirement 'gpu equals true' does not hold (its capabilities: {"gpu":false}))",
                "c:1: requirement 'gpu equals true' does not hold (its capabilities: {})",
                R"(d:1: requirement 'gpu equals true' does not hold (its capabilities: )"
                R"({"gpu":1.0,"zone":"eu"}))"}));
}

TEST(CandidatesTest, AMemberWithoutTheGroupFitsOnlyWhenTheBundleCanBeFetchedByHash) {
  std::vector<v1::MemberInfo> members = {Member("a:1", "{}", {"other"}), Member("b:1", "{}", {})};
  PlacedCounts placed;
  std::vector<std::string> considered;
  EXPECT_TRUE(ChooseCandidates(members, "self:1", Spec(), &placed, &considered).empty());
  EXPECT_EQ(considered, (std::vector<std::string>{"a:1: it has no bundle of group 'g'",
                                                  "b:1: it has no bundle of group 'g'"}));

  PlaceSpec by_hash = Spec();
  by_hash.bundle_hash = std::string(64, 'b');
  considered.clear();
  EXPECT_EQ(Addresses(ChooseCandidates(members, "self:1", by_hash, &placed, &considered)),
            (std::vector<std::string>{"a:1", "b:1"}))
      << "the member fetches the creator's version";
  EXPECT_TRUE(considered.empty());
}

TEST(CandidatesTest, RequirementsAreNamedBeforeAMissingBundle) {
  PlacedCounts placed;
  std::vector<std::string> considered;
  EXPECT_TRUE(ChooseCandidates({Member("a:1", "{}", {})}, "self:1", Spec(kNeedsGpu), &placed,
                               &considered)
                  .empty());
  ASSERT_EQ(considered.size(), 1u);
  EXPECT_CONTAINS(considered[0], "a:1: requirement 'gpu equals true' does not hold");
}

TEST(CandidatesTest, TheLeastLoadedComeFirstAndTiesGoByAddress) {
  PlacedCounts placed;
  std::vector<std::string> considered;
  std::vector<Candidate> candidates = ChooseCandidates(
      {Member("d:1", "{}", {"g"}, 5, 0), Member("c:1", "{}", {"g"}, 1, 1),
       Member("a:1", "{}", {"g"}, 0, 3), Member("b:1", "{}", {"g"}, 2, 0),
       Member("e:1", "{}", {"g"}, 0, 0)},
      "self:1", Spec(), &placed, &considered);
  EXPECT_EQ(Addresses(candidates), (std::vector<std::string>{"e:1", "b:1", "c:1", "a:1", "d:1"}));
  std::vector<uint64_t> loads;
  for (const Candidate& c : candidates) loads.push_back(c.load);
  EXPECT_EQ(loads, (std::vector<uint64_t>{0, 2, 2, 3, 5})) << "actors plus queued messages";
  EXPECT_TRUE(considered.empty());
}

TEST(CandidatesTest, WhatThisDaemonPlacedSinceTheLastCheckInCountsUntilTheNext) {
  // a placed 3 since its check-in at 1000; b's count is from before its
  // latest check-in (2000), which already includes them.
  PlacedCounts placed = {{"a:1", {1000, 3}}, {"b:1", {1000, 7}}};
  std::vector<std::string> considered;
  std::vector<Candidate> candidates = ChooseCandidates(
      {Member("a:1", "{}", {"g"}, 1, 0, 1000), Member("b:1", "{}", {"g"}, 2, 0, 2000)},
      "self:1", Spec(), &placed, &considered);
  EXPECT_EQ(Addresses(candidates), (std::vector<std::string>{"b:1", "a:1"}));
  EXPECT_EQ(candidates[0].load, 2u);
  EXPECT_EQ(candidates[1].load, 4u);
  EXPECT_EQ(placed.count("b:1"), 0u) << "a stale count is dropped";
  EXPECT_EQ(placed.at("a:1"), (std::pair<int64_t, uint64_t>{1000, 3}));
}

TEST(CandidatesTest, ThisDaemonIsNeverACandidateNorConsidered) {
  PlacedCounts placed;
  std::vector<std::string> considered;
  std::vector<Candidate> candidates =
      ChooseCandidates({Member("self:1", R"({"gpu":true})"), Member("a:1", R"({"gpu":false})")},
                       "self:1", Spec(kNeedsGpu), &placed, &considered);
  EXPECT_TRUE(candidates.empty());
  ASSERT_EQ(considered.size(), 1u);
  EXPECT_EQ(considered[0].rfind("a:1: ", 0), 0u) << considered[0];
}

TEST(CandidatesTest, AnEmptyRosterHasNoCandidatesAndTheFailureSaysSo) {
  PlacedCounts placed;
  std::vector<std::string> considered;
  EXPECT_TRUE(ChooseCandidates({}, "self:1", Spec(kNeedsGpu), &placed, &considered).empty());
  EXPECT_TRUE(considered.empty());
  const absl::Status local = absl::FailedPreconditionError(
      "actor class 'g.C' cannot run on this node: requirement 'gpu equals true' does not hold");
  absl::Status none = NoMemberTookIt(local, considered);
  EXPECT_EQ(none.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(none.message(),
            "actor class 'g.C' cannot run on this node: requirement 'gpu equals true' does not "
            "hold; and no member of the convention took it (no other members)");
  none = NoMemberTookIt(local, {"a:1: it has no bundle of group 'g'", "b:1: refused"});
  EXPECT_CONTAINS(none.message(),
                  "; and no member of the convention took it (considered: a:1: it has no bundle "
                  "of group 'g'; b:1: refused)");
}

// A class whose own capability check accepts only capabilities naming "eu".
class EuOnlyClass final : public runtime::ActorClass {
 public:
  std::string_view name() const override { return "g.EuOnly"; }
  absl::StatusOr<void*> Create(runtime::Cell*) const override { return nullptr; }
  absl::Status Receive(void*, runtime::Cell*, runtime::Message&) const override {
    return absl::OkStatus();
  }
  void Destroy(void*) const override {}
  bool has_capability_check() const override { return true; }
  bool CapabilityCheck(std::string_view capabilities,
                       std::string_view requirements) const override {
    seen.emplace_back(requirements);
    return capabilities.find("\"eu\"") != std::string_view::npos;
  }
  mutable std::vector<std::string> seen;
};

TEST(CandidatesTest, AChildsClassCheckRunsAfterTheRequirementsWithThePluginsText) {
  EuOnlyClass eu_only;
  const std::string text = R"({"gpu": {"equals": true}, "zone": "near"})";
  PlaceSpec spec = Spec(kNeedsGpu);
  spec.fits = MakeFits(kNeedsGpu, &eu_only, text);
  PlacedCounts placed;
  std::vector<std::string> considered;
  std::vector<Candidate> candidates = ChooseCandidates(
      {Member("a:1", R"({"gpu":true,"zone":"eu"})"), Member("b:1", R"({"gpu":true,"zone":"us"})"),
       Member("c:1", R"({"gpu":false,"zone":"eu"})")},
      "self:1", spec, &placed, &considered);
  EXPECT_EQ(Addresses(candidates), std::vector<std::string>{"a:1"});
  EXPECT_EQ(considered,
            (std::vector<std::string>{
                "b:1: the capability check of 'g.EuOnly' refuses its capabilities",
                R"(c:1: requirement 'gpu equals true' does not hold (its capabilities: )"
                R"({"gpu":false,"zone":"eu"}))"}));
  EXPECT_EQ(eu_only.seen, (std::vector<std::string>{text, text})) << "not asked for c:1";

  eu_only.seen.clear();
  EXPECT_OK(MakeFits({}, &eu_only)(R"({"zone":"eu"})"));
  EXPECT_EQ(eu_only.seen, std::vector<std::string>{"{}"}) << "no requirements: {}";
}

}  // namespace
}  // namespace troupe::convention
