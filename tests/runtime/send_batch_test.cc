// Tests of sends batched within one call into plugin code
// (ActorSystem::SendFromCode, daemon/runtime/send_batch.cc): order per
// target, batches to an actor that is gone, and targets that are never
// batched (reply slots).
#include <string>
#include <vector>

#include "tests/runtime/runtime_test_util.h"

namespace troupe::runtime::testing {
namespace {

const troupe_host_v1_t* burst_host = nullptr;
int burst_instance = 0;
// Set by "remember": the context and the address destroy says goodbye to.
troupe_actor_ctx_t* remembered_ctx = nullptr;
troupe_address_t remembered_sender = nullptr;

troupe_bytes_t Bytes(const std::string& s) { return {s.data(), s.size()}; }

troupe_result_t BurstCreate(troupe_actor_ctx_t*, const troupe_host_v1_t* host, void** out) {
  burst_host = host;
  *out = &burst_instance;
  return TROUPE_OK;
}
// A destructor may send (the context is valid until destroy returns).
void BurstDestroy(void*) {
  if (remembered_sender == nullptr) return;
  burst_host->send(remembered_ctx, remembered_sender, Bytes("bye"), Bytes("1"));
  burst_host->send(remembered_ctx, remembered_sender, Bytes("bye"), Bytes("2"));
  burst_host->address_release(remembered_sender);
  remembered_sender = nullptr;
}

// "burst" with payload "N": sends "n0".."n<N-1>" to the sender, and after
// every 50th one a "note" to itself (another target, which ends a batch).
// "twice": answers the sender two times.
troupe_result_t BurstReceive(void*, troupe_actor_ctx_t* ctx, const troupe_message_t* message) {
  const std::string type(message->type.data, message->type.size);
  if (type == "burst") {
    const int n = std::stoi(std::string(message->payload.data, message->payload.size));
    troupe_address_t self = burst_host->self(ctx);
    for (int i = 0; i < n; ++i) {
      const std::string payload = std::to_string(i);
      burst_host->send(ctx, message->sender, Bytes("n"), Bytes(payload));
      if (i % 50 == 49) burst_host->send(ctx, self, Bytes("note"), Bytes(payload));
    }
  } else if (type == "remember") {
    remembered_ctx = ctx;
    remembered_sender = burst_host->address_retain(message->sender);
  } else if (type == "twice") {
    burst_host->send(ctx, message->sender, Bytes("first"), Bytes(""));
    burst_host->send(ctx, message->sender, Bytes("second"), Bytes(""));
  }
  return TROUPE_OK;
}

troupe_actor_class_v1_t MakeBurstClass() {
  troupe_actor_class_v1_t c{};
  c.struct_size = sizeof(troupe_actor_class_v1_t);
  c.name = "send_batch.Burst";
  c.create = BurstCreate;
  c.destroy = BurstDestroy;
  c.receive = BurstReceive;
  return c;
}
const troupe_actor_class_v1_t kBurst = MakeBurstClass();
const troupe_actor_class_v1_t* const kBurstClasses[] = {&kBurst};

troupe_plugin_v1_t MakeBurstTable() {
  troupe_plugin_v1_t table{};
  table.struct_size = sizeof(troupe_plugin_v1_t);
  table.abi_major = TROUPE_ABI_MAJOR;
  table.abi_minor = TROUPE_ABI_MINOR;
  table.library_name = "send_batch";
  table.class_count = 1;
  table.classes = kBurstClasses;
  return table;
}
const troupe_plugin_v1_t kBurstTable = MakeBurstTable();

class SendBatchTest : public RuntimeTest {
 protected:
  void SetUp() override {
    MakeDeterministic();
    ASSERT_OK(sys().RegisterLibrary(&kBurstTable));
    ASSERT_OK_AND_ASSIGN(burst_, sys().CreateActor("send_batch.Burst"));
  }
  ActorRef burst_;
  Inbox inbox_;  // alive until the system is shut down (TearDown)
};

// More than two batches, interrupted by sends elsewhere: every message
// arrives once, in the order sent, and none waits past the call.
TEST_F(SendBatchTest, ABurstArrivesWholeAndInOrder) {
  constexpr int kCount = 3 * ActorSystem::kSendBatch + 7;
  ActorRef recorder = sys().SpawnNative(inbox_.Handler());
  ASSERT_OK(sys().Tell(burst_, Msg("burst", std::to_string(kCount)), recorder));
  sys().RunUntilIdle();
  std::vector<Received> got = inbox_.OfType("n");
  ASSERT_EQ(got.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(got[i].payload, std::to_string(i)) << "message " << i << " out of order";
    ASSERT_EQ(got[i].sender.get(), burst_.get());
  }
  EXPECT_EQ(sys().GetStatus().dead_letters, 0u);
}

// A batch whose target has exited: each message becomes a dead letter, as
// single sends to it do.
TEST_F(SendBatchTest, ABatchToAnActorThatIsGoneBecomesDeadLetters) {
  ActorRef recorder = sys().SpawnNative(inbox_.Handler());
  ASSERT_OK(sys().RequestExit(recorder));
  sys().RunUntilIdle();
  const uint64_t before = sys().GetStatus().dead_letters;
  constexpr int kCount = ActorSystem::kSendBatch + 10;
  ASSERT_OK(sys().Tell(burst_, Msg("burst", std::to_string(kCount)), recorder));
  sys().RunUntilIdle();
  EXPECT_EQ(inbox_.OfType("n").size(), 0u);
  EXPECT_EQ(sys().GetStatus().dead_letters - before, static_cast<uint64_t>(kCount));
}

// Sends from the destructor leave too: the batch ends with the destroy call.
TEST_F(SendBatchTest, SendsFromTheDestructorArrive) {
  ActorRef recorder = sys().SpawnNative(inbox_.Handler());
  ASSERT_OK(sys().Tell(burst_, Msg("remember"), recorder));
  sys().RunUntilIdle();
  ASSERT_OK(sys().RequestExit(burst_));
  sys().RunUntilIdle();
  std::vector<Received> got = inbox_.OfType("bye");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "1");
  EXPECT_EQ(got[1].payload, "2");
}

// A reply slot takes the first answer; the second send to it is not batched
// behind the first but is a dead letter of its own.
TEST_F(SendBatchTest, AReplySlotIsNeverBatched) {
  std::vector<std::string> replies;
  ActorRef slot = sys().OpenReplySlot(
      [&](absl::StatusOr<Message> reply) {
        replies.push_back(reply.ok() ? std::string(reply->type()) : "error");
      },
      absl::Seconds(30));
  const uint64_t before = sys().GetStatus().dead_letters;
  ASSERT_OK(sys().Tell(burst_, Msg("twice"), slot));
  sys().RunUntilIdle();
  EXPECT_EQ(replies, std::vector<std::string>{"first"});
  EXPECT_EQ(sys().GetStatus().dead_letters - before, 1u);
}

}  // namespace
}  // namespace troupe::runtime::testing
