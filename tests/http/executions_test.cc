// executions_test.cc - the execution records of the HTTP API
// (daemon/http/executions.h): ids, outcomes, expiry by time and by count.
#include "daemon/http/executions.h"

#include <gtest/gtest.h>

namespace troupe::http {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

TEST(ExecutionsTest, ARecordIsPendingUntilFinished) {
  Executions executions("p", absl::Seconds(60), 10);
  v1::HttpExecution started = executions.Start("troupe://n/1", "get", kStart);
  EXPECT_EQ(started.id(), "p-1");
  EXPECT_EQ(started.status(), "pending");
  EXPECT_EQ(started.submitted(), "2027-01-15T08:00:00.000Z");
  v1::HttpExecution reply;
  reply.set_reply_type("count");
  reply.set_result("5");
  executions.Finish(started.id(), "done", kStart + absl::Seconds(1), reply);
  absl::StatusOr<v1::HttpExecution> record = executions.Get("p-1", kStart + absl::Seconds(2));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->status(), "done");
  EXPECT_EQ(record->result(), "5");
  EXPECT_EQ(record->finished(), "2027-01-15T08:00:01.000Z");
}

TEST(ExecutionsTest, AnEndedRecordExpiresAfterItsTtlAndThenSaysSo) {
  Executions executions("p", absl::Seconds(60), 10);
  v1::HttpExecution started = executions.Start("a", "t", kStart);
  executions.Finish(started.id(), "failed", kStart, v1::HttpExecution());
  EXPECT_TRUE(executions.Get(started.id(), kStart + absl::Seconds(59)).ok());
  absl::StatusOr<v1::HttpExecution> gone = executions.Get(started.id(), kStart + absl::Seconds(60));
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(gone.status().message()).rfind("expired", 0), 0u);
}

TEST(ExecutionsTest, PendingRecordsDoNotExpireAndTheOldestEndedGoesFirstOverTheBound) {
  Executions executions("p", absl::Seconds(60), 2);
  v1::HttpExecution pending = executions.Start("a", "t", kStart);
  v1::HttpExecution ended = executions.Start("a", "t", kStart);
  executions.Finish(ended.id(), "done", kStart, v1::HttpExecution());
  executions.Start("a", "t", kStart);  // over the bound: `ended` goes, not `pending`
  EXPECT_TRUE(executions.Get(pending.id(), kStart).ok());
  EXPECT_EQ(executions.Get(ended.id(), kStart).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Pending records never expire by time.
  EXPECT_TRUE(executions.Get(pending.id(), kStart + absl::Hours(24)).ok());
}

TEST(ExecutionsTest, IdsNeverGivenOutAreUnknown) {
  Executions executions("p", absl::Seconds(60), 10);
  executions.Start("a", "t", kStart);
  for (const char* id : {"p-2", "q-1", "p-0", "p-x", "p", ""}) {
    EXPECT_EQ(executions.Get(id, kStart).status().code(), absl::StatusCode::kNotFound) << id;
  }
}

}  // namespace
}  // namespace troupe::http
