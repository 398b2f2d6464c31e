#include <chrono>
#include <string>

#include <boost/test/unit_test.hpp>

#include "core/providers/http_failure.hpp"
#include "core/providers/retry_after.hpp"

using namespace std::chrono_literals;
using troupe::model_failure;
using troupe::provider_kind;
using troupe::providers::classify_http_failure;
using troupe::providers::header_list;
using troupe::providers::parse_http_date;
using troupe::providers::parse_retry_after;
using troupe::providers::redact_detail;
using troupe::providers::retry_after_ms;

namespace {

// 1994-11-06 08:49:37 UTC, RFC 9110's example date.
const auto example_date = std::chrono::system_clock::time_point(784111777s);

struct classified {
  std::string failure;
  std::string detail;
  uint64_t retry_after_ms;
};

classified classify(provider_kind p, int status, std::string_view body, header_list headers = {},
                    std::string_view key = "") {
  auto r = classify_http_failure(p, status, headers, body, key, example_date);
  BOOST_TEST(r.text.empty());
  BOOST_TEST(r.tool_calls.empty());
  return {r.failure, r.failure_detail, r.retry_after_ms};
}

bool retryable(const std::string& name) {
  model_failure f{};
  BOOST_REQUIRE(troupe::from_string(name, f));
  return troupe::retryable(f);
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_failures)

BOOST_AUTO_TEST_CASE(client_errors_are_bad_requests_not_retried) {
  auto r = classify(provider_kind::openai, 400,
                    R"({"error":{"message":"Invalid 'messages[1].content': string too long.","type":"invalid_request_error","param":"messages[1].content","code":"string_above_max_length"}})");
  BOOST_TEST(r.failure == "bad_request");
  BOOST_TEST(r.detail == "openai HTTP 400 invalid_request_error: Invalid 'messages[1].content': string too long.");
  BOOST_TEST(!retryable(r.failure));

  r = classify(provider_kind::anthropic, 401,
               R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"})");
  BOOST_TEST(r.failure == "bad_request");
  BOOST_TEST(r.detail == "anthropic HTTP 401 authentication_error: invalid x-api-key");

  r = classify(provider_kind::ollama, 404, R"({"error":"model 'qwen9' not found"})");
  BOOST_TEST(r.failure == "bad_request");
  BOOST_TEST(r.detail == "ollama HTTP 404: model 'qwen9' not found");
}

BOOST_AUTO_TEST_CASE(rate_limits_honour_the_servers_wait) {
  auto body = R"({"error":{"message":"Rate limit reached for gpt-4o in organization org-x on requests per min (RPM): Limit 500, Used 500, Requested 1. You can increase your rate limit by adding a payment method to your account at https://platform.openai.com/account/billing.","type":"requests","param":null,"code":"rate_limit_exceeded"}})";
  auto r = classify(provider_kind::openai, 429, body, {{"retry-after", "20"}});
  BOOST_TEST(r.failure == "rate_limited");
  BOOST_TEST(r.retry_after_ms == 20000u);
  BOOST_TEST(retryable(r.failure));
  // retry-after-ms is more precise and wins, in either order.
  BOOST_TEST(classify(provider_kind::openai, 429, body, {{"retry-after", "20"}, {"retry-after-ms", "1500"}}).retry_after_ms == 1500u);
  BOOST_TEST(classify(provider_kind::openai, 429, body, {{"retry-after-ms", "250.7"}, {"retry-after", "20"}}).retry_after_ms == 250u);
  // An HTTP-date, 30 s after "now".
  BOOST_TEST(classify(provider_kind::anthropic, 429, "", {{"retry-after", "Sun, 06 Nov 1994 08:50:07 GMT"}}).retry_after_ms == 30000u);
  // Nothing said, or nothing usable: 0.
  BOOST_TEST(classify(provider_kind::openai, 429, body).retry_after_ms == 0u);
  BOOST_TEST(classify(provider_kind::openai, 429, body, {{"retry-after", "soon"}}).retry_after_ms == 0u);
  // Header names compare without case.
  BOOST_TEST(classify(provider_kind::openai, 429, body, {{"Retry-After", "3"}}).retry_after_ms == 3000u);
}

BOOST_AUTO_TEST_CASE(quota_errors_are_not_rate_limits) {
  auto r = classify(provider_kind::openai, 429,
                    R"({"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})",
                    {{"retry-after", "20"}});
  BOOST_TEST(r.failure == "quota_exhausted");
  BOOST_TEST(r.retry_after_ms == 0u);
  BOOST_TEST(!retryable(r.failure));
  // Old responses had a null code; the type says it.
  BOOST_TEST(classify(provider_kind::openai, 429, R"({"error":{"message":"x","type":"insufficient_quota","param":null,"code":null}})").failure == "quota_exhausted");
  BOOST_TEST(classify(provider_kind::anthropic, 400,
                      R"({"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}})")
               .failure == "quota_exhausted");
  BOOST_TEST(classify(provider_kind::anthropic, 400,
                      R"({"type":"error","error":{"type":"invalid_request_error","message":"You have reached your specified API usage limits. You will regain access on 2026-04-01 at 00:00 UTC."}})")
               .failure == "quota_exhausted");
  BOOST_TEST(classify(provider_kind::anthropic, 402, R"({"type":"error","error":{"type":"billing_error","message":"payment required"}})").failure == "quota_exhausted");
  BOOST_TEST(classify(provider_kind::openai, 429, R"({"error":{"message":"Your account is not active, please check your billing details on our website.","type":"billing_not_active","param":null,"code":"billing_not_active"}})").failure == "quota_exhausted");
}

BOOST_AUTO_TEST_CASE(server_errors_and_overload) {
  auto r = classify(provider_kind::openai, 500,
                    R"({"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}})");
  BOOST_TEST(r.failure == "server_error");
  BOOST_TEST(retryable(r.failure));
  BOOST_TEST(classify(provider_kind::openai, 502, "").failure == "server_error");
  BOOST_TEST(classify(provider_kind::openai, 502, "").detail == "openai HTTP 502 with an empty body");
  BOOST_TEST(classify(provider_kind::openai, 500, R"({"error":{}})").detail == "openai HTTP 500: an error without a message");

  r = classify(provider_kind::openai, 503, "upstream connect error", {{"retry-after", "2"}});
  BOOST_TEST(r.failure == "overloaded");
  BOOST_TEST(r.retry_after_ms == 2000u);
  BOOST_TEST(r.detail == "openai HTTP 503: upstream connect error");

  r = classify(provider_kind::anthropic, 529,
               R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
               {{"retry-after", "7"}});
  BOOST_TEST(r.failure == "overloaded");
  BOOST_TEST(r.retry_after_ms == 7000u);
  BOOST_TEST(r.detail == "anthropic HTTP 529 overloaded_error: Overloaded");
  // Anthropic also reports overload as a 429 with overloaded_error.
  BOOST_TEST(classify(provider_kind::anthropic, 429, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})").failure == "overloaded");

  BOOST_TEST(classify(provider_kind::openai, 408, "").failure == "timeout");
  BOOST_TEST(classify(provider_kind::openai, 301, "").failure == "bad_request");
  BOOST_TEST(classify(provider_kind::openai, 301, "").detail == "openai unexpected HTTP status 301 with an empty body");
}

BOOST_AUTO_TEST_CASE(an_html_answer_is_described_by_its_title) {
  auto page = "<!DOCTYPE html>\n<html>\n<head><TITLE>502 Bad\nGateway</TITLE></head>\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>\n</html>\n";
  auto r = classify(provider_kind::ollama, 502, page);
  BOOST_TEST(r.failure == "server_error");
  BOOST_TEST(r.detail == "ollama HTTP 502: an HTML page, not a JSON error (\"502 Bad Gateway\")");
  // A wrong base_url: a web server's 404 page, not retried.
  r = classify(provider_kind::openai, 404, "<html><body>Not Found</body></html>");
  BOOST_TEST(r.failure == "bad_request");
  BOOST_TEST(r.detail == "openai HTTP 404: an HTML page, not a JSON error");
}

BOOST_AUTO_TEST_CASE(the_key_never_shows_and_the_detail_is_cut) {
  std::string key = "sk-proj-Zq8xT3blbkFJ4mW0pLr7VnC2";
  auto body = R"({"error":{"message":"Incorrect API key provided: )" + key
              + R"(. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})";
  auto r = classify(provider_kind::openai, 401, body, {}, key);
  BOOST_TEST(r.detail == "openai HTTP 401 invalid_request_error: Incorrect API key provided: [redacted]. You can find your API key at https://platform.openai.com/account/api-keys.");
  // A local server's own key shape, echoed where no "sk-" pattern would catch it.
  r = classify(provider_kind::ollama, 401, R"({"error":"bad token my-local-secret-42"})", {}, "my-local-secret-42");
  BOOST_TEST(r.detail == "ollama HTTP 401: bad token [redacted]");
  // A key we did not pass in but shaped like one.
  BOOST_TEST(redact_detail("key sk-ant-api03-AbCdEfGhIjKlMnOp rejected", "")
             == "key [redacted] rejected");
  BOOST_TEST(redact_detail("ask-me sk-short", "") == "ask-me sk-short");
  // Redacted before cut: the cut never leaves a prefix of the key behind.
  std::string long_text(480, 'x');
  BOOST_TEST(redact_detail(long_text + key, key, 500) == long_text + "[redacted]");
  r = classify(provider_kind::openai, 500, std::string(2000, 'y'));
  BOOST_TEST(r.detail.size() == 503u);
  BOOST_TEST(r.detail.substr(r.detail.size() - 3) == "...");
  // Control characters and other bytes are escaped: one line, valid UTF-8.
  BOOST_TEST(classify(provider_kind::ollama, 500, R"({"error":"a\nb\u00e9"})").detail
             == "ollama HTTP 500: a\\x0ab\\xc3\\xa9");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(retry_after)

BOOST_AUTO_TEST_CASE(seconds_and_the_three_date_forms) {
  BOOST_TEST(parse_retry_after("120", example_date).value() == 120000u);
  BOOST_TEST(parse_retry_after(" 1.5 ", example_date).value() == 1500u);
  BOOST_TEST(parse_retry_after("0", example_date).value() == 0u);
  for (auto date : {"Sun, 06 Nov 1994 08:50:37 GMT", "Sunday, 06-Nov-94 08:50:37 GMT",
                    "Sun Nov  6 08:50:37 1994"})
    BOOST_TEST(parse_retry_after(date, example_date).value() == 60000u, date);
  BOOST_TEST(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT").value() == 0);
  BOOST_TEST(parse_http_date("Wed, 31 Dec 2025 23:59:59 GMT").value() == 1767225599);
  BOOST_TEST(parse_http_date("Sun, 29 Feb 2032 12:00:00 GMT").value() == 1961668800);
}

BOOST_AUTO_TEST_CASE(a_past_date_is_no_wait_and_garbage_is_nothing) {
  BOOST_TEST(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", example_date).value() == 0u);
  for (auto bad : {"", "soon", "-5", "1e3", "12abc", "Sun, 06 Nov 1994", "Sun, 32 Foo 1994 08:00:00 GMT",
                   "Sun, 06 Nov 1994 25:00:00 GMT"})
    BOOST_TEST(!parse_retry_after(bad, example_date).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(huge_waits_saturate) {
  BOOST_TEST(parse_retry_after("99999999999999999999999", example_date).value()
             == troupe::providers::max_retry_after_ms);
  BOOST_TEST(retry_after_ms({{"retry-after-ms", "99999999999999999999"}}, example_date).value()
             == troupe::providers::max_retry_after_ms);
  BOOST_TEST(!retry_after_ms({{"x-other", "5"}}, example_date).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
