// http_api_test.cc - every route of the HTTP API (daemon/http/README.md) and
// the bad inputs each refuses, against a real troupd and its troupe-http.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "tests/http/http_harness.h"

namespace troupe::testing {
namespace {

using nlohmann::json;

json Json(const httplib::Result& result) {
  if (!result) return json();
  return json::parse(result->body, nullptr, /*allow_exceptions=*/false);
}

// The error body every refusal has: {"code": ..., "error": ...}.
void ExpectError(const httplib::Result& result, int status, const std::string& code,
                 const std::string& text_part) {
  ASSERT_TRUE(result) << "no HTTP answer: " << httplib::to_string(result.error());
  EXPECT_EQ(result->status, status) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  json body = Json(result);
  EXPECT_EQ(body.value("code", ""), code) << result->body;
  EXPECT_NE(body.value("error", "").find(text_part), std::string::npos) << result->body;
}

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(http_.Start()); }

  // Loads the examples bundle (examples.Echo, examples.Counter, ...).
  void LoadExamples() {
    std::string bundle = ReadFileForTest(TROUPE_EXAMPLES_BUNDLE);
    auto result = http_.client().Post("/v1/bundles", bundle, "application/octet-stream");
    ASSERT_TRUE(result);
    ASSERT_EQ(result->status, 201) << result->body;
  }

  // Creates an actor of `class_name` from the examples group; its address.
  std::string Create(const std::string& class_name, const std::string& name = "") {
    json body = {{"group", "examples"}, {"class", class_name}};
    if (!name.empty()) body["name"] = name;
    auto result = http_.client().Post("/v1/actors", body.dump(), "application/json");
    EXPECT_TRUE(result);
    if (!result) return "";
    EXPECT_EQ(result->status, 201) << result->body;
    return Json(result).value("address", "");
  }

  HttpHarness http_;
};

TEST_F(HttpApiTest, HealthAndReadinessAnswerWithoutAToken) {
  httplib::Client anonymous("127.0.0.1", http_.port());
  auto health = anonymous.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = anonymous.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(Json(ready).value("status", ""), "ready");
}

TEST_F(HttpApiTest, EveryOtherRouteNeedsTheClientToken) {
  httplib::Client anonymous("127.0.0.1", http_.port());
  ExpectError(anonymous.Get("/v1/bundles"), 401, "UNAUTHENTICATED", "client token");
  httplib::Client wrong("127.0.0.1", http_.port());
  std::string wrong_token = http_.token();
  wrong_token.back() = wrong_token.back() == 'a' ? 'b' : 'a';
  wrong.set_bearer_token_auth(wrong_token.c_str());
  ExpectError(wrong.Post("/v1/actors/x/messages", "hi", "text/plain"), 401, "UNAUTHENTICATED",
              "Bearer");
  auto right = http_.client().Get("/v1/bundles");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
}

TEST_F(HttpApiTest, NoRouteButHealthAnswersWithoutTheToken) {
  httplib::Client anonymous("127.0.0.1", http_.port());
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v1/bundles"},         {"POST", "/v1/bundles"},
      {"DELETE", "/v1/bundles/x"},    {"POST", "/v1/actors"},
      {"GET", "/v1/actors/x"},        {"GET", "/v1/actors/x/logs"},
      {"POST", "/v1/actors/x/messages"}, {"POST", "/v1/actors/x/ask"},
      {"POST", "/v1/actors/x/executions"}, {"GET", "/v1/executions/x"},
      {"GET", "/v1/convention"},      {"GET", "/v2/unknown"}};
  for (const auto& [method, path] : routes) {
    httplib::Result result = method == "GET"      ? anonymous.Get(path)
                             : method == "DELETE" ? anonymous.Delete(path)
                                                  : anonymous.Post(path, "x", "text/plain");
    ASSERT_TRUE(result) << method << " " << path;
    EXPECT_EQ(result->status, 401) << method << " " << path << ": " << result->body;
  }
}

TEST_F(HttpApiTest, ABodyWhereNoneBelongsIsRefused) {
  ExpectError(http_.client().Delete("/v1/bundles/x", "body", "text/plain"), 400,
              "INVALID_ARGUMENT", "takes no body");
}

TEST_F(HttpApiTest, UnknownRoutesGetAJsonNotFound) {
  ExpectError(http_.client().Get("/v2/nothing"), 404, "NOT_FOUND", "no route GET");
}

TEST_F(HttpApiTest, ABundlePostedIsLoadedListedAndUnloaded) {
  std::string bundle = ReadFileForTest(TROUPE_EXAMPLES_BUNDLE);
  auto loaded = http_.client().Post("/v1/bundles", bundle, "application/zip");
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->status, 201) << loaded->body;
  json body = Json(loaded);
  EXPECT_EQ(body.value("group", ""), "examples");
  EXPECT_EQ(body.value("version", ""), "1.0");
  EXPECT_EQ(body.value("hash", "").size(), 64u);
  ASSERT_EQ(body["actors"].size(), 2u);
  EXPECT_EQ(body["actors"][0].value("className", ""), "examples.Echo");

  auto again = http_.client().Post("/v1/bundles", bundle, "application/zip");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_TRUE(Json(again).value("alreadyLoaded", false));

  auto list = http_.client().Get("/v1/bundles");
  ASSERT_TRUE(list);
  ASSERT_EQ(Json(list)["bundles"].size(), 1u);

  auto unloaded = http_.client().Delete("/v1/bundles/examples-1.0");
  ASSERT_TRUE(unloaded);
  EXPECT_EQ(unloaded->status, 200) << unloaded->body;
  ExpectError(http_.client().Delete("/v1/bundles/examples-1.0"), 404, "NOT_FOUND", "examples");
  // By group and by hash too.
  ASSERT_EQ(http_.client().Post("/v1/bundles", bundle, "application/zip")->status, 201);
  auto by_group = http_.client().Delete("/v1/bundles/examples");
  ASSERT_TRUE(by_group);
  EXPECT_EQ(by_group->status, 200) << by_group->body;
  auto again_loaded = http_.client().Post("/v1/bundles", bundle, "application/zip");
  ASSERT_EQ(again_loaded->status, 201);
  auto by_hash = http_.client().Delete("/v1/bundles/" + Json(again_loaded).value("hash", ""));
  ASSERT_TRUE(by_hash);
  EXPECT_EQ(by_hash->status, 200) << by_hash->body;
}

TEST_F(HttpApiTest, ATamperedOrEmptyBundleIsRefusedAndNothingIsLoaded) {
  std::string bundle = ReadFileForTest(TROUPE_EXAMPLES_BUNDLE);
  bundle[bundle.size() / 2] ^= 0x20;
  auto tampered = http_.client().Post("/v1/bundles", bundle, "application/octet-stream");
  ASSERT_TRUE(tampered);
  EXPECT_EQ(tampered->status, 400) << tampered->body;
  EXPECT_EQ(Json(tampered).value("code", ""), "FAILED_PRECONDITION");
  ExpectError(http_.client().Post("/v1/bundles", "", "application/octet-stream"), 400,
              "INVALID_ARGUMENT", "empty");
  auto list = http_.client().Get("/v1/bundles");
  ASSERT_TRUE(list);
  EXPECT_TRUE(Json(list)["bundles"].empty()) << list->body;
}

TEST_F(HttpApiTest, CreateTellAskAndStatusOfAnActorByNameAndByAddress) {
  LoadExamples();
  const std::string address = Create("examples.Counter", "counter1");
  ASSERT_EQ(address.rfind("troupe://", 0), 0u) << address;

  auto told = http_.client().Post("/v1/actors/counter1/messages?type=increment", "5", "text/plain");
  ASSERT_TRUE(told);
  EXPECT_EQ(told->status, 202) << told->body;
  auto asked = http_.client().Post("/v1/actors/" + PathSegment(address) + "/ask?type=get", "",
                                   "text/plain");
  ASSERT_TRUE(asked);
  EXPECT_EQ(asked->status, 200) << asked->body;
  EXPECT_EQ(asked->body, "5");
  EXPECT_EQ(asked->get_header_value("Troupe-Message-Type"), "count");
  EXPECT_EQ(asked->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(asked->get_header_value("Troupe-Reply-From"), address);

  auto status = http_.client().Get("/v1/actors/counter1");
  ASSERT_TRUE(status);
  ASSERT_EQ(status->status, 200) << status->body;
  json info = Json(status);
  EXPECT_EQ(info.value("className", ""), "examples.Counter");
  EXPECT_EQ(info.value("address", ""), address);
  EXPECT_EQ(info.value("state", ""), "running");
  EXPECT_EQ(info.value("received", ""), "2");
  EXPECT_EQ(info.value("bundle", ""), "examples 1.0");
}

TEST_F(HttpApiTest, BadCreateRequestsAreRefusedWithTheReason) {
  LoadExamples();
  ExpectError(http_.client().Post("/v1/actors", "{\"group\": ", "application/json"), 400,
              "INVALID_ARGUMENT", "not a valid HttpCreateActor");
  ExpectError(http_.client().Post("/v1/actors",
                                  R"({"group":"examples","class":"examples.Echo","colour":1})",
                                  "application/json"),
              400, "INVALID_ARGUMENT", "colour");
  ExpectError(http_.client().Post("/v1/actors", R"({"group":"examples"})", "application/json"),
              400, "INVALID_ARGUMENT", "class");
  ExpectError(http_.client().Post("/v1/actors", R"({"group":"nosuch","class":"x.Y"})",
                                  "application/json"),
              404, "NOT_FOUND", "nosuch");
}

TEST_F(HttpApiTest, AnUnknownActorIsNotFoundOnEveryRoute) {
  LoadExamples();
  ExpectError(http_.client().Post("/v1/actors/nobody/messages", "hi", "text/plain"), 404,
              "NOT_FOUND", "nobody");
  ExpectError(http_.client().Post("/v1/actors/nobody/ask", "hi", "text/plain"), 404, "NOT_FOUND",
              "nobody");
  ExpectError(http_.client().Get("/v1/actors/nobody"), 404, "NOT_FOUND", "nobody");
  ExpectError(http_.client().Get("/v1/actors/nobody/logs"), 404, "NOT_FOUND", "nobody");
}

TEST_F(HttpApiTest, EachContentTypeBecomesThePayloadAndBadBodiesAreRefused) {
  LoadExamples();
  Create("examples.Echo", "echo1");
  auto ask = [&](const std::string& body, const std::string& type, const std::string& query) {
    return http_.client().Post("/v1/actors/echo1/ask" + query, body, type.c_str());
  };
  auto as_json = ask(R"({"a": [1, 2]})", "application/json", "?type=json");
  ASSERT_TRUE(as_json);
  EXPECT_EQ(as_json->status, 200);
  EXPECT_EQ(as_json->body, R"({"a": [1, 2]})");
  EXPECT_EQ(as_json->get_header_value("Content-Type"), "application/json");
  auto as_text = ask("hello", "text/plain; charset=utf-8", "");
  ASSERT_TRUE(as_text);
  EXPECT_EQ(as_text->body, "hello");
  EXPECT_EQ(as_text->get_header_value("Troupe-Message-Type"), "text");
  auto as_bytes = ask(std::string("\x00\x01\xff", 3), "application/octet-stream", "?type=blob");
  ASSERT_TRUE(as_bytes);
  EXPECT_EQ(as_bytes->body, std::string("\x00\x01\xff", 3));
  EXPECT_EQ(as_bytes->get_header_value("Content-Type"), "application/octet-stream");
  auto as_form = ask("message=hi+there&other=1", "application/x-www-form-urlencoded", "");
  ASSERT_TRUE(as_form);
  EXPECT_EQ(as_form->body, "hi there");
  // A form field named type is payload business, not the message type.
  auto form_type = ask("message=x&type=other", "application/x-www-form-urlencoded", "");
  ASSERT_TRUE(form_type);
  EXPECT_EQ(form_type->get_header_value("Troupe-Message-Type"), "text");

  ExpectError(ask("{nope", "application/json", ""), 400, "INVALID_ARGUMENT", "not valid JSON");
  ExpectError(ask("\xff\xfe", "text/plain", ""), 400, "INVALID_ARGUMENT", "UTF-8");
  ExpectError(ask("other=1", "application/x-www-form-urlencoded", ""), 400, "INVALID_ARGUMENT",
              "'message' field");
  ExpectError(ask("<a/>", "application/xml", ""), 415, "INVALID_ARGUMENT", "application/xml");
}

TEST_F(HttpApiTest, AnAskThatTimesOutIs504AndAFailedHandlerIs422) {
  LoadExamples();
  Create("examples.Counter", "counter2");
  Create("examples.Failing", "failing");
  // increment never replies.
  ExpectError(
      http_.client().Post("/v1/actors/counter2/ask?type=increment&timeout=200ms", "", "text/plain"),
      504, "DEADLINE_EXCEEDED", "");
  ExpectError(http_.client().Post("/v1/actors/failing/ask?type=fail", "", "text/plain"), 422,
              "ABORTED", "failed on message 'fail'");
  ExpectError(http_.client().Post("/v1/actors/counter2/ask?timeout=forever", "", "text/plain"),
              400, "INVALID_ARGUMENT", "forever");
}

TEST_F(HttpApiTest, AnExecutionRunsAsynchronouslyAndKeepsItsResult) {
  LoadExamples();
  Create("examples.Echo", "echo2");
  auto submitted = http_.client().Post("/v1/actors/echo2/executions?type=text", "ping",
                                       "text/plain");
  ASSERT_TRUE(submitted);
  ASSERT_EQ(submitted->status, 202) << submitted->body;
  json record = Json(submitted);
  const std::string id = record.value("id", "");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(record.value("status", ""), "pending");
  EXPECT_FALSE(record.value("submitted", "").empty());
  // The reply comes when the daemon sends it: poll with a bound.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    record = Json(http_.client().Get("/v1/executions/" + id));
  } while (record.value("status", "") == "pending" && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(record.value("status", ""), "done") << record.dump();
  EXPECT_EQ(record.value("result", ""), "ping");
  EXPECT_EQ(record.value("replyType", ""), "text");
  EXPECT_FALSE(record.value("finished", "").empty());

  ExpectError(http_.client().Get("/v1/executions/nosuch-1"), 404, "NOT_FOUND", "unknown execution");

  // To an actor nobody has: the execution fails, saying so.
  auto lost = http_.client().Post("/v1/actors/nobody/executions", "x", "text/plain");
  ASSERT_TRUE(lost && lost->status == 202);
  const std::string lost_id = Json(lost).value("id", "");
  const auto lost_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    record = Json(http_.client().Get("/v1/executions/" + lost_id));
  } while (record.value("status", "") == "pending" &&
           std::chrono::steady_clock::now() < lost_deadline);
  EXPECT_EQ(record.value("status", ""), "failed") << record.dump();
  EXPECT_NE(record.value("error", "").find("NOT_FOUND"), std::string::npos) << record.dump();
}

TEST_F(HttpApiTest, FailedAndTimedOutExecutionsSayWhy) {
  LoadExamples();
  Create("examples.Failing", "failing2");
  Create("examples.Counter", "counter3");
  auto run = [&](const std::string& path) {
    auto submitted = http_.client().Post(path, "", "text/plain");
    EXPECT_TRUE(submitted && submitted->status == 202);
    const std::string id = submitted ? Json(submitted).value("id", "") : "";
    json record;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    do {
      record = Json(http_.client().Get("/v1/executions/" + id));
    } while (record.value("status", "") == "pending" &&
             std::chrono::steady_clock::now() < deadline);
    return record;
  };
  json failed = run("/v1/actors/failing2/executions?type=fail");
  EXPECT_EQ(failed.value("status", ""), "failed") << failed.dump();
  EXPECT_NE(failed.value("error", "").find("failed on message 'fail'"), std::string::npos);
  json timed_out = run("/v1/actors/counter3/executions?type=increment&timeout=100ms");
  EXPECT_EQ(timed_out.value("status", ""), "timed_out") << timed_out.dump();
}

TEST_F(HttpApiTest, TheLogsOfAnActorAreTheLinesItLogged) {
  LoadExamples();
  Create("examples.Counter", "logger");
  for (const char* n : {"2", "3"}) {
    auto told = http_.client().Post("/v1/actors/logger/messages?type=increment", n, "text/plain");
    ASSERT_TRUE(told && told->status == 202);
  }
  // A tell is handled after its 202: the ask comes after both increments.
  auto asked = http_.client().Post("/v1/actors/logger/ask?type=get", "", "text/plain");
  ASSERT_TRUE(asked && asked->body == "5");
  auto logs = http_.client().Get("/v1/actors/logger/logs");
  ASSERT_TRUE(logs);
  ASSERT_EQ(logs->status, 200) << logs->body;
  json body = Json(logs);
  ASSERT_EQ(body["lines"].size(), 2u) << logs->body;
  EXPECT_EQ(body["lines"][0].value("text", ""), "count is now 2");
  EXPECT_EQ(body["lines"][1].value("text", ""), "count is now 5");
  EXPECT_EQ(body["lines"][1].value("level", ""), "info");
  auto last = http_.client().Get("/v1/actors/logger/logs?lines=1");
  ASSERT_TRUE(last);
  ASSERT_EQ(Json(last)["lines"].size(), 1u);
  ExpectError(http_.client().Get("/v1/actors/logger/logs?lines=many"), 400, "INVALID_ARGUMENT",
              "many");
}

TEST_F(HttpApiTest, TheConventionRouteDescribesThisDaemon) {
  auto convention = http_.client().Get("/v1/convention");
  ASSERT_TRUE(convention);
  EXPECT_EQ(convention->status, 200) << convention->body;
  json body = Json(convention);
  ASSERT_TRUE(body.is_object()) << convention->body;
  EXPECT_TRUE(body.contains("role")) << convention->body;
}

}  // namespace
}  // namespace troupe::testing
