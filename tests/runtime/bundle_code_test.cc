// Tests of the "which bundle's code runs on this thread" mark
// (CurrentBundleCode, BundleCodeScope in actor_class.h): every call into a
// library registered with a bundle hash carries it, and only those calls.
#include <string>
#include <vector>

#include "daemon/runtime/actor_class.h"
#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

const std::string kHash(64, 'c');
const std::string kOtherHash(64, 'd');

// What the probe's callbacks saw: "<callback> <mark or none>".
std::vector<std::string>& Seen() {
  static std::vector<std::string> seen;
  return seen;
}

void Note(const char* what) {
  const char* code = CurrentBundleCode();
  Seen().push_back(std::string(what) + " " + (code == nullptr ? "none" : code));
}

int probe_instance = 0;
const troupe_host_v1_t* probe_host = nullptr;

troupe_result_t ProbeCreate(troupe_actor_ctx_t*, const troupe_host_v1_t* host, void** out) {
  Note("create");
  probe_host = host;
  *out = &probe_instance;
  return TROUPE_OK;
}
void ProbeDestroy(void*) { Note("destroy"); }
troupe_result_t ProbeReceive(void*, troupe_actor_ctx_t* ctx, const troupe_message_t* message) {
  const std::string type(message->type.data, message->type.size);
  if (type == "probe") Note("receive");
  if (type == "answer") {  // answers the sender, then notes the mark it has
    const troupe_bytes_t answer{"answer", 6};
    probe_host->send(ctx, message->sender, answer, troupe_bytes_t{nullptr, 0});
    Note("after_send");
  }
  return TROUPE_OK;
}
int ProbeCapabilityCheck(troupe_bytes_t, troupe_bytes_t) {
  Note("capability_check");
  return 1;
}

troupe_actor_class_v1_t MakeClass(const char* name) {
  troupe_actor_class_v1_t c{};
  c.struct_size = sizeof(troupe_actor_class_v1_t);
  c.name = name;
  c.create = ProbeCreate;
  c.destroy = ProbeDestroy;
  c.receive = ProbeReceive;
  c.capability_check = ProbeCapabilityCheck;
  return c;
}

troupe_plugin_v1_t MakeTable(const char* name, const troupe_actor_class_v1_t* const* classes) {
  troupe_plugin_v1_t table{};
  table.struct_size = sizeof(troupe_plugin_v1_t);
  table.abi_major = TROUPE_ABI_MAJOR;
  table.abi_minor = TROUPE_ABI_MINOR;
  table.library_name = name;
  table.class_count = 1;
  table.classes = classes;
  return table;
}

const troupe_actor_class_v1_t kBundled = MakeClass("bundle_code.Bundled");
const troupe_actor_class_v1_t* const kBundledClasses[] = {&kBundled};
const troupe_plugin_v1_t kBundledTable = MakeTable("bundled", kBundledClasses);
const troupe_actor_class_v1_t kPlain = MakeClass("bundle_code.Plain");
const troupe_actor_class_v1_t* const kPlainClasses[] = {&kPlain};
const troupe_plugin_v1_t kPlainTable = MakeTable("plain", kPlainClasses);

class BundleCodeTest : public RuntimeTest {
 protected:
  void SetUp() override {
    Seen().clear();
    MakeDeterministic();
  }
  // Creates an actor of `class_name`, sends it "probe", lets it exit.
  void Drive(std::string_view class_name) {
    ASSERT_OK_AND_ASSIGN(ActorRef actor, sys().CreateActor(class_name));
    ASSERT_OK(sys().Tell(actor, Msg("probe")));
    sys().RunUntilIdle();
    ASSERT_OK(sys().RequestExit(actor));
    sys().RunUntilIdle();
  }
};

TEST_F(BundleCodeTest, EveryCallIntoABundlesLibraryCarriesItsHash) {
  ASSERT_OK(sys().RegisterLibrary(&kBundledTable, kHash));
  Drive("bundle_code.Bundled");
  EXPECT_EQ(Seen(), (std::vector<std::string>{"capability_check " + kHash, "create " + kHash,
                                              "receive " + kHash, "destroy " + kHash}));
  EXPECT_EQ(CurrentBundleCode(), nullptr) << "cleared after each call";
}

TEST_F(BundleCodeTest, ALibraryWithoutABundleHashMarksNothing) {
  ASSERT_OK(sys().RegisterLibrary(&kPlainTable));
  Drive("bundle_code.Plain");
  EXPECT_EQ(Seen(), (std::vector<std::string>{"capability_check none", "create none",
                                              "receive none", "destroy none"}));
}

// A reply slot's handler runs inline on the thread of the actor that
// answers: daemon code, not the bundle's, so the mark is off meanwhile and
// back afterwards.
TEST_F(BundleCodeTest, AReplyHandlerRunInlineByABundlesSendIsNotMarkedAsTheBundle) {
  ASSERT_OK(sys().RegisterLibrary(&kBundledTable, kHash));
  ASSERT_OK_AND_ASSIGN(ActorRef actor, sys().CreateActor("bundle_code.Bundled"));
  bool answered = false;
  ActorRef slot = sys().OpenReplySlot(
      [&](absl::StatusOr<Message> reply) {
        answered = reply.ok();
        Note("reply_handler");
      },
      absl::Seconds(30));
  ASSERT_OK(sys().Tell(actor, Msg("answer"), slot));
  sys().RunUntilIdle();
  EXPECT_TRUE(answered);
  EXPECT_EQ(Seen(), (std::vector<std::string>{"capability_check " + kHash, "create " + kHash,
                                              "reply_handler none", "after_send " + kHash}));
  ASSERT_OK(sys().RequestExit(actor));
  sys().RunUntilIdle();
}

TEST(BundleCodeScopeTest, NestedScopesPutBackTheMarkTheyFound) {
  EXPECT_EQ(CurrentBundleCode(), nullptr);
  {
    BundleCodeScope outer(kHash.c_str());
    EXPECT_EQ(CurrentBundleCode(), kHash.c_str());
    {
      BundleCodeScope inner(kOtherHash.c_str());
      EXPECT_EQ(CurrentBundleCode(), kOtherHash.c_str());
      {
        BundleCodeScope none(nullptr);
        EXPECT_EQ(CurrentBundleCode(), nullptr);
      }
      EXPECT_EQ(CurrentBundleCode(), kOtherHash.c_str());
    }
    EXPECT_EQ(CurrentBundleCode(), kHash.c_str());
  }
  EXPECT_EQ(CurrentBundleCode(), nullptr);
}

}  // namespace
}  // namespace troupe::runtime::testing
