// The model gateway (actors/model_gateway.hpp) against the real loopback
// model server: each fault of issue 9's list, injected by the server's
// script, and what the gateway does about it, read from the reply, its
// journaled attempts, the shared health and the server's request log.
// Breakers, fallback and the journal's view of them through the CLI are in
// model_gateway_cli_test.cpp.

#define BOOST_TEST_MODULE model_gateway
#include <boost/test/unit_test.hpp>

#include "test/integration/model_gateway_fixture.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

using steady = std::chrono::steady_clock;

int64_t ms_since(steady::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0).count();
}

json text_step(const std::string& text, json extra = json::object()) {
  extra["text"] = text;
  return extra;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(model_gateway_faults, gateway_fixture)

// 429 with Retry-After: 1, then success: the same endpoint is asked again,
// and not before the second the server asked for.
BOOST_AUTO_TEST_CASE(rate_limited_with_retry_after_then_answered) {
  model_server server({{"steps",
                        {{{"status", 429}, {"headers", {{"Retry-After", "1"}}}},
                         text_step("after the wait")}}},
                      dir.path.string(), "server");
  auto gw = spawn(route_of({"a:m1"}), {openai_endpoint("a", server)});
  auto t0 = steady::now();
  auto r = ask(gw, call_of("run-429", "Say something."));
  auto elapsed = ms_since(t0);
  BOOST_TEST(r.failure == "", r.failure << ": " << r.failure_detail);
  BOOST_TEST(r.text == "after the wait");
  BOOST_REQUIRE_EQUAL(r.attempts.size(), 2u);
  BOOST_TEST(r.attempts[0].outcome == "rate_limited");
  BOOST_TEST(r.attempts[1].outcome == "answered");
  BOOST_TEST(r.attempts[1].backoff_us >= 1'000'000u, "backoff " << r.attempts[1].backoff_us);
  BOOST_TEST(chosen_key(r.attempts[0]) == "a:m1");
  BOOST_TEST(chosen_key(r.attempts[1]) == "a:m1");
  BOOST_TEST(elapsed >= 1000, elapsed << " ms");
  // The server logs a request once its response is written: wait for it.
  auto log = wait_for_chat_requests(server, 2);
  BOOST_REQUIRE_EQUAL(log.size(), 2u);
  BOOST_TEST(log[0]["status"] == 429);
  BOOST_TEST(log[1]["status"] == 200);
}

// Repeated 500s open a's breaker and b answers; while a is open requests
// skip it (the journaled candidates say so); after the cool-down one
// half-open probe goes to a, succeeds, and closes the breaker.
BOOST_AUTO_TEST_CASE(repeated_500s_open_the_breaker_and_the_probe_closes_it) {
  model_server server(
    {{"by_model",
      {{"m1", {{{"status", 500}, {"times", 2}}, text_step("a is back", {{"forever", true}})}},
       {"m2", {text_step("b answers", {{"forever", true}})}}}}},
    dir.path.string(), "server");
  auto a = openai_endpoint("a", server);
  a.breaker_failures = 2;
  a.breaker_cool_down_ms = 600;
  auto gw = spawn(route_of({"a:m1", "b:m2"}), {a, openai_endpoint("b", server)});

  // Two failures in a row on a (a retry, then its breaker opens), then b.
  auto first = ask(gw, call_of("run-1", "First question."));
  BOOST_TEST(first.failure == "", first.failure_detail);
  BOOST_TEST(first.text == "b answers");
  BOOST_TEST(outcomes(first) == "server_error@a:m1 server_error@a:m1 answered@b:m2");
  BOOST_TEST(breaker_of("a:m1") == "open");

  // While open, a is skipped without a request.
  auto second = ask(gw, call_of("run-2", "Second question."));
  BOOST_TEST(second.text == "b answers");
  BOOST_REQUIRE_EQUAL(second.attempts.size(), 1u);
  auto& skip = second.attempts[0];
  BOOST_REQUIRE_EQUAL(skip.candidates.size(), 2u);
  BOOST_TEST(skip.candidates[0].breaker == "open");
  BOOST_TEST(skip.candidates[0].open_until_us > 0);
  BOOST_TEST(skip.chosen == 1);
  BOOST_TEST(skip.reason == "first healthy in order");
  BOOST_TEST(wait_for_chat_requests(server, 4).size() == 4u); // a, a, b, then b
  BOOST_TEST(requests_for(server, "m1").size() == 2u);

  // After the cool-down: the probe goes to a and closes its breaker.
  BOOST_REQUIRE(wait_until_admitted("a:m1"));
  auto third = ask(gw, call_of("run-3", "Third question."));
  BOOST_TEST(third.text == "a is back");
  BOOST_TEST(third.endpoint == "a");
  BOOST_REQUIRE_EQUAL(third.attempts.size(), 1u);
  BOOST_TEST(third.attempts[0].candidates[0].breaker == "half_open");
  BOOST_TEST(third.attempts[0].chosen == 0);
  BOOST_TEST(third.attempts[0].reason == "half-open probe");
  BOOST_TEST(breaker_of("a:m1") == "closed");
  auto health = pool->health().at("a:m1");
  BOOST_TEST(health.failures == 2u);
  BOOST_TEST(health.successes == 1u);
  BOOST_TEST(health.consecutive_failures == 0u);
}

// Hedging: once the slow endpoint has enough history, a request that gets
// no first token within the quantile goes to the fast one too; the fast
// reply wins and the slow transfer is closed. A stream that has begun is
// not hedged, however long it takes to finish.
BOOST_AUTO_TEST_CASE(a_slow_request_is_hedged_and_the_loser_closed) {
  model_server server(
    {{"by_model",
      {{"ms",
        {text_step("warm", {{"times", 3}}),
         // The first text at once, then 3 × 200 ms ("chunk_delay_ms" is
         // before every event but the first; raw events begin with text).
         {{"raw",
           {openai_delta_event("slow "), openai_delta_event("but "),
            openai_delta_event("started"), "data: [DONE]\n\n"}},
          {"chunk_delay_ms", 200}},
         text_step("too slow", {{"delay_ms", 5000}})}},
       {"mf", {text_step("fast answer", {{"forever", true}})}}}}},
    dir.path.string(), "server");
  auto route = route_of({"slow:ms", "fast:mf"});
  route.hedge_quantile = 0.5;
  hedge_config hedge;
  hedge.min_samples = 3;
  // The delay is this floor (the warm-up's quantile is a few ms): room for
  // the first token of a reply that starts at once, even on a busy machine.
  hedge.min_delay_us = 300'000;
  auto gw = spawn(route, {openai_endpoint("slow", server), openai_endpoint("fast", server)},
                  nullptr, hedge);

  for (int i = 0; i < 3; ++i) {
    auto warm = ask(gw, call_of("warm-" + std::to_string(i), "Warm up."));
    BOOST_TEST(warm.text == "warm", outcomes(warm));
  }
  BOOST_TEST(pool->hedge_delay("slow:ms", {true, 0.5, 3, 300'000}).has_value());

  // First token at once, the rest over ~600 ms: begun, so not hedged.
  auto started = ask(gw, call_of("started", "Take your time."));
  BOOST_TEST(started.text == "slow but started", outcomes(started));
  BOOST_TEST(outcomes(started) == "answered@slow:ms");

  // Nothing for 5 s: hedged after the 300 ms floor, fast wins.
  auto t0 = steady::now();
  auto r = ask(gw, call_of("hedged", "Quick, please."));
  auto elapsed = ms_since(t0);
  BOOST_TEST(r.failure == "", r.failure_detail);
  BOOST_TEST(r.text == "fast answer");
  BOOST_TEST(r.endpoint == "fast");
  BOOST_TEST(outcomes(r) == "lost_hedge@slow:ms answered@fast:mf(hedge)");
  BOOST_TEST(elapsed < 3000, elapsed << " ms");
  BOOST_TEST(wait_for_ended(server, "ms", "client closed"),
             "the slow transfer was not closed: " << json(requests_for(server, "ms")).dump());
}

// Cancel: the run's request, stalled at the server mid-stream, is answered
// `canceled` at once and its connection closed.
BOOST_AUTO_TEST_CASE(cancel_closes_the_connection) {
  model_server server({{"steps", {stalled_stream_step()}}}, dir.path.string(), "server");
  auto latch = std::make_shared<text_latch>();
  // Timeouts far beyond the wait below: only the cancel may close it.
  auto a = openai_endpoint("a", server);
  a.timeouts.idle_ms = 60000;
  a.timeouts.total_ms = 120000;
  auto gw = spawn(route_of({"a:m1"}), {a},
                  [latch](const std::string&, std::string_view text) { latch->add(text); });
  auto pending = ask_async(gw, call_of("run-cancel", "Talk slowly."));
  BOOST_REQUIRE_MESSAGE(latch->wait_for("Hel"), "the stream never began");
  auto t0 = steady::now();
  caf::anon_send(gw, cancel_atom::value, std::string{"run-cancel"});
  BOOST_REQUIRE(pending.wait_for(5s) == std::future_status::ready);
  auto r = pending.get();
  BOOST_TEST(ms_since(t0) < 1000);
  BOOST_TEST(r.failure == "canceled");
  BOOST_REQUIRE_EQUAL(r.attempts.size(), 1u);
  BOOST_TEST(r.attempts[0].outcome == "canceled");
  BOOST_TEST(wait_for_ended(server, "m1", "client closed", 5s),
             "the connection stayed open: " << json(server.requests()).dump());
}

// A server that stalls mid-stream trips the idle timeout: with a fallback
// the request falls back at once; without one it is retried, then given up.
BOOST_AUTO_TEST_CASE(a_stalled_stream_times_out_then_falls_back_or_gives_up) {
  auto twice = stalled_stream_step();
  twice["times"] = 2;
  model_server server(
    {{"by_model",
      {{"m1", {stalled_stream_step()}}, {"m2", {text_step("from b")}}, {"m3", {twice}}}}},
    dir.path.string(), "server");
  auto a = openai_endpoint("a", server);
  a.timeouts.idle_ms = 300;
  auto gw = spawn(route_of({"a:m1", "b:m2"}), {a, openai_endpoint("b", server)});
  auto t0 = steady::now();
  auto r = ask(gw, call_of("run-stall", "Go."));
  BOOST_TEST(r.text == "from b", r.failure << ": " << r.failure_detail);
  BOOST_TEST(outcomes(r) == "timeout@a:m1 answered@b:m2");
  BOOST_TEST(ms_since(t0) >= 300);
  BOOST_REQUIRE(wait_for_ended(server, "m1", "client closed"));
  BOOST_TEST(requests_for(server, "m1")[0]["stalled"] == true);

  // Alone on its route: retried once on the same endpoint, then given up.
  auto alone = spawn(route_of({"a:m3"}), {a});
  auto g = ask(alone, call_of("run-stall-alone", "Go."));
  BOOST_TEST(g.failure == "timeout");
  BOOST_TEST(outcomes(g) == "timeout@a:m3 timeout@a:m3");
  BOOST_TEST(g.failure_detail.find("timeout: retries used on every candidate")
               != std::string::npos,
             g.failure_detail);
}

// A connection reset mid-stream is a failure of the endpoint; the retry
// answers.
BOOST_AUTO_TEST_CASE(a_reset_mid_stream_is_retried) {
  model_server server({{"steps",
                        {text_step("this reply is cut short", {{"chunks", 4},
                                                               {"reset_after_bytes", 300}}),
                         text_step("whole reply")}}},
                      dir.path.string(), "server");
  auto gw = spawn(route_of({"a:m1"}), {openai_endpoint("a", server)});
  auto r = ask(gw, call_of("run-reset", "Go."));
  BOOST_TEST(r.failure == "", r.failure_detail);
  BOOST_TEST(r.text == "whole reply");
  BOOST_REQUIRE_EQUAL(r.attempts.size(), 2u);
  auto& cut = r.attempts[0].outcome;
  BOOST_TEST((cut == "connection" || cut == "malformed"), cut);
  BOOST_TEST(r.attempts[1].outcome == "answered");
  auto log = wait_for_chat_requests(server, 2);
  BOOST_REQUIRE_EQUAL(log.size(), 2u);
  BOOST_TEST(log[0]["ended"] == "reset");
}

// Malformed chunks (and a malformed whole body) are `malformed`, retried.
BOOST_AUTO_TEST_CASE(malformed_replies_are_retried) {
  model_server server(
    {{"by_model",
      {{"m1",
        {{{"raw", {openai_delta_event("Hi"), "data: {\"choices\": [{\"delta\": oops\n\n",
                   "data: [DONE]\n\n"}}},
         text_step("clean stream")}},
       {"m2",
        {{{"raw", "{\"id\": \"x\", \"choices\": [{\"message\": "}},
         text_step("clean body")}}}}},
    dir.path.string(), "server");
  auto streamed = spawn(route_of({"a:m1"}), {openai_endpoint("a", server)});
  auto r = ask(streamed, call_of("run-bad-stream", "Go."));
  BOOST_TEST(r.text == "clean stream", r.failure << ": " << r.failure_detail);
  BOOST_TEST(outcomes(r) == "malformed@a:m1 answered@a:m1");

  auto whole = spawn(route_of({"w:m2"}), {openai_endpoint("w", server, false)});
  auto w = ask(whole, call_of("run-bad-body", "Go."));
  BOOST_TEST(w.text == "clean body", w.failure << ": " << w.failure_detail);
  BOOST_TEST(outcomes(w) == "malformed@w:m2 answered@w:m2");
}

// Tiers: a short question goes to the trivial route, a design task and a
// long task to the complex one, a task with tools to standard; a declared
// tier wins over the text.
BOOST_AUTO_TEST_CASE(tiers_route_by_declared_and_inferred_tier) {
  model_server server({{"by_model",
                        {{"ms", {text_step("small", {{"forever", true}})}},
                         {"mm", {text_step("mid", {{"forever", true}})}},
                         {"mb", {text_step("big", {{"forever", true}})}}}}},
                      dir.path.string(), "server");
  auto route = route_of({}, "tiers");
  route.tiers = {{"trivial", {{"small", "ms"}}},
                 {"standard", {{"mid", "mm"}}},
                 {"complex", {{"big", "mb"}}}};
  std::vector<endpoint_config> eps{openai_endpoint("small", server),
                                   openai_endpoint("mid", server),
                                   openai_endpoint("big", server)};
  auto gw = spawn(route, eps);
  tool_spec echo{"echo", "Echoes its arguments.", R"({"type":"object"})"};
  std::string long_task;
  while (long_task.size() < 5000)
    long_task += "Summarize the quarterly numbers for the northern region. ";

  struct expectation {
    model_call call;
    std::string text, tier, reason;
  };
  std::vector<expectation> cases{
    {call_of("t1", "What is 2 + 2?"), "small", "trivial", "short task without tools"},
    {call_of("t2", "Design a lock-free queue for the scheduler."), "big", "complex",
     "keyword \"design\""},
    {call_of("t3", long_task), "big", "complex",
     "long task (" + std::to_string(long_task.size()) + " bytes)"},
    {call_of("t4", "Say hi through echo.", {echo}), "mid", "standard", "default"},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT("run " << c.call.run_id) {
      auto r = ask(gw, c.call);
      BOOST_TEST(r.text == c.text, r.failure << ": " << r.failure_detail);
      BOOST_REQUIRE_EQUAL(r.attempts.size(), 1u);
      BOOST_TEST(r.attempts[0].strategy == "tiers");
      BOOST_TEST(r.attempts[0].tier == c.tier);
      BOOST_TEST(r.attempts[0].tier_reason == c.reason);
      BOOST_TEST(r.attempts[0].reason == "first healthy in tier order");
    }
  }

  gateway_config declared;
  declared.route = route;
  for (auto& e : eps)
    declared.endpoints.emplace(e.name, e);
  declared.declared_tier = "complex";
  auto dgw = spawn(std::move(declared));
  auto d = ask(dgw, call_of("t5", "What is 2 + 2?"));
  BOOST_TEST(d.text == "big");
  BOOST_REQUIRE_EQUAL(d.attempts.size(), 1u);
  BOOST_TEST(d.attempts[0].tier == "complex");
  BOOST_TEST(d.attempts[0].tier_reason == "declared");

  // The server saw each request at the endpoint chosen.
  BOOST_REQUIRE_EQUAL(wait_for_chat_requests(server, 5).size(), 5u);
  BOOST_TEST(requests_for(server, "ms").size() == 1u);
  BOOST_TEST(requests_for(server, "mm").size() == 1u);
  BOOST_TEST(requests_for(server, "mb").size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
