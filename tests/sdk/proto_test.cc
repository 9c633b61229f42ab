// Tests of the SDK's protobuf helpers (SendProto, ParseProto, On<P>) against
// a real generated message: the type name is the full protobuf name and the
// payload its serialized bytes.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testdata/point.pb.h"
#include "troupe/actor.h"

namespace troupe {
namespace {

struct Sent {
  std::string type;
  std::string payload;
};
std::vector<Sent>* sent = nullptr;
std::vector<std::string>* errors = nullptr;

troupe_result_t RecordSend(troupe_actor_ctx_t*, troupe_address_t, troupe_bytes_t type,
                           troupe_bytes_t payload) {
  sent->push_back({std::string(type.data, type.size), std::string(payload.data, payload.size)});
  return TROUPE_OK;
}
void RecordError(troupe_actor_ctx_t*, troupe_bytes_t text) {
  errors->emplace_back(text.data, text.size);
}
troupe_address_t Retain(troupe_address_t a) { return a; }
void Release(troupe_address_t) {}

troupe_host_v1_t MakeHost() {
  troupe_host_v1_t host{};
  host.struct_size = sizeof host;
  host.abi_major = TROUPE_ABI_MAJOR;
  host.abi_minor = TROUPE_ABI_MINOR;
  host.send = &RecordSend;
  host.report_error = &RecordError;
  host.address_retain = &Retain;
  host.address_release = &Release;
  return host;
}

// Replies to a Point with the mirrored Point.
class Mirror : public Actor {
 public:
  Mirror() { On<test::Point>(&Mirror::OnPoint); }

 private:
  void OnPoint(const test::Point& p, const Message& m) {
    test::Point mirrored;
    mirrored.set_x(-p.x());
    mirrored.set_y(-p.y());
    SendProto(m.sender(), mirrored);
  }
};

constexpr troupe_actor_class_v1_t kMirror = ActorClass<Mirror>("test.Mirror");

class ProtoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sent = &sent_;
    errors = &errors_;
    ASSERT_EQ(kMirror.create(ctx_, &host_, &instance_), TROUPE_OK);
  }
  void TearDown() override { kMirror.destroy(instance_); }
  troupe_result_t Deliver(std::string_view type, std::string_view payload) {
    troupe_message_t m{{type.data(), type.size()}, {payload.data(), payload.size()}, sender_};
    return kMirror.receive(instance_, ctx_, &m);
  }

  troupe_host_v1_t host_ = MakeHost();
  troupe_actor_ctx_t* ctx_ = reinterpret_cast<troupe_actor_ctx_t*>(0x10);
  troupe_address_t sender_ = reinterpret_cast<troupe_address_t>(0x20);
  void* instance_ = nullptr;
  std::vector<Sent> sent_;
  std::vector<std::string> errors_;
};

TEST_F(ProtoTest, ProtobufMessagesAreTypedByTheirFullName) {
  test::Point p;
  p.set_x(3);
  p.set_y(-4);
  ASSERT_EQ(Deliver("troupe.test.Point", p.SerializeAsString()), TROUPE_OK);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].type, "troupe.test.Point");
  test::Point back;
  ASSERT_TRUE(back.ParseFromString(sent_[0].payload));
  EXPECT_EQ(back.x(), -3);
  EXPECT_EQ(back.y(), 4);
}

TEST_F(ProtoTest, AnUnparsablePayloadFailsTheHandlerWithAClearError) {
  EXPECT_EQ(Deliver("troupe.test.Point", std::string("\xff\xff\xff", 3)),
            TROUPE_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(sent_.empty());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("troupe.test.Point"), std::string::npos) << errors_[0];
}

}  // namespace
}  // namespace troupe
