#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "schemas/codec.hpp"
#include "schemas/stored_form.hpp"
#include "schemas/errors.hpp"

using namespace troupe;

namespace {

event envelope(event_body body) {
  event ev;
  ev.run_id = "run-1";
  ev.seq = 7;
  ev.parent_run_id = "parent";
  ev.root_run_id = "root";
  ev.ts_us = 1732000000123456;
  ev.body = std::move(body);
  return ev;
}

std::vector<event_body> one_of_each_kind() {
  kpis k{3, 4, 5, 1, 2, 100, 200, 999, 1, 0, 2, 4500, 2, 7, 9, 1500, 300};
  return {
    run_start{"lead", "acme", "write\nhello", "script", "be careful",
              {"echo", "complete"}, limits_record{12, 50, 100000, 120000, 3, 3, 2000000},
              "demo.toml", "/tmp/work",
              {{"fs__read_file", "reads a file", R"({"type":"object"})", "pure"}},
              2, {"coder", "reviewer"}, "wait", "c0",
              {{"tests", "test_passes", "", {"python3", "t.py"}, "", ""}}, 3, "g.py", "coder",
              "build", "ship",
              {{"build", "coder", "build it",
                {{"doc", "json_matches", "d.json", {}, R"({"type":"object"})", ""}}, "person", 2,
                skip_rule{true, 1, 10}}},
              per_turn_checkpoints},
    turn_start{2, turn_mode::repair},
    model_request{2, "script", {"echo"}, 5},
    model_reply{2, "thinking", {{"c1", "echo", R"({"i":1})"}}, {120, 30}, "",
                42, "local", "qwen2.5-7b", 17, 1250, "tool_calls", ""},
    tool_call{"c1", "write_file", R"({"path":"a"})"},
    policy_decision{"c1", decision_kind::allow, "rule-1", "v1", ""},
    tool_result{"c1", "echo", false, "boom \"quoted\""},
    turn_end{2},
    recovery{"max_turns", "12 turns used"},
    completion{run_status::limit_reached, "", "summary", "max_turns", k},
    error_event{error_kind::uncertain, "timeout", ""},
    checkpoint{2, k, std::string("\0\1binary", 8)},
    parse_failure{"c2", "write_file", "{bad", "expected a value"},
    approval_request{"c3", "shell", R"({"argv":["ls"]})", "ask-shell", 1732000000999999},
    approval_decision{"c3", true, "alice", "looks fine"},
    retry{"c4", 1, 137000, 0.37, "EAGAIN"},
    route_attempt{3, 2, "smart", "tiers", "complex", "asks for a design",
                  {{"local", "qwen", "open", false, 1732000009000000, 0.2, 840.5, 0.6, 0, 0,
                    1, false},
                   {"cloud", "sonnet", "half_open", true, 0, 0.97, 1200, 0.01, 3000000,
                    15000000, 9, true}},
                  {"local:qwen"}, 1, "first healthy in order", true, "answered",
                  930000, 250000, 0.25},
    delegation{"c5", "run-1.1", "coder", "write it", limits_record{8, 9, 5000, 60000, 3, 3, 0, 1, 8, 4},
               1, R"({"type":"object"})"},
    delegation_result{"c5", "run-1.1", run_status::limit_reached, "", "ran out", "max_turns", k,
                      2, {{"g.py", "ab12", 40, 2, "coder", "build"}}},
    verification{2, false, {{"tests", "test_passes", false, "AssertionError", "", 0, 0},
                            {"artifact", "file_exists", true, "", "ab12", 40, 2}}},
    phase_start{1, "build", "coder", 2},
    gate_pass{{1, "review", 0, "skipped by its rule", true, "one file, 2 lines"}},
    gate_fail{{1, "build", 2, "tests failed", false, ""}},
    artifact{"g.py", "ab12", 40, 2, "coder", "build"},
  };
}

} // namespace

BOOST_AUTO_TEST_SUITE(codec)

BOOST_AUTO_TEST_CASE(every_kind_round_trips) {
  auto bodies = one_of_each_kind();
  BOOST_REQUIRE_EQUAL(bodies.size(), event_kind_count);
  for (auto& body : bodies) {
    auto ev = envelope(body);
    auto bytes = encode(ev);
    BOOST_TEST(bytes.size() % 8 == 0u);
    auto back = decode(bytes);
    BOOST_REQUIRE_MESSAGE(back, render(back));
    BOOST_TEST(back->run_id == ev.run_id);
    BOOST_TEST(back->seq == ev.seq);
    BOOST_TEST(back->parent_run_id == ev.parent_run_id);
    BOOST_TEST(back->root_run_id == ev.root_run_id);
    BOOST_TEST(back->ts_us == ev.ts_us);
    BOOST_TEST(static_cast<int>(back->kind()) == static_cast<int>(ev.kind()));
    // Re-encoding the decoded event must give the same bytes.
    BOOST_TEST(encode(*back) == bytes);
  }
}

BOOST_AUTO_TEST_CASE(json_export_has_snake_case_envelope_and_kind) {
  for (auto& body : one_of_each_kind()) {
    auto ev = envelope(body);
    auto bytes = encode(ev);
    auto json = to_json(bytes.data(), bytes.size());
    BOOST_REQUIRE_MESSAGE(json, render(json));
    auto parsed = nlohmann::json::parse(*json);
    BOOST_TEST(parsed["run_id"] == "run-1");
    BOOST_TEST(parsed["seq"] == 7);
    BOOST_TEST(parsed["kind"] == std::string(to_string(ev.kind())));
    BOOST_TEST(parsed.contains(std::string(to_string(ev.kind()))));
  }
}

BOOST_AUTO_TEST_CASE(kind_names_parse_back) {
  for (size_t i = 0; i < event_kind_count; ++i) {
    auto k = static_cast<event_kind>(i);
    event_kind back;
    BOOST_REQUIRE(from_string(to_string(k), back));
    BOOST_TEST(static_cast<size_t>(back) == i);
  }
  event_kind ignored;
  BOOST_TEST(!from_string("runStart", ignored));
}

BOOST_AUTO_TEST_CASE(restamp_sets_seq_and_keeps_body) {
  auto bytes = encode(envelope(tool_call{"c9", "echo", "{}"}));
  auto stamped = restamp(bytes, 41);
  BOOST_REQUIRE(stamped);
  auto back = decode(*stamped);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->seq == 41u);
  BOOST_TEST(std::get<tool_call>(back->body).call_id == "c9");
  auto header = peek_header(*stamped);
  BOOST_REQUIRE(header);
  BOOST_TEST(header->seq == 41u);
  BOOST_TEST(header->run_id == "run-1");
  BOOST_TEST(static_cast<int>(header->kind)
             == static_cast<int>(event_kind::tool_call));
}

BOOST_AUTO_TEST_CASE(garbage_is_a_clear_error_not_a_crash) {
  event_bytes odd(13, 'x');
  auto r1 = decode(odd, "run r seq 1");
  BOOST_REQUIRE(!r1);
  BOOST_CHECK(r1.error() == schema_errc::malformed_event);
  BOOST_TEST(render(r1.error()).find("run r seq 1") != std::string::npos);
  event_bytes junk(64, '\xff');
  auto r2 = decode(junk);
  BOOST_REQUIRE(!r2);
  BOOST_CHECK(r2.error() == schema_errc::malformed_event);
  BOOST_TEST(!decode(event_bytes{}));
  BOOST_TEST(!to_json(junk.data(), junk.size()));
  BOOST_TEST(!restamp(junk, 1));
}

// Found by fuzz_codec: a 304-byte model_reply whose tool_calls list declares
// millions of zero-sized elements. Decoding it used to build them all, and
// the re-encoded event no longer fit Cap'n Proto's traversal limit.
BOOST_AUTO_TEST_CASE(a_list_of_elements_that_take_no_bytes_is_malformed) {
  std::string hex =
    "0000000018000000000000000200040009000000030000002f46ac670262"
    "06000d000000a2000000150000000a000000150000000a00000014000000"
    "0200040072316132d69ac8cf386530392de23066372d3100000000000000"
    "000000000000000000000000000002000000000000006900000000000000"
    "0d0000000a0000000d000000070000000c00000002000000110000006a00"
    "000000000000000000000000640000000000007e00000000000000000000"
    "17000300000000000000000000070000000000007365727665725f657272"
    "6f7200000000";
  event_bytes row;
  for (size_t i = 0; i < hex.size(); i += 2)
    row.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  auto ev = decode(row, "run r seq 9");
  BOOST_REQUIRE(!ev);
  BOOST_CHECK(ev.error() == schema_errc::malformed_event);
  BOOST_TEST(render(ev.error()).find("tool_calls declares") != std::string::npos,
             render(ev.error()));
  // The readers that do not decode refuse to expand it too.
  BOOST_TEST(!to_json(row.data(), row.size(), "run r seq 9"));
  BOOST_TEST(!restamp(row, 1));
}

BOOST_AUTO_TEST_CASE(misaligned_input_is_copied_not_rejected) {
  auto bytes = encode(envelope(turn_end{5}));
  std::vector<char> shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  auto back = decode(shifted.data() + 1, bytes.size());
  BOOST_REQUIRE(back);
  BOOST_TEST(std::get<turn_end>(back->body).turn == 5u);
}

BOOST_AUTO_TEST_CASE(checksum_detects_a_flipped_byte) {
  auto bytes = encode(envelope(turn_end{5}));
  auto before = checksum(bytes.data(), bytes.size());
  bytes[bytes.size() / 2] ^= 0x01;
  BOOST_TEST(checksum(bytes.data(), bytes.size()) != before);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stamping)

BOOST_AUTO_TEST_CASE(stamp_writes_the_seq_in_place) {
  event ev;
  ev.run_id = "run-9";
  ev.ts_us = 5;
  ev.body = tool_result{"c1", "echo", true, "out"};
  auto bytes = encode(ev);
  auto before = bytes.data();
  auto header = stamp(bytes, [](const std::string& run) -> caf::expected<uint32_t> {
    BOOST_TEST(run == "run-9");
    return 77u;
  });
  BOOST_REQUIRE_MESSAGE(header, render(header));
  BOOST_TEST(header->seq == 77u);
  BOOST_TEST(bytes.data() == before);
  auto back = decode(bytes);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->seq == 77u);
  BOOST_TEST(std::get<tool_result>(back->body).output == "out");
}

BOOST_AUTO_TEST_CASE(stamp_rejects_garbage_and_passes_seq_errors_on) {
  event_bytes junk(64, '\xff');
  auto never = [](const std::string&) -> caf::expected<uint32_t> { return 1u; };
  BOOST_TEST(!stamp(junk, never));
  event ev;
  ev.run_id = "r";
  ev.body = turn_end{1};
  auto bytes = encode(ev);
  auto failing = [](const std::string&) -> caf::expected<uint32_t> {
    return caf::make_error(schema_errc::malformed_event, std::string("no"));
  };
  auto r = stamp(bytes, failing);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error() == schema_errc::malformed_event);
}

BOOST_AUTO_TEST_SUITE_END()

// schemas/stored_form.hpp: what the journal stores of an event (packed, the
// envelope left to the row and its run) and how readers get it back.
BOOST_AUTO_TEST_SUITE(stored_form)

BOOST_AUTO_TEST_CASE(every_kind_comes_back_whole_from_its_stored_form) {
  for (auto& body : one_of_each_kind()) {
    auto ev = envelope(body);
    auto bytes = encode(ev);
    auto stored = to_stored(bytes);
    BOOST_REQUIRE_MESSAGE(stored, render(stored));
    BOOST_TEST(stored->size() < bytes.size());
    BOOST_TEST(std::string(stored->begin(), stored->end()).find("parent") == std::string::npos);
    event_envelope env{ev.run_id, ev.parent_run_id, ev.root_run_id, ev.seq, ev.ts_us};
    auto whole = from_stored(stored->data(), stored->size(), env);
    BOOST_REQUIRE_MESSAGE(whole, render(whole));
    auto back = decode(*whole);
    BOOST_REQUIRE_MESSAGE(back, render(back));
    BOOST_TEST((encode(*back) == bytes), to_string(ev.kind()));
    BOOST_TEST((*to_json(whole->data(), whole->size()) == *to_json(bytes.data(), bytes.size())));
    // Deterministic: the same event is stored as the same bytes.
    BOOST_TEST((*to_stored(encode(*back)) == *stored));
  }
}

BOOST_AUTO_TEST_CASE(a_root_naming_the_run_itself_stays_in_the_body) {
  auto ev = envelope(turn_end{3});
  ev.parent_run_id = "";
  ev.root_run_id = ev.run_id;
  auto stored = to_stored(encode(ev));
  BOOST_REQUIRE_MESSAGE(stored, render(stored));
  event_envelope env{ev.run_id, "", "", ev.seq, ev.ts_us};
  auto whole = from_stored(stored->data(), stored->size(), env);
  BOOST_REQUIRE_MESSAGE(whole, render(whole));
  BOOST_TEST(decode(*whole)->root_run_id == ev.run_id);
  // Under another run's row it is an envelope that is not that run's.
  event_envelope other{"run-2", "", "", ev.seq, ev.ts_us};
  auto refused = from_stored(stored->data(), stored->size(), other, "run run-2 seq 7");
  BOOST_REQUIRE(!refused);
  BOOST_CHECK(refused.error() == schema_errc::malformed_event);
  BOOST_TEST(render(refused.error()).find("run run-2 seq 7") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_body_still_holding_its_envelope_or_not_packed_is_malformed) {
  auto bytes = encode(envelope(turn_end{3}));
  event_envelope env{"run-1", "parent", "root", 7, 1};
  // The flat form read as a stored body (a version-7 row copied in).
  auto stored = to_stored(bytes);
  BOOST_REQUIRE(stored);
  auto flat_as_body = from_stored(bytes.data(), bytes.size(), env, "run run-1 seq 7");
  BOOST_REQUIRE(!flat_as_body);
  BOOST_CHECK(flat_as_body.error() == schema_errc::malformed_event);
  auto empty = from_stored(stored->data(), 0, env);
  BOOST_REQUIRE(!empty);
  BOOST_CHECK(!to_stored(bytes.data(), 3));
}

BOOST_AUTO_TEST_SUITE_END()
