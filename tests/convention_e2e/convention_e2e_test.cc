// convention_e2e_test.cc - conventions end to end (issue 6, section 6):
// several built troupd processes on 127.0.0.1 join one leader, and the tests
// check membership, `director status` / `director convention`, convention
// updates to a subscribing actor, placement by capability and by load, remote
// tells and asks, convention-wide global names, code on demand under each
// allow_remote_actor_sources value and key trust, a member killed under traffic, an actor's children placed
// on another member (and told when it dies), a leader killed and
// restarted, graceful leaves, a wrong convention key, capability changes and
// mutual TLS. The fixture is convention_harness.h.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "google/protobuf/util/json_util.h"
#include "tests/common/status_matchers.h"
#include "tests/common/openssl_for_test.h"
#include "tests/common/temp_dir.h"
#include "tests/convention_e2e/convention_harness.h"
#include "troupe/abi.h"
#include "troupe/client.h"
#include "troupe/json.h"

namespace troupe::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kGpuRequirement[] = R"([{"capability":"gpu","equals":true}])";

// The JSON value of top-level field `key` of the JSON object `text`, or "".
std::string TopLevelJsonField(const std::string& text, const std::string& key) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == '"') {
      const std::string quoted = "\"" + key + "\":";
      if (depth == 1 && text.compare(i, quoted.size(), quoted) == 0) {
        const size_t start = i + quoted.size();
        int inner = 0;
        bool s = false;
        for (size_t j = start; j < text.size(); ++j) {
          const char d = text[j];
          if (s) {
            if (d == '\\') {
              ++j;
            } else if (d == '"') {
              s = false;
            }
            continue;
          }
          if (d == '"') s = true;
          if (d == '{' || d == '[') ++inner;
          if (d == '}' || d == ']') {
            if (inner == 0) return text.substr(start, j - start);
            --inner;
            if (inner == 0) return text.substr(start, j + 1 - start);
          }
          if (d == ',' && inner == 0) return text.substr(start, j - start);
        }
        return "";
      }
      in_string = true;
    }
  }
  return "";
}

// `json` (director's --json output or a part of it) as a
// ConventionStatusResponse; fields it does not know ("ok") are skipped.
absl::StatusOr<v1::ConventionStatusResponse> ParseConventionJson(const std::string& json) {
  v1::ConventionStatusResponse out;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (auto status = google::protobuf::util::JsonStringToMessage(json, &out, options);
      !status.ok()) {
    return absl::InvalidArgumentError("not a ConventionStatusResponse: " + json);
  }
  return out;
}

// The node part of a troupe://NODE/ID address.
std::string NodeOf(const std::string& address) {
  static const std::regex kAddress("^troupe://([^/]+)/.+$");
  std::smatch m;
  return std::regex_match(address, m, kAddress) ? m[1].str() : "";
}

// The actor holding global name `name` in the leader's `status`, or "".
std::string HolderOf(const v1::ConventionStatusResponse& status, const std::string& name) {
  for (const v1::GlobalName& entry : status.global_names()) {
    if (entry.name() == name) return entry.address();
  }
  return "";
}

// True when some member's capabilities (as `status` lists them) contain `text`.
bool MemberCapabilitiesContain(const v1::ConventionStatusResponse& status,
                               const std::string& address, const std::string& text) {
  const v1::MemberInfo* m = FindMember(status, address);
  return m != nullptr && m->capabilities_json().find(text) != std::string::npos;
}

std::string Openssl(const std::string& dir, std::vector<std::string> args) {
  return OpensslForTest(dir, std::move(args));
}

class ConventionE2eTest : public ::testing::Test {
 protected:
  // Starts the leader and then each member in `members` and waits until the
  // leader lists all of them.
  void StartAndWaitForAll() {
    ASSERT_TRUE(convention_.StartAll());
    ASSERT_TRUE(convention_.leader().WaitForMemberCount(static_cast<int>(convention_.size()),
                                                        seconds(10)));
  }

  // Sets capability `name` on `d` with director and waits until the leader
  // sees it (`expect` in d's capabilities).
  void SetCapabilityAndWait(ConventionDaemon& d, const std::string& name,
                            const std::string& value_json) {
    CommandResult set = d.Director({"capabilities", name, value_json});
    ASSERT_EQ(set.code, 0) << set;
    const std::string expect = "\"" + name + "\":" + value_json;
    ASSERT_TRUE(convention_.leader().WaitFor(
        [&](const v1::ConventionStatusResponse& s) {
          return MemberCapabilitiesContain(s, d.address(), expect);
        },
        seconds(5), d.name() + " with " + expect));
  }

  std::unique_ptr<Client> ConnectTo(ConventionDaemon& d) {
    absl::StatusOr<std::unique_ptr<Client>> client = d.Connect();
    EXPECT_TRUE(client.ok()) << d.name() << ": " << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  ConventionHarness convention_;
};

// 1. Three daemons join; director shows them on the leader and the leader on
// a member.
TEST_F(ConventionE2eTest, ThreeDaemonsJoinAndDirectorShowsEveryMember) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  const auto first_start = SteadyClock::now();
  ASSERT_TRUE(convention_.Start(leader));
  ASSERT_TRUE(convention_.Start(b));
  ASSERT_EQ(b.Director({"capabilities", "zone", "\"north\""}).code, 0);
  const auto last_start = SteadyClock::now();
  ASSERT_TRUE(convention_.Start(c));
  ASSERT_TRUE(leader.WaitForMemberCount(3, seconds(10)));
  std::cout << "RESULT convention_formed_3_daemons_ms " << MillisSince(last_start)
            << " (from spawning the third daemon to the leader listing 3; from spawning the "
               "leader: "
            << MillisSince(first_start) << " ms)\n";

  CommandResult status = leader.Director({"status"});
  ASSERT_EQ(status.code, 0) << status;
  EXPECT_CONTAINS(status.out, "convention: leader " + leader.address() + ", 3 members");
  EXPECT_CONTAINS(status.out, "  " + leader.address() + " (this daemon): ");
  for (ConventionDaemon* d : {&b, &c}) {
    EXPECT_CONTAINS(status.out, "  " + d->address() + ": ");
  }
  // Every member with its capabilities (b's own one included) and bundles.
  size_t capability_lines = 0;
  for (size_t at = status.out.find("    capabilities: {"); at != std::string::npos;
       at = status.out.find("    capabilities: {", at + 1)) {
    ++capability_lines;
  }
  EXPECT_EQ(capability_lines, 3u) << status;
  EXPECT_CONTAINS(status.out, "\"zone\":\"north\"");
  EXPECT_CONTAINS(status.out, "checked in ");

  CommandResult member = b.Director({"status"});
  ASSERT_EQ(member.code, 0) << member;
  EXPECT_CONTAINS(member.out,
                  "convention: member " + b.address() + " of leader " + leader.address() +
                      " (joined)");

  CommandResult json = leader.Director({"convention", "--json"});
  ASSERT_EQ(json.code, 0) << json;
  EXPECT_TRUE(json::IsValid(json.out)) << json;
  absl::StatusOr<v1::ConventionStatusResponse> parsed = ParseConventionJson(json.out);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->role(), "leader");
  EXPECT_EQ(parsed->members_size(), 3) << json.out;
  EXPECT_EQ(parsed->members(0).address(), leader.address());

  CommandResult status_json = leader.Director({"status", "--json"});
  ASSERT_EQ(status_json.code, 0) << status_json;
  EXPECT_TRUE(json::IsValid(status_json.out)) << status_json;
  absl::StatusOr<v1::ConventionStatusResponse> in_status =
      ParseConventionJson(TopLevelJsonField(status_json.out, "convention"));
  ASSERT_TRUE(in_status.ok()) << in_status.status();
  EXPECT_EQ(in_status->members_size(), 3) << status_json.out;

  CommandResult text = c.Director({"convention"});
  ASSERT_EQ(text.code, 0) << text;
  EXPECT_CONTAINS(text.out, "convention: member " + c.address() + " of leader " +
                                leader.address() + " (joined)");
}

// 2. A subscriber gets one "joined" per member, then a "left".
TEST_F(ConventionE2eTest, ASubscriberSeesEveryMemberJoinAndALeave) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  StartAndWaitForAll();
  ASSERT_TRUE(b.WaitForMemberCount(3, seconds(5)));
  for (ConventionDaemon* d : {&leader, &b}) {
    CommandResult load = d->Director({"load", TROUPE_CONVENTION_WATCH_BUNDLE});
    ASSERT_EQ(load.code, 0) << load;
  }
  std::unique_ptr<Client> on_leader = ConnectTo(leader);
  std::unique_ptr<Client> on_b = ConnectTo(b);
  ASSERT_TRUE(on_leader && on_b);

  struct Watch {
    Client* client;
    std::string watcher;
    std::vector<std::string> expected;  // sorted "event node" lines
  };
  std::vector<Watch> watches = {
      {on_leader.get(), "", {"joined " + b.address(), "joined " + c.address()}},
      {on_b.get(), "", {"joined " + c.address(), "joined " + leader.address()}},
  };
  auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
      out.push_back(text.substr(start, end - start));
    }
    return out;
  };
  for (Watch& w : watches) {
    ASSERT_OK_AND_ASSIGN(w.watcher,
                         w.client->CreateActor("convention_watch", "convention_watch.Watcher"));
    ASSERT_OK_AND_ASSIGN(Client::Message watching,
                         w.client->Ask(w.watcher, {"watch", "", ""}, absl::Seconds(10)));
    EXPECT_EQ(watching.type, "watching");
    ASSERT_OK_AND_ASSIGN(Client::Message updates,
                         w.client->Ask(w.watcher, {"updates", "", ""}, absl::Seconds(10)));
    std::vector<std::string> seen = lines(updates.payload);
    std::sort(seen.begin(), seen.end());
    std::sort(w.expected.begin(), w.expected.end());
    EXPECT_EQ(seen, w.expected) << "a new subscriber gets one \"joined\" per other member";
  }

  ASSERT_TRUE(c.Stop());
  for (Watch& w : watches) {
    const std::string left = "left " + c.address();
    std::string payload;
    const auto deadline = SteadyClock::now() + seconds(5);
    while (SteadyClock::now() < deadline) {
      absl::StatusOr<Client::Message> updates =
          w.client->Ask(w.watcher, {"updates", "", ""}, absl::Seconds(5));
      ASSERT_TRUE(updates.ok()) << updates.status();
      payload = updates->payload;
      if (payload.find(left) != std::string::npos) break;
      leader.PollPause();
    }
    std::vector<std::string> seen = lines(payload);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), left), 1) << payload;
    EXPECT_EQ(seen.size(), w.expected.size() + 1) << payload;
  }
}

// 3. Placement by capability: the only member with gpu gets the actor.
TEST_F(ConventionE2eTest, AnActorNeedingAGpuLandsOnTheOnlyMemberWithOne) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  for (ConventionDaemon* d : {&b, &c}) d->SetConfig("allow_remote_actor_sources", "yes");
  WriteFileForTest(c.dir() + "/capabilities.json", R"({"gpu": true})" "\n");
  StartAndWaitForAll();
  ASSERT_TRUE(leader.WaitFor(
      [&](const v1::ConventionStatusResponse& s) {
        return MemberCapabilitiesContain(s, c.address(), "\"gpu\":true");
      },
      seconds(5), "c with gpu (from its capabilities.json)"));
  // The gpu_only bundle starts a manifest actor that needs a gpu, so it can
  // only be loaded where there is one (manifest actors start on the daemon
  // that loads the bundle): on c. The leader does not have the group at all.
  CommandResult refused = leader.Director({"load", TROUPE_GPU_ONLY_BUNDLE});
  EXPECT_NE(refused.code, 0);
  EXPECT_CONTAINS(refused.err, "requirement 'gpu equals true' does not hold");
  CommandResult load = c.Director({"load", TROUPE_GPU_ONLY_BUNDLE});
  ASSERT_EQ(load.code, 0) << load;
  ASSERT_TRUE(leader.WaitFor(
      [&](const v1::ConventionStatusResponse& s) {
        const v1::MemberInfo* m = FindMember(s, c.address());
        return m != nullptr && m->bundles_size() > 0;
      },
      seconds(5), "c's bundles at its next check-in"));

  std::unique_ptr<Client> client = ConnectTo(leader);
  ASSERT_TRUE(client);
  ASSERT_OK_AND_ASSIGN(std::string worker,
                       client->CreateActor("gpu_only", "gpu_only.Worker", kGpuRequirement));
  EXPECT_EQ(NodeOf(worker), c.address()) << worker;
  ASSERT_OK_AND_ASSIGN(Client::Message where,
                       client->Ask(worker, {"where", "", ""}, absl::Seconds(10)));
  EXPECT_EQ(where.payload, "here");
}

// 3b. The same with a bundle that has no actor of its own on load.
TEST_F(ConventionE2eTest, PlacementByCapabilityFetchesTheBundleToTheOnlyFittingMember) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  for (ConventionDaemon* d : {&b, &c}) d->SetConfig("allow_remote_actor_sources", "yes");
  WriteFileForTest(b.dir() + "/capabilities.json", R"({"gpu": true})" "\n");
  StartAndWaitForAll();
  ASSERT_TRUE(leader.WaitFor(
      [&](const v1::ConventionStatusResponse& s) {
        return MemberCapabilitiesContain(s, b.address(), "\"gpu\":true");
      },
      seconds(5), "b with gpu (from its capabilities.json)"));
  ASSERT_EQ(leader.Director({"load", TROUPE_CONVENTION_WATCH_BUNDLE}).code, 0);

  std::unique_ptr<Client> client = ConnectTo(leader);
  ASSERT_TRUE(client);
  ASSERT_OK_AND_ASSIGN(std::string where_actor, client->CreateActor("convention_watch",
                                                                    "convention_watch.Where",
                                                                    kGpuRequirement));
  EXPECT_EQ(NodeOf(where_actor), b.address()) << where_actor;
  ASSERT_OK_AND_ASSIGN(Client::Message where,
                       client->Ask(where_actor, {"where", "", ""}, absl::Seconds(10)));
  EXPECT_EQ(where.payload, "here");
  // b fetched and loaded the bundle; c did not.
  CommandResult on_b = b.Director({"list"});
  EXPECT_CONTAINS(on_b.out, "convention_watch:");
  CommandResult on_c = c.Director({"list"});
  EXPECT_EQ(on_c.out.find("convention_watch"), std::string::npos) << on_c;
  // c, which lacks the bundle, already knows that b has it: a create there
  // goes to b on the first try (b told the leader, which told c, before it
  // answered the placement).
  std::unique_ptr<Client> on_c_client = ConnectTo(c);
  ASSERT_TRUE(on_c_client);
  ASSERT_OK_AND_ASSIGN(std::string from_c, on_c_client->CreateActor("convention_watch",
                                                                    "convention_watch.Where",
                                                                    kGpuRequirement));
  EXPECT_EQ(NodeOf(from_c), b.address()) << from_c;
}

// 4. Least loaded among equals, ties by address; a burst spreads.
TEST_F(ConventionE2eTest, CreatesInARowGoToTheLeastLoadedEqualMembersInTurn) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  for (ConventionDaemon* d : {&b, &c}) d->SetConfig("allow_remote_actor_sources", "yes");
  StartAndWaitForAll();
  SetCapabilityAndWait(b, "gpu", "true");
  SetCapabilityAndWait(c, "gpu", "true");
  ASSERT_EQ(leader.Director({"load", TROUPE_CONVENTION_WATCH_BUNDLE}).code, 0);

  // The expected first choice from the leader's view: least loaded, then the
  // lower address.
  ASSERT_OK_AND_ASSIGN(v1::ConventionStatusResponse view, leader.ConventionStatus());
  auto load_of = [&](const ConventionDaemon& d) {
    const v1::MemberInfo* m = FindMember(view, d.address());
    return m == nullptr ? ~uint64_t{0} : m->load().live_actors() + m->load().queued_messages();
  };
  const uint64_t load_b = load_of(b);
  const uint64_t load_c = load_of(c);
  const std::string first = load_b != load_c ? (load_b < load_c ? b.address() : c.address())
                                             : std::min(b.address(), c.address());
  const std::string second = first == b.address() ? c.address() : b.address();

  std::unique_ptr<Client> client = ConnectTo(leader);
  ASSERT_TRUE(client);
  ASSERT_OK_AND_ASSIGN(std::string one, client->CreateActor("convention_watch",
                                                            "convention_watch.Where",
                                                            kGpuRequirement));
  ASSERT_OK_AND_ASSIGN(std::string two, client->CreateActor("convention_watch",
                                                            "convention_watch.Where",
                                                            kGpuRequirement));
  EXPECT_EQ(NodeOf(one), first) << "loads: b " << load_b << ", c " << load_c;
  EXPECT_EQ(NodeOf(two), second) << "the second create of a burst goes to the other member";
  for (const std::string& actor : {one, two}) {
    ASSERT_OK_AND_ASSIGN(Client::Message where,
                         client->Ask(actor, {"where", "", ""}, absl::Seconds(10)));
    EXPECT_EQ(where.payload, "here");
  }
}

// 5. No member fits: a clear error.
TEST_F(ConventionE2eTest, WhenNoMemberFitsTheErrorNamesTheRequirementAndTheMembers) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  for (ConventionDaemon* d : {&b, &c}) d->SetConfig("allow_remote_actor_sources", "yes");
  StartAndWaitForAll();
  ASSERT_EQ(leader.Director({"load", TROUPE_CONVENTION_WATCH_BUNDLE}).code, 0);
  std::unique_ptr<Client> client = ConnectTo(leader);
  ASSERT_TRUE(client);
  absl::StatusOr<std::string> created =
      client->CreateActor("convention_watch", "convention_watch.Where", kGpuRequirement);
  ASSERT_FALSE(created.ok()) << *created;
  EXPECT_EQ(created.status().code(), absl::StatusCode::kFailedPrecondition) << created.status();
  const std::string message(created.status().message());
  EXPECT_CONTAINS(message, "gpu equals true");
  EXPECT_CONTAINS(message, b.address());
  EXPECT_CONTAINS(message, c.address());
}

// 6. Remote tells keep their order; asks across daemons are answered.
TEST_F(ConventionE2eTest, RemoteTellsKeepTheirOrderAndRemoteAsksAreAnswered) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& a = convention_.Add("a");
  StartAndWaitForAll();
  ASSERT_TRUE(a.WaitForMemberCount(3, seconds(5)));
  ASSERT_EQ(b.Director({"load", TROUPE_EXAMPLES_BUNDLE}).code, 0);
  std::unique_ptr<Client> on_b = ConnectTo(b);
  std::unique_ptr<Client> on_a = ConnectTo(a);
  std::unique_ptr<Client> on_leader = ConnectTo(leader);
  ASSERT_TRUE(on_a && on_b && on_leader);
  ASSERT_OK_AND_ASSIGN(std::string counter, on_b->CreateActor("examples", "examples.Counter"));
  ASSERT_EQ(NodeOf(counter), b.address()) << counter;

  // From a member to a member, directly.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_OK(on_a->Tell(counter, {"increment", "", ""}));
  }
  ASSERT_OK_AND_ASSIGN(Client::Message count,
                       on_a->Ask(counter, {"get", "", ""}, absl::Seconds(20)));
  EXPECT_EQ(count.type, "count");
  EXPECT_EQ(count.payload, "1000");
  EXPECT_EQ(on_a->tell_errors(), 0u);

  // From the leader to a member.
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> echoes, on_b->Role("echo", "examples"));
  ASSERT_EQ(echoes.size(), 1u);
  ASSERT_OK_AND_ASSIGN(Client::Message echoed,
                       on_leader->Ask(echoes[0], {"text", "across", ""}, absl::Seconds(10)));
  EXPECT_EQ(echoed.payload, "across");
  EXPECT_EQ(echoed.from, echoes[0]);
}

// 6b. Many asks in a row from one daemon to another are all answered.
TEST_F(ConventionE2eTest, RemoteAsksInARowAreAllAnswered) {
  convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& a = convention_.Add("a");
  StartAndWaitForAll();
  ASSERT_TRUE(a.WaitForMemberCount(3, seconds(5)));
  ASSERT_EQ(b.Director({"load", TROUPE_EXAMPLES_BUNDLE}).code, 0);
  std::unique_ptr<Client> on_b = ConnectTo(b);
  std::unique_ptr<Client> on_a = ConnectTo(a);
  ASSERT_TRUE(on_a && on_b);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> echoes, on_b->Role("echo", "examples"));
  ASSERT_EQ(echoes.size(), 1u);
  std::vector<int64_t> took;
  for (int i = 0; i < 50; ++i) {
    const auto start = SteadyClock::now();
    absl::StatusOr<Client::Message> reply =
        on_a->Ask(echoes[0], {"text", std::to_string(i), ""}, absl::Seconds(3));
    ASSERT_TRUE(reply.ok()) << "ask " << i << ": " << reply.status() << "\n"
                            << b.Director({"status"}).out;
    EXPECT_EQ(reply->payload, std::to_string(i));
    took.push_back(MillisSince(start));
  }
  std::sort(took.begin(), took.end());
  std::cout << "RESULT remote_ask_sequential_ms p50 " << took[took.size() / 2] << " max "
            << took.back() << " (client on a member, actor on another member)\n";
}

// 6c. A global name given at creation is unique across the convention: the
// leader arbitrates, every daemon reaches the holder by name, and the name is
// free again when its holder exits or the member holding it is lost.
TEST_F(ConventionE2eTest, AGlobalNameIsUniqueAcrossTheConventionAndFreedWithItsHolder) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  StartAndWaitForAll();
  for (ConventionDaemon* d : {&b, &c}) {
    ASSERT_EQ(d->Director({"load", TROUPE_CONVENTION_WATCH_BUNDLE}).code, 0);
  }
  std::unique_ptr<Client> on_b = ConnectTo(b);
  std::unique_ptr<Client> on_c = ConnectTo(c);
  std::unique_ptr<Client> on_leader = ConnectTo(leader);
  ASSERT_TRUE(on_b && on_c && on_leader);
  auto create_named = [](Client& client) {
    return client.CreateActor("convention_watch", "convention_watch.Where", "", "registry");
  };

  // Two members create with the same name: both get the first one's actor.
  ASSERT_OK_AND_ASSIGN(std::string first, create_named(*on_b));
  EXPECT_EQ(NodeOf(first), b.address()) << first;
  ASSERT_OK_AND_ASSIGN(std::string again, create_named(*on_c));
  EXPECT_EQ(again, first);
  ASSERT_OK_AND_ASSIGN(v1::ConventionStatusResponse view, leader.ConventionStatus());
  EXPECT_EQ(HolderOf(view, "registry"), first) << StatusJson(view);
  CommandResult status = leader.Director({"status"});
  EXPECT_CONTAINS(status.out, "global names (1):");
  EXPECT_CONTAINS(status.out, "registry: " + first);

  // Clients on the other daemons reach it by name: lookup, tell and ask (on
  // c through the leader's table, on the leader directly).
  for (Client* client : {on_c.get(), on_leader.get()}) {
    ASSERT_OK_AND_ASSIGN(std::string found, client->Lookup("registry"));
    EXPECT_EQ(found, first);
    ASSERT_OK(client->Tell("registry", {"where", "", ""}));
    ASSERT_OK_AND_ASSIGN(Client::Message where,
                         client->Ask("registry", {"where", "", ""}, absl::Seconds(10)));
    EXPECT_EQ(where.payload, "here");
    EXPECT_EQ(where.from, first);
    EXPECT_EQ(client->tell_errors(), 0u);
  }

  // The holder exits: the name is free again and a new create makes a new actor.
  ASSERT_OK(on_c->Tell(first, {"exit", "", ""}));
  ASSERT_TRUE(leader.WaitFor(
      [](const v1::ConventionStatusResponse& s) { return HolderOf(s, "registry").empty(); },
      seconds(5), "registry released after its holder exited"));
  ASSERT_OK_AND_ASSIGN(std::string second, create_named(*on_c));
  EXPECT_NE(second, first);
  EXPECT_EQ(NodeOf(second), c.address()) << second;
  ASSERT_OK_AND_ASSIGN(std::string seen_from_b, on_b->Lookup("registry"));
  EXPECT_EQ(seen_from_b, second);

  // The member holding it is killed: the leader drops its names.
  on_c.reset();
  const std::string gone = c.address();
  c.Kill();
  ASSERT_TRUE(leader.WaitFor(
      [&](const v1::ConventionStatusResponse& s) {
        return FindMember(s, gone) == nullptr && HolderOf(s, "registry").empty();
      },
      seconds(10), "the killed member and its global names dropped"));
  EXPECT_EQ(on_b->Lookup("registry").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::string third, create_named(*on_b));
  EXPECT_EQ(NodeOf(third), b.address()) << third;
}

// 6d. A restarted leader has an empty table: its members claim their names
// again when they rejoin.
TEST_F(ConventionE2eTest, MembersClaimTheirGlobalNamesAgainAtARestartedLeader) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  StartAndWaitForAll();
  ASSERT_EQ(b.Director({"load", TROUPE_CONVENTION_WATCH_BUNDLE}).code, 0);
  std::string named;
  {
    std::unique_ptr<Client> on_b = ConnectTo(b);
    ASSERT_TRUE(on_b);
    ASSERT_OK_AND_ASSIGN(named, on_b->CreateActor("convention_watch", "convention_watch.Where",
                                                  "", "registry"));
  }
  leader.Kill();
  ASSERT_TRUE(b.WaitFor([](const v1::ConventionStatusResponse& s) { return !s.joined(); },
                        seconds(5), "b not joined"));
  ASSERT_TRUE(leader.Start());
  ASSERT_TRUE(leader.WaitFor(
      [&](const v1::ConventionStatusResponse& s) { return HolderOf(s, "registry") == named; },
      seconds(10), "registry claimed again by b"));
  ASSERT_TRUE(c.WaitForMemberCount(3, seconds(5)));  // joined again, and sees b
  std::unique_ptr<Client> on_c = ConnectTo(c);
  ASSERT_TRUE(on_c);
  ASSERT_OK_AND_ASSIGN(Client::Message where,
                       on_c->Ask("registry", {"where", "", ""}, absl::Seconds(10)));
  EXPECT_EQ(where.from, named);
}

// 7. Code on demand under each allow_remote_actor_sources value and trust.
TEST_F(ConventionE2eTest, CodeOnDemandFollowsTrustedKeysAndAllowRemoteActorSources) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& yes = convention_.Add("yes");
  ConventionDaemon& no = convention_.Add("no");
  ConventionDaemon& leader_only = convention_.Add("leader-only");
  ConventionDaemon& untrusting = convention_.Add("untrusting");
  yes.SetConfig("allow_remote_actor_sources", "yes");
  no.SetConfig("allow_remote_actor_sources", "no");
  leader_only.SetConfig("allow_remote_actor_sources", "leader-only");
  untrusting.SetConfig("allow_remote_actor_sources", "yes");
  std::string key_id;
  for (const fs::directory_entry& e : fs::directory_iterator(untrusting.dir() + "/keys/trusted")) {
    key_id = e.path().stem().string();
    fs::remove(e.path());
  }
  ASSERT_FALSE(key_id.empty());
  StartAndWaitForAll();
  for (ConventionDaemon* d : {&yes, &no, &leader_only, &untrusting}) {
    SetCapabilityAndWait(*d, "slot", "\"" + d->name() + "\"");
  }
  ASSERT_EQ(leader.Director({"load", TROUPE_CONVENTION_WATCH_BUNDLE}).code, 0);
  auto requirement = [](const std::string& slot) {
    return R"([{"capability":"slot","equals":")" + slot + R"("}])";
  };
  std::unique_ptr<Client> client = ConnectTo(leader);
  ASSERT_TRUE(client);

  // yes, and the key is trusted: fetched, verified, created.
  ASSERT_OK_AND_ASSIGN(std::string on_yes,
                       client->CreateActor("convention_watch", "convention_watch.Where",
                                           requirement("yes")));
  EXPECT_EQ(NodeOf(on_yes), yes.address());
  ASSERT_OK_AND_ASSIGN(Client::Message where,
                       client->Ask(on_yes, {"where", "", ""}, absl::Seconds(10)));
  EXPECT_EQ(where.payload, "here");

  // no: refused, naming the setting.
  absl::StatusOr<std::string> on_no =
      client->CreateActor("convention_watch", "convention_watch.Where", requirement("no"));
  ASSERT_FALSE(on_no.ok()) << *on_no;
  EXPECT_EQ(on_no.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(on_no.status().message(), "allow_remote_actor_sources is 'no'");
  EXPECT_CONTAINS(on_no.status().message(), no.address());

  // leader-only, asked by another member (yes has the bundle by now): refused.
  std::unique_ptr<Client> from_member = ConnectTo(yes);
  ASSERT_TRUE(from_member);
  absl::StatusOr<std::string> refused = from_member->CreateActor(
      "convention_watch", "convention_watch.Where", requirement("leader-only"));
  ASSERT_FALSE(refused.ok()) << *refused;
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(refused.status().message(), "allow_remote_actor_sources is 'leader-only'");
  EXPECT_CONTAINS(refused.status().message(), yes.address() + " is not the leader");
  // leader-only, asked by the leader: fetched from it.
  ASSERT_OK_AND_ASSIGN(std::string on_leader_only,
                       client->CreateActor("convention_watch", "convention_watch.Where",
                                           requirement("leader-only")));
  EXPECT_EQ(NodeOf(on_leader_only), leader_only.address());

  // The signing key is not trusted there: refused, naming the key.
  absl::StatusOr<std::string> on_untrusting = client->CreateActor(
      "convention_watch", "convention_watch.Where", requirement("untrusting"));
  ASSERT_FALSE(on_untrusting.ok()) << *on_untrusting;
  EXPECT_EQ(on_untrusting.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(on_untrusting.status().message(), "key " + key_id);
  EXPECT_CONTAINS(on_untrusting.status().message(), "not trusted");
  EXPECT_CONTAINS(on_untrusting.status().message(), untrusting.address());
}

// 8. kill -9 of a member under traffic: noticed within 5 s; asks waiting on
// its actors and new ones fail fast.
TEST_F(ConventionE2eTest, AKilledMemberIsNoticedWithinFiveSecondsAndAsksToItFailFast) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& victim = convention_.Add("victim");
  ConventionDaemon& asker = convention_.Add("asker");
  StartAndWaitForAll();
  ASSERT_TRUE(asker.WaitForMemberCount(3, seconds(5)));
  ASSERT_EQ(victim.Director({"load", TROUPE_EXAMPLES_BUNDLE}).code, 0);
  std::string counter;
  {
    std::unique_ptr<Client> on_victim = ConnectTo(victim);
    ASSERT_TRUE(on_victim);
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> counters,
                         on_victim->Role("counter", "examples"));
    ASSERT_EQ(counters.size(), 1u);
    counter = counters[0];
  }
  std::unique_ptr<Client> client = ConnectTo(asker);
  ASSERT_TRUE(client);

  // Traffic: tells from the asker's daemon to the counter, without pause
  // but in bursts, each followed by an ask (answered after the burst, or
  // failing once the victim is gone). Unpaced tells pile up in the client's
  // outbox (16 MiB, a quarter million tells) faster than a sanitizer build
  // of the asker's daemon turns them into dead letters, and every ask
  // measured below would wait behind that backlog (4 s under ASan, past
  // its 20 s timeout under TSan) instead of measuring the daemon.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> told{0};
  std::thread traffic([&] {
    constexpr int kBurst = 256;
    while (!stop.load()) {
      for (int i = 0; i < kBurst && !stop.load(); ++i) {
        if (client->Tell(counter, {"increment", "", ""}).ok()) ++told;
      }
      (void)client->Ask(counter, {"get", "", ""}, absl::Seconds(10));
    }
  });
  struct Joiner {
    std::function<void()> f;
    ~Joiner() { f(); }
  } joiner{[&] {
    stop = true;
    if (traffic.joinable()) traffic.join();
  }};
  // They arrive: the counter counts.
  ASSERT_OK_AND_ASSIGN(Client::Message counted,
                       client->Ask(counter, {"get", "", ""}, absl::Seconds(10)));
  EXPECT_EQ(counted.type, "count");
  // Asks the counter never answers ("increment" has no reply), waiting with
  // a 20 s timeout when the member dies.
  constexpr absl::Duration kAskTimeout = absl::Seconds(20);
  std::vector<std::future<absl::StatusOr<Client::Message>>> waiting;
  for (int i = 0; i < 5; ++i) {
    waiting.push_back(client->AskAsync(counter, {"increment", "", ""}, kAskTimeout));
  }
  EXPECT_EQ(waiting[0].wait_for(milliseconds(50)), std::future_status::timeout);
  ASSERT_GT(told.load(), 0u);

  const auto killed = SteadyClock::now();
  victim.Kill();
  const std::string gone = victim.address();
  ASSERT_TRUE(leader.WaitFor(
      [&](const v1::ConventionStatusResponse& s) { return FindMember(s, gone) == nullptr; },
      seconds(10), "the killed member gone"));
  const int64_t noticed_ms = MillisSince(killed);
  std::cout << "RESULT killed_member_noticed_ms " << noticed_ms
            << " (checkin 1000 ms x 3 missed; " << told.load() << " tells sent)\n";
  EXPECT_LT(noticed_ms, 5000);

  // The asks that were waiting end with UNAVAILABLE or NOT_FOUND, long
  // before their timeout.
  int64_t slowest = 0;
  for (auto& ask : waiting) {
    ASSERT_EQ(ask.wait_for(seconds(8)), std::future_status::ready)
        << "an ask to the killed member still waits " << MillisSince(killed) << " ms after the kill";
    slowest = std::max(slowest, MillisSince(killed));
    absl::StatusOr<Client::Message> result = ask.get();
    ASSERT_FALSE(result.ok());
    EXPECT_TRUE(result.status().code() == absl::StatusCode::kUnavailable ||
                result.status().code() == absl::StatusCode::kNotFound)
        << result.status();
  }
  std::cout << "RESULT killed_member_waiting_asks_failed_after_ms " << slowest << "\n";
  EXPECT_LT(slowest, 6000);

  // Once the asker's daemon knows, a new ask fails at once.
  ASSERT_TRUE(asker.WaitFor(
      [&](const v1::ConventionStatusResponse& s) { return FindMember(s, gone) == nullptr; },
      seconds(5), "the killed member gone from the asker's view"));
  const auto start = SteadyClock::now();
  absl::StatusOr<Client::Message> after = client->Ask(counter, {"get", "", ""}, kAskTimeout);
  const int64_t after_ms = MillisSince(start);
  ASSERT_FALSE(after.ok());
  EXPECT_TRUE(after.status().code() == absl::StatusCode::kUnavailable ||
              after.status().code() == absl::StatusCode::kNotFound)
      << after.status();
  EXPECT_LT(after_ms, 1000) << after.status();

  CommandResult status = leader.Director({"status"});
  ASSERT_EQ(status.code, 0) << status;
  EXPECT_EQ(status.out.find(gone), std::string::npos) << status;
  EXPECT_CONTAINS(status.out, "convention: leader " + leader.address() + ", 2 members");
}

// The lines of a Spawner's "exits" answer ("<child>|<reason>") that name
// `child`.
std::vector<std::string> ExitsOf(const std::string& exits, const std::string& child) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t end; (end = exits.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = exits.substr(start, end - start);
    if (line.rfind(child + "|", 0) == 0) out.push_back(line);
  }
  return out;
}

// A leader with the convention_watch bundle, b with a gpu (the only one) and
// c without; a Spawner on the leader.
class ChildPlacementTest : public ConventionE2eTest {
 protected:
  static constexpr char kGpuObject[] = R"({"gpu":{"equals":true}})";

  void SetUp() override {
    ConventionDaemon& leader = convention_.Add("leader");
    ConventionDaemon& b = convention_.Add("b");
    ConventionDaemon& c = convention_.Add("c");
    for (ConventionDaemon* d : {&b, &c}) d->SetConfig("allow_remote_actor_sources", "yes");
    WriteFileForTest(b.dir() + "/capabilities.json", R"({"gpu": true})" "\n");
    StartAndWaitForAll();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(leader.WaitFor(
        [&](const v1::ConventionStatusResponse& s) {
          return MemberCapabilitiesContain(s, b.address(), "\"gpu\":true");
        },
        seconds(5), "b with gpu (from its capabilities.json)"));
    CommandResult load = leader.Director({"load", TROUPE_CONVENTION_WATCH_BUNDLE});
    ASSERT_EQ(load.code, 0) << load;
    client_ = ConnectTo(leader);
    ASSERT_TRUE(client_);
    ASSERT_OK_AND_ASSIGN(spawner_,
                         client_->CreateActor("convention_watch", "convention_watch.Spawner"));
    ASSERT_EQ(NodeOf(spawner_), leader.address()) << spawner_;
  }

  // Asks the Spawner for a child needing a gpu; its address on b, where it
  // runs (the Spawner got at once an address of the leader's, which reaches
  // the child too, and prints as the child's own once it is placed).
  std::string SpawnGpuChild() {
    absl::StatusOr<Client::Message> spawned =
        client_->Ask(spawner_, {"spawn", kGpuObject, ""}, absl::Seconds(40));
    EXPECT_TRUE(spawned.ok()) << spawned.status();
    if (!spawned.ok()) return "";
    EXPECT_EQ(spawned->type, "spawned") << spawned->payload;
    if (spawned->type != "spawned") return "";
    EXPECT_EQ(NodeOf(spawned->payload), convention_.leader().address())
        << "returned before it is placed: " << spawned->payload;
    absl::StatusOr<Client::Message> real =
        client_->Ask(spawned->payload, {"whoami", "", ""}, absl::Seconds(40));
    EXPECT_TRUE(real.ok()) << real.status();
    if (!real.ok()) return "";
    EXPECT_EQ(NodeOf(real->payload), convention_[1].address())
        << "a child needing a gpu goes to b, the only member with one: " << real->payload;
    return real->payload;
  }

  // Polls the Spawner's "exits" until `child` is there, at most `bound`;
  // the last answer.
  std::string WaitForExitOf(const std::string& child, std::chrono::milliseconds bound) {
    const auto deadline = SteadyClock::now() + bound;
    std::string exits;
    for (;;) {
      absl::StatusOr<Client::Message> answer =
          client_->Ask(spawner_, {"exits", "", ""}, absl::Seconds(5));
      EXPECT_TRUE(answer.ok()) << answer.status();
      if (answer.ok()) exits = answer->payload;
      if (!ExitsOf(exits, child).empty() || SteadyClock::now() >= deadline) return exits;
      convention_.leader().PollPause();
    }
  }

  std::unique_ptr<Client> client_;
  std::string spawner_;
};

// An actor's child that does not fit its daemon is placed on the member
// that fits (the runtime's placement fallback); when that member is killed,
// the parent gets ChildActorExited for it once the convention expires it.
TEST_F(ChildPlacementTest, AParentIsToldWithinFiveSecondsWhenItsRemoteChildsMemberIsKilled) {
  const std::string child = SpawnGpuChild();
  ASSERT_FALSE(child.empty());
  ASSERT_OK_AND_ASSIGN(Client::Message where,
                       client_->Ask(child, {"where", "", ""}, absl::Seconds(10)));
  EXPECT_EQ(where.payload, "here");

  const auto killed = SteadyClock::now();
  convention_[1].Kill();
  const std::string exits = WaitForExitOf(child, milliseconds(5000));
  const int64_t told_ms = MillisSince(killed);
  const std::vector<std::string> lines = ExitsOf(exits, child);
  ASSERT_EQ(lines.size(), 1u) << "exits: " << exits;
  std::cout << "RESULT killed_member_child_exit_told_ms " << told_ms << "\n";
  EXPECT_LT(told_ms, 5000);
  EXPECT_CONTAINS(lines[0], "member " + convention_[1].address() + " expired");
}

// A remote child that exits when asked is reported exactly once, also when
// its member leaves the convention afterwards.
TEST_F(ChildPlacementTest, ARemoteChildThatExitsIsReportedToItsParentExactlyOnce) {
  const std::string child = SpawnGpuChild();
  ASSERT_FALSE(child.empty());
  const std::string other = SpawnGpuChild();
  ASSERT_FALSE(other.empty());

  ASSERT_OK(client_->Tell(child, {TROUPE_MSG_EXIT_REQUEST, "", ""}));
  std::string exits = WaitForExitOf(child, milliseconds(5000));
  std::vector<std::string> lines = ExitsOf(exits, child);
  ASSERT_EQ(lines.size(), 1u) << "exits: " << exits;
  EXPECT_EQ(lines[0], child + "|") << "a normal exit has no reason";
  EXPECT_TRUE(ExitsOf(exits, other).empty()) << exits;
  // Gone: an ask to it fails (NOT_FOUND from b), it does not hang.
  absl::StatusOr<Client::Message> gone = client_->Ask(child, {"where", "", ""}, absl::Seconds(10));
  EXPECT_FALSE(gone.ok());

  // b leaves: the other child is reported, the first one not again.
  ASSERT_TRUE(convention_[1].Stop());
  exits = WaitForExitOf(other, milliseconds(5000));
  ASSERT_EQ(ExitsOf(exits, other).size(), 1u) << "exits: " << exits;
  EXPECT_CONTAINS(ExitsOf(exits, other)[0], "member " + convention_[1].address() + " left");
  EXPECT_EQ(ExitsOf(exits, child).size(), 1u) << "exits: " << exits;
}

// 9. The leader is killed and restarted: members are back within 2 check-ins.
TEST_F(ConventionE2eTest, MembersRejoinARestartedLeaderWithinTwoCheckInPeriods) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  StartAndWaitForAll();
  leader.Kill();
  // The members notice (their stream broke).
  ASSERT_TRUE(b.WaitFor([](const v1::ConventionStatusResponse& s) { return !s.joined(); },
                        seconds(5), "b not joined"));
  ASSERT_TRUE(leader.Start());  // same directory, same port
  const auto answering = SteadyClock::now();
  ASSERT_TRUE(leader.WaitForMemberCount(3, seconds(10)));
  const int64_t rejoined_ms = MillisSince(answering);
  std::cout << "RESULT members_rejoined_restarted_leader_ms " << rejoined_ms
            << " (checkin 1000 ms)\n";
  EXPECT_LE(rejoined_ms, 2500);
  for (ConventionDaemon* d : {&b, &c}) {
    EXPECT_TRUE(d->WaitFor([](const v1::ConventionStatusResponse& s) { return s.joined(); },
                           seconds(2), "joined again"));
  }
}

// 10. Graceful shutdown of a member: dropped at once.
TEST_F(ConventionE2eTest, AGracefullyStoppedMemberIsDroppedAtOnce) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  StartAndWaitForAll();
  ASSERT_TRUE(b.WaitForMemberCount(3, seconds(5)));
  const std::string gone = c.address();
  const auto terminated = SteadyClock::now();
  c.Terminate();
  ASSERT_TRUE(leader.WaitFor(
      [&](const v1::ConventionStatusResponse& s) { return FindMember(s, gone) == nullptr; },
      seconds(5), "the stopped member gone"));
  const int64_t dropped_ms = MillisSince(terminated);
  std::cout << "RESULT graceful_leave_dropped_ms " << dropped_ms << "\n";
  EXPECT_LT(dropped_ms, 1000);
  EXPECT_TRUE(b.WaitFor(
      [&](const v1::ConventionStatusResponse& s) { return FindMember(s, gone) == nullptr; },
      seconds(1), "the stopped member gone from b's view"));
  EXPECT_TRUE(c.Stop());
}

// 10b. Every daemon stopped at the same moment (a host shutdown): each one
// exits cleanly.
TEST_F(ConventionE2eTest, DaemonsStoppedAllAtOnceExitCleanly) {
  convention_.Add("leader");
  convention_.Add("b");
  convention_.Add("c");
  StartAndWaitForAll();
  EXPECT_TRUE(convention_.StopAll(/*leader_too=*/true));
}

// 11. A daemon with another convention key is refused.
TEST_F(ConventionE2eTest, ADaemonWithAnotherConventionKeyIsRefusedAndLogged) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& stranger = convention_.Add("stranger");
  CommandResult other_key = stranger.Director({"keygen", "--convention", "--force"});
  ASSERT_EQ(other_key.code, 0) << other_key;
  ASSERT_NE(ReadFileForTest(stranger.ConventionKeyPath()),
            ReadFileForTest(leader.ConventionKeyPath()));
  ASSERT_TRUE(convention_.StartAll());
  ASSERT_TRUE(leader.WaitForMemberCount(2, seconds(10)));
  ASSERT_TRUE(b.WaitForMemberCount(2, seconds(5)));

  // The leader refuses its registrations (it tries again every check-in
  // period) from their headers, before any request body is read, and logs
  // them.
  const std::string refusal =
      "refused a TCP call to /troupe.v1.Convention/Join before its request: bad proof of the "
      "convention key";
  auto refusals = [&] {
    const std::string log = leader.Log();
    size_t n = 0;
    for (size_t at = log.find(refusal); at != std::string::npos; at = log.find(refusal, at + 1)) {
      ++n;
    }
    return n;
  };
  const auto deadline = SteadyClock::now() + seconds(6);
  while (refusals() < 2 && SteadyClock::now() < deadline) leader.PollPause();
  EXPECT_GE(refusals(), 2u) << leader.Log();

  ASSERT_OK_AND_ASSIGN(v1::ConventionStatusResponse seen, leader.ConventionStatus());
  EXPECT_EQ(FindMember(seen, stranger.address()), nullptr) << StatusJson(seen);
  EXPECT_EQ(seen.members_size(), 2);
  ASSERT_OK_AND_ASSIGN(v1::ConventionStatusResponse own, stranger.ConventionStatus());
  EXPECT_EQ(own.role(), "member");
  EXPECT_FALSE(own.joined());
  EXPECT_EQ(FindMember(own, leader.address()), nullptr) << StatusJson(own);
  CommandResult status = stranger.Director({"convention"});
  EXPECT_CONTAINS(status.out, "not joined");
  EXPECT_CONTAINS(stranger.Log(), "cannot join leader " + leader.address());
}

// 11b. The refused daemon says why: its status (and log) name the refusal.
TEST_F(ConventionE2eTest, ADaemonRefusedForItsKeySaysWhy) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& stranger = convention_.Add("stranger");
  CommandResult other_key = stranger.Director({"keygen", "--convention", "--force"});
  ASSERT_EQ(other_key.code, 0) << other_key;
  ASSERT_TRUE(convention_.StartAll());
  ASSERT_TRUE(stranger.WaitFor(
      [](const v1::ConventionStatusResponse& s) { return !s.joined(); }, seconds(5),
      "not joined"));
  const auto deadline = SteadyClock::now() + seconds(5);
  while (stranger.Log().find("cannot join leader") == std::string::npos &&
         SteadyClock::now() < deadline) {
    stranger.PollPause();
  }
  CommandResult status = stranger.Director({"convention"});
  EXPECT_CONTAINS(status.out, "convention key");
  EXPECT_CONTAINS(stranger.Log(), "cannot join leader " + leader.address() + ": ");
  EXPECT_CONTAINS(stranger.Log(), "convention key");
}

// 12. A capability change reaches the leader at once and placement follows.
TEST_F(ConventionE2eTest, ACapabilityChangeIsPushedAndPlacementFollowsIt) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& c = convention_.Add("c");
  for (ConventionDaemon* d : {&b, &c}) d->SetConfig("allow_remote_actor_sources", "yes");
  StartAndWaitForAll();
  SetCapabilityAndWait(b, "gpu", "true");
  ASSERT_EQ(leader.Director({"load", TROUPE_CONVENTION_WATCH_BUNDLE}).code, 0);
  std::unique_ptr<Client> client = ConnectTo(leader);
  ASSERT_TRUE(client);
  ASSERT_OK_AND_ASSIGN(std::string placed, client->CreateActor("convention_watch",
                                                               "convention_watch.Where",
                                                               kGpuRequirement));
  EXPECT_EQ(NodeOf(placed), b.address());

  const auto changed = SteadyClock::now();
  CommandResult unset = b.Director({"capabilities", "gpu", "false"});
  ASSERT_EQ(unset.code, 0) << unset;
  ASSERT_TRUE(leader.WaitFor(
      [&](const v1::ConventionStatusResponse& s) {
        return MemberCapabilitiesContain(s, b.address(), "\"gpu\":false");
      },
      seconds(5), "b without gpu"));
  const int64_t pushed_ms = MillisSince(changed);
  std::cout << "RESULT capability_change_seen_by_leader_ms " << pushed_ms << "\n";
  EXPECT_LT(pushed_ms, 1000);
  EXPECT_TRUE(c.WaitFor(
      [&](const v1::ConventionStatusResponse& s) {
        return MemberCapabilitiesContain(s, b.address(), "\"gpu\":false");
      },
      seconds(1), "b without gpu in c's view"));

  absl::StatusOr<std::string> refused =
      client->CreateActor("convention_watch", "convention_watch.Where", kGpuRequirement);
  ASSERT_FALSE(refused.ok()) << *refused;
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(refused.status().message(), b.address());
}

// 13. Mutual TLS on both sides: members join; a daemon without TLS cannot.
TEST_F(ConventionE2eTest, WithMutualTlsMembersJoinAndADaemonWithoutTlsCannot) {
  TempDir pki("convention_pki");
  ASSERT_EQ(Openssl(pki.path(), {"req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
                                 "-out", "ca.pem", "-days", "2", "-subj", "/CN=convention-ca"}),
            "");
  WriteFileForTest(pki.path() + "/ext.cnf",
                   "subjectAltName=IP:127.0.0.1\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n"
                   "basicConstraints=CA:FALSE\n");
  ASSERT_EQ(Openssl(pki.path(), {"req", "-new", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "peer.key",
                                 "-out", "peer.csr", "-subj", "/CN=peer"}),
            "");
  ASSERT_EQ(Openssl(pki.path(), {"x509", "-req", "-in", "peer.csr", "-CA", "ca.pem", "-CAkey",
                                 "ca.key", "-set_serial", "2", "-days", "2", "-extfile", "ext.cnf",
                                 "-out", "peer.pem"}),
            "");
  ::chmod((pki.path() + "/peer.key").c_str(), 0600);

  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& plain = convention_.Add("plain");
  for (ConventionDaemon* d : {&leader, &b}) {
    d->SetConfig("convention_tls_cert", pki.path() + "/peer.pem");
    d->SetConfig("convention_tls_key", pki.path() + "/peer.key");
    d->SetConfig("convention_tls_ca", pki.path() + "/ca.pem");
  }
  ASSERT_TRUE(convention_.StartAll());
  ASSERT_TRUE(leader.WaitForMemberCount(2, seconds(10)));
  ASSERT_TRUE(b.WaitFor([](const v1::ConventionStatusResponse& s) { return s.joined(); },
                        seconds(5), "b joined"));

  // Messages travel over the TLS links too.
  ASSERT_EQ(b.Director({"load", TROUPE_EXAMPLES_BUNDLE}).code, 0);
  std::unique_ptr<Client> on_b = ConnectTo(b);
  std::unique_ptr<Client> on_leader = ConnectTo(leader);
  ASSERT_TRUE(on_b && on_leader);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> echoes, on_b->Role("echo", "examples"));
  ASSERT_EQ(echoes.size(), 1u);
  ASSERT_OK_AND_ASSIGN(Client::Message echoed,
                       on_leader->Ask(echoes[0], {"text", "over tls", ""}, absl::Seconds(10)));
  EXPECT_EQ(echoed.payload, "over tls");

  // An SDK client over TCP needs the certificate authority (and the token).
  Client::Options options;
  options.token = ReadFileForTest(leader.dir() + "/keys/client.token");
  options.connect_timeout = absl::Seconds(2);
  EXPECT_FALSE(Client::Connect(leader.address(), options).ok());  // a plain connection
  options.tls_root_certificates = ReadFileForTest(pki.path() + "/ca.pem");
  absl::StatusOr<std::unique_ptr<Client>> remote = Client::Connect(leader.address(), options);
  ASSERT_TRUE(remote.ok()) << remote.status();
  ASSERT_OK_AND_ASSIGN(echoed,
                       (*remote)->Ask(echoes[0], {"text", "tcp+tls", ""}, absl::Seconds(10)));
  EXPECT_EQ(echoed.payload, "tcp+tls");

  // The plain daemon keeps trying and is never listed.
  const auto deadline = SteadyClock::now() + seconds(5);
  while (plain.Log().find("cannot join leader " + leader.address()) == std::string::npos &&
         SteadyClock::now() < deadline) {
    plain.PollPause();
  }
  EXPECT_CONTAINS(plain.Log(), "cannot join leader " + leader.address());
  ASSERT_OK_AND_ASSIGN(v1::ConventionStatusResponse seen, leader.ConventionStatus());
  EXPECT_EQ(FindMember(seen, plain.address()), nullptr) << StatusJson(seen);
  ASSERT_OK_AND_ASSIGN(v1::ConventionStatusResponse own, plain.ConventionStatus());
  EXPECT_FALSE(own.joined());
}

// A node name is one daemon: a second troupd given a member's listen_tcp
// does not start (gRPC would otherwise share the port through SO_REUSEPORT).
TEST_F(ConventionE2eTest, ASecondDaemonOnAMembersAddressDoesNotStart) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& twin = convention_.Add("twin");
  ASSERT_TRUE(convention_.Start(leader));
  ASSERT_TRUE(convention_.Start(b));
  ASSERT_TRUE(leader.WaitForMemberCount(2, seconds(10)));
  twin.UsePort(b.port());
  twin.SetConfig("convleader", leader.address());
  ::testing::AssertionResult started = twin.Start();
  EXPECT_FALSE(started);
  EXPECT_CONTAINS(twin.Log(), "cannot listen on");
  EXPECT_CONTAINS(twin.Log(), b.address());
  ASSERT_OK_AND_ASSIGN(v1::ConventionStatusResponse seen, leader.ConventionStatus());
  EXPECT_EQ(seen.members_size(), 2) << StatusJson(seen);
}

// Pre-registration: `director convention invite` brings in a daemon that
// does not name the leader itself; only a leader invites.
TEST_F(ConventionE2eTest, AnInvitedDaemonJoinsAndOnlyTheLeaderInvites) {
  ConventionDaemon& leader = convention_.Add("leader");
  ConventionDaemon& b = convention_.Add("b");
  ConventionDaemon& invited = convention_.Add("invited");
  ASSERT_TRUE(convention_.Start(leader));
  ASSERT_TRUE(convention_.Start(b));
  ASSERT_TRUE(invited.Start());  // no convleader: a leader of itself
  ASSERT_TRUE(leader.WaitForMemberCount(2, seconds(10)));
  ASSERT_OK_AND_ASSIGN(v1::ConventionStatusResponse alone, invited.ConventionStatus());
  EXPECT_EQ(alone.role(), "leader");

  CommandResult invite = leader.Director({"convention", "invite", invited.address()});
  ASSERT_EQ(invite.code, 0) << invite;
  EXPECT_CONTAINS(invite.out, invited.address());
  ASSERT_TRUE(leader.WaitForMemberCount(3, seconds(5)));
  ASSERT_OK_AND_ASSIGN(v1::ConventionStatusResponse joined, invited.ConventionStatus());
  EXPECT_EQ(joined.role(), "member");
  EXPECT_EQ(joined.leader(), leader.address());

  CommandResult from_member = b.Director({"convention", "invite", invited.address()});
  EXPECT_EQ(from_member.code, 4) << from_member;
  EXPECT_CONTAINS(from_member.err, "only the leader invites members");
  CommandResult itself = leader.Director({"convention", "invite", leader.address()});
  EXPECT_EQ(itself.code, 5) << itself;
  EXPECT_CONTAINS(itself.err, "a leader cannot invite itself");
}

}  // namespace
}  // namespace troupe::testing
