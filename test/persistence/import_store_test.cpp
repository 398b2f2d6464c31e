// Exported JSON lines back into a journal: from_json gives the bytes the
// writer gave (so the hash chain comes out the same), refuses every line it
// would have to guess about, and store::import_events is idempotent and all
// or nothing.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_import.hpp"
#include "test/persistence/chain_support.hpp"
#include "test/support/events.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::persistence;
using test::make_event;
using test::seal;
using test::temp_dir;

namespace {

kpis totals{2, 3, 2, 1, 0, 1200, 300, 4500, 1, 0};

/// One event of each kind for run `run`, seqs 1..13, ending in completion;
/// the tool result and the checkpoint are large enough for a second segment.
std::vector<event> one_run(const std::string& run) {
  run_start start{"lead",      "acme", "write\n\"hello\"", "script",
                  "be careful", {"echo", "complete"},
                  limits_record{12, 50, 100000, 120000, 3, 3},
                  "demo.toml", "/tmp/work"};
  std::vector<event_body> bodies{
    start,
    turn_start{1, turn_mode::normal},
    model_request{1, "script", {"echo", "complete"}, 2},
    model_reply{1, "thinking", {{"c1", "echo", R"({"i":1})"},
                                {"c2", "echo", R"({"i":2})"}},
                {120, 30}, "", 42},
    tool_call{"c1", "echo", R"({"i":1})"},
    policy_decision{"c1", decision_kind::allow, "rule-1", "v1", ""},
    tool_result{"c1", "echo", true, std::string(3000, 'o') + "\xc3\xa9/\t"},
    parse_failure{"c2", "echo", "{bad", "expected a value"},
    error_event{error_kind::refused, "no such tool", "c3"},
    recovery{"max_turns", "1 turn used"},
    checkpoint{1, totals, std::string("\0\1\2binary", 9) + std::string(900, '\xff')},
    turn_end{1},
    completion{run_status::limit_reached, "", "summary", "max_turns", totals},
  };
  std::vector<event> out;
  uint32_t seq = 0;
  for (auto& body : bodies) {
    auto ev = make_event(run, ++seq, body);
    ev.parent_run_id = run == "child" ? "parent" : "";
    ev.root_run_id = run == "child" ? "parent" : run;
    out.push_back(std::move(ev));
  }
  return out;
}

std::string export_line(const event_bytes& bytes) {
  auto json = to_json(bytes.data(), bytes.size());
  BOOST_REQUIRE_MESSAGE(json, render(json));
  return *json;
}

/// The sealed events of `lines`, decoded with from_json.
std::vector<sealed_event> read_lines(const std::vector<std::string>& lines) {
  std::vector<sealed_event> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto bytes = from_json(lines[i], "test:" + std::to_string(i + 1));
    BOOST_REQUIRE_MESSAGE(bytes, render(bytes));
    auto header = peek_header(*bytes);
    BOOST_REQUIRE_MESSAGE(header, render(header));
    out.push_back({std::move(*header), std::move(*bytes)});
  }
  return out;
}

store open_rw(const std::string& path) {
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  return std::move(*db);
}

/// A journal with runs "parent" and "child" (13 events each), and the export
/// of both as JSON lines, parent first.
struct exported_journal {
  temp_dir dir;
  std::string source = dir.file("source.db");
  std::vector<std::string> lines;

  exported_journal() {
    auto db = open_rw(source);
    for (auto run : {"parent", "child"}) {
      std::vector<sealed_event> batch;
      for (auto& ev : one_run(run))
        batch.push_back(seal(ev));
      auto err = db.append(batch);
      BOOST_REQUIRE_MESSAGE(!err, render(err));
    }
    auto rows = db.events("");
    BOOST_REQUIRE_MESSAGE(rows, render(rows));
    for (auto& row : *rows)
      lines.push_back(export_line(row.bytes));
  }

  /// The lines of `run`'s events `first`..`last` (1-based seqs).
  std::vector<std::string> run_lines(const std::string& run, uint32_t first,
                                     uint32_t last) const {
    auto offset = run == "parent" ? 0u : 13u;
    return {lines.begin() + offset + first - 1, lines.begin() + offset + last};
  }
};

void check_same_rows(const std::string& a, const std::string& b) {
  auto xs = test::read_run(a, "");
  auto ys = test::read_run(b, "");
  BOOST_REQUIRE_EQUAL(xs.size(), ys.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    BOOST_TEST_CONTEXT("row " << i << ": run " << xs[i].run_id << " seq "
                              << xs[i].seq) {
      BOOST_TEST(xs[i].run_id == ys[i].run_id);
      BOOST_TEST(xs[i].seq == ys[i].seq);
      BOOST_TEST(xs[i].kind == ys[i].kind);
      BOOST_TEST(xs[i].ts_us == ys[i].ts_us);
      BOOST_TEST((xs[i].bytes == ys[i].bytes));
      BOOST_TEST(xs[i].crc == ys[i].crc);
      BOOST_TEST((xs[i].hash == ys[i].hash));
    }
  }
}

caf::error import_error(const std::string& path,
                        const std::vector<std::string>& lines) {
  auto db = open_rw(path);
  auto rep = db.import_events(read_lines(lines));
  BOOST_REQUIRE(!rep);
  return rep.error();
}

size_t row_count(const std::string& path) {
  return test::read_run(path, "").size();
}

} // namespace

BOOST_AUTO_TEST_SUITE(json_import)

BOOST_AUTO_TEST_CASE(every_kind_comes_back_byte_for_byte) {
  for (auto& ev : one_run("child")) {
    BOOST_TEST_CONTEXT("kind " << to_string(ev.kind())) {
      auto bytes = encode(ev);
      auto line = export_line(bytes);
      auto back = from_json(line, "test:1");
      BOOST_REQUIRE_MESSAGE(back, render(back));
      BOOST_TEST((*back == bytes));
    }
  }
}

// Cap'n Proto 0.9 misread the hex letters of \u escapes (\u001b came back
// as 0x11, \u00e9 as "I"), so text with ESC or escaped non-ASCII did not
// import as it was exported.
const std::string awkward_text = "esc\x1b" "fs\x1c" "nul" + std::string(1, '\0')
                                 + "e\xc3\xa9 zh\xe4\xb8\xad smile\xf0\x9f\x98\x80"
                                   " quote\" backslash\\ tab\t nl\n";

// Stands in for the output text; the tests splice hand-written JSON in its place.
const std::string splice_marker = "SPLICE_MARKER";

event with_output(const std::string& output) {
  return make_event("r-1", 5, tool_result{"c1", "echo", true, output});
}

BOOST_AUTO_TEST_CASE(escaped_text_comes_back_byte_for_byte) {
  auto bytes = encode(with_output(awkward_text));
  auto line = export_line(bytes);
  auto back = from_json(line, "test:1");
  BOOST_REQUIRE_MESSAGE(back, render(back));
  BOOST_TEST((*back == bytes), "line " << line);
}

BOOST_AUTO_TEST_CASE(hand_written_unicode_escapes_import_as_utf8) {
  auto line = export_line(encode(with_output(splice_marker)));
  auto at = line.find(splice_marker);
  BOOST_REQUIRE(at != std::string::npos);
  struct escaped {
    std::string json;
    std::string bytes;
  } cases[] = {
    {R"(\u001b)", "\x1b"},
    {R"(\u001B\u001c\u001f\u000b)", "\x1b\x1c\x1f\x0b"},
    {R"(\u0000)", std::string(1, '\0')},
    {R"(\u00e9\u00E9)", "\xc3\xa9\xc3\xa9"},
    {R"(\u4e2d)", "\xe4\xb8\xad"},
    {R"(\ud83d\ude00)", "\xf0\x9f\x98\x80"},
    {R"(\u0022\u005c\u002f\u000a\u0009)", "\"\\/\n\t"},
    {R"(a\\u00e9)", "a\\u00e9"},
    {R"(\uffff)", "\xef\xbf\xbf"},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT("escape " << c.json) {
      auto hand = line;
      hand.replace(at, splice_marker.size(), c.json);
      auto back = from_json(hand, "test:1");
      BOOST_REQUIRE_MESSAGE(back, render(back));
      BOOST_TEST((*back == encode(with_output(c.bytes))));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_unicode_escapes_are_errors_naming_where) {
  auto line = export_line(encode(with_output(splice_marker)));
  auto at = line.find(splice_marker);
  BOOST_REQUIRE(at != std::string::npos);
  for (auto bad : {R"(\ud83d)", R"(\ud83dx)", R"(\ud83d\u0041)", R"(\ude00)",
                   R"(\u00g9)", R"(\u12)"}) {
    BOOST_TEST_CONTEXT("escape " << bad) {
      auto hand = line;
      hand.replace(at, splice_marker.size(), bad);
      auto back = from_json(hand, "events.jsonl:3");
      BOOST_REQUIRE(!back);
      BOOST_CHECK(back.error() == schema_errc::malformed_event);
      auto msg = render(back.error());
      BOOST_TEST(msg.find("malformed journal event at events.jsonl:3") != std::string::npos, msg);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_lines_are_errors_naming_where) {
  auto good = export_line(encode(make_event("r-1", 4, turn_end{2})));
  BOOST_REQUIRE(from_json(good, "f:1"));
  struct bad_line {
    std::string line;
    const char* what;
  } cases[] = {
    {"", "JSON"},
    {"{\"run_id\":\"r-1\",", "JSON"},
    {"[1, 2]", "not a JSON object"},
    {good + " trailing", "Input remains"},
    {R"({"seq":4,"kind":"turn_end","turn_end":{"turn":2}})", "no \"run_id\""},
    {R"({"run_id":"","seq":4,"kind":"turn_end","turn_end":{}})", "run_id"},
    {R"({"run_id":"r-1","kind":"turn_end","turn_end":{}})", "no \"seq\""},
    {R"({"run_id":"r-1","seq":4,"turn_end":{"turn":2}})", "no \"kind\""},
    {R"({"run_id":"r-1","seq":4,"kind":"turn_end"})", "no \"turn_end\" member"},
    {R"({"run_id":"r-1","seq":-1,"kind":"turn_end","turn_end":{}})",
     "not an integer from 1 to 4294967295"},
    {R"({"run_id":"r-1","seq":4294967296,"kind":"turn_end","turn_end":{}})",
     "not an integer from 1 to 4294967295"},
    {R"({"run_id":"r-1","seq":"four","kind":"turn_end","turn_end":{}})",
     "not an integer from 1 to 4294967295"},
    {R"({"run_id":"r-1","seq":4,"kind":"turn_end","turn_end":{},"shiny":1})",
     "unknown field \"shiny\""},
    {R"({"run_id":"r-1","seq":4,"kind":"turn_end","turn_end":{"turn":2,"x":1}})",
     "unknown field \"turn_end.x\""},
    {R"({"run_id":"r-1","seq":4,"seq":5,"kind":"turn_end","turn_end":{}})",
     "appears twice"},
    {R"({"run_id":"r-1","seq":4,"kind":"turn_end","turn_end":{},)"
     R"("tool_call":{"call_id":"c"}})",
     "tool_call"},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT("line " << c.line) {
      auto bytes = from_json(c.line, "events.jsonl:7");
      BOOST_REQUIRE(!bytes);
      BOOST_CHECK(bytes.error() == schema_errc::malformed_event);
      auto msg = render(bytes.error());
      BOOST_TEST(msg.find("events.jsonl:7") != std::string::npos, msg);
      BOOST_TEST(msg.find(c.what) != std::string::npos, msg);
    }
  }
  auto unknown = from_json(
    R"({"run_id":"r-1","seq":4,"kind":"teleport","teleport":{}})", "f:9");
  BOOST_REQUIRE(!unknown);
  BOOST_CHECK(unknown.error() == schema_errc::unknown_kind);
  BOOST_TEST(render(unknown.error()).find("f:9") != std::string::npos);
  BOOST_TEST(render(unknown.error()).find("teleport") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(export_then_import_into_an_empty_journal_is_identical,
                        exported_journal) {
  auto target = dir.file("target.db");
  {
    auto db = open_rw(target);
    auto rep = db.import_events(read_lines(lines));
    BOOST_REQUIRE_MESSAGE(rep, render(rep));
    BOOST_TEST(rep->runs == 2u);
    BOOST_TEST(rep->written == 26u);
    BOOST_TEST(rep->present == 0u);
  }
  check_same_rows(source, target);
  BOOST_TEST(test::verify_chains(test::read_run(target, "")) == 26u);
  auto db = store::open(target, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto integrity = db->check_integrity();
  BOOST_REQUIRE_MESSAGE(integrity, render(integrity));
  test::log_problems(*integrity);
  BOOST_TEST(integrity->clean());
  // The runs rows are the writer's: descriptive columns from run_start,
  // status and KPIs from completion, positions from the last event.
  auto child = db->find_run("child");
  BOOST_REQUIRE_MESSAGE(child, render(child));
  BOOST_TEST(child->agent == "lead");
  BOOST_TEST(child->tenant == "acme");
  BOOST_TEST(child->parent_run_id == "parent");
  BOOST_TEST(child->root_run_id == "parent");
  BOOST_TEST((child->status == run_status::limit_reached));
  BOOST_TEST(child->last_seq == 13u);
  BOOST_TEST(child->totals.wall_ms == totals.wall_ms);
  BOOST_TEST(child->created_us == test::base_ts_us + 1);
  BOOST_TEST(child->updated_us == test::base_ts_us + 13);
}

BOOST_FIXTURE_TEST_CASE(importing_twice_adds_nothing, exported_journal) {
  // Into the journal the lines came from, and twice into another one.
  for (auto* path : {&source, &source}) {
    auto db = open_rw(*path);
    auto rep = db.import_events(read_lines(lines));
    BOOST_REQUIRE_MESSAGE(rep, render(rep));
    BOOST_TEST(rep->written == 0u);
    BOOST_TEST(rep->present == 26u);
  }
  auto target = dir.file("target.db");
  for (int round = 0; round < 2; ++round) {
    auto db = open_rw(target);
    auto rep = db.import_events(read_lines(lines));
    BOOST_REQUIRE_MESSAGE(rep, render(rep));
    BOOST_TEST(rep->written == (round == 0 ? 26u : 0u));
    BOOST_TEST(rep->present == (round == 0 ? 0u : 26u));
  }
  check_same_rows(source, target);
}

BOOST_FIXTURE_TEST_CASE(import_continues_a_run_it_partly_holds,
                        exported_journal) {
  auto target = dir.file("target.db");
  {
    auto db = open_rw(target);
    auto rep = db.import_events(read_lines(run_lines("parent", 1, 5)));
    BOOST_REQUIRE_MESSAGE(rep, render(rep));
    BOOST_TEST(rep->written == 5u);
  }
  {
    // Overlapping 3..13: 3..5 are skipped, 6..13 continue the chain (from a
    // cold cursor: a new connection).
    auto db = open_rw(target);
    auto rep = db.import_events(read_lines(run_lines("parent", 3, 13)));
    BOOST_REQUIRE_MESSAGE(rep, render(rep));
    BOOST_TEST(rep->runs == 1u);
    BOOST_TEST(rep->present == 3u);
    BOOST_TEST(rep->written == 8u);
  }
  // The same rows; the chain holds, with a link per import (1..5, 6..13)
  // where the source has one for the run's batch (1..13).
  auto xs = test::read_run(source, "parent");
  auto ys = test::read_run(target, "parent");
  BOOST_REQUIRE_EQUAL(xs.size(), ys.size());
  for (size_t i = 0; i < xs.size(); ++i)
    BOOST_TEST((xs[i].body == ys[i].body), "seq " << xs[i].seq);
  BOOST_TEST(test::verify_chains(ys) == 13u);
  BOOST_TEST(ys[4].linked);
  BOOST_TEST(ys[12].linked);
  BOOST_TEST(!ys[5].linked);
}

BOOST_FIXTURE_TEST_CASE(a_conflicting_event_writes_nothing, exported_journal) {
  auto target = dir.file("target.db");
  {
    auto db = open_rw(target);
    BOOST_REQUIRE(db.import_events(read_lines(run_lines("parent", 1, 4))));
  }
  // The whole export, with parent's seq 3 edited: child is new, but nothing
  // of the import may land.
  auto edited = lines;
  auto pos = edited[2].find("\"turn\":1");
  BOOST_REQUIRE(pos != std::string::npos);
  edited[2].replace(pos, 8, "\"turn\":9");
  auto err = import_error(target, edited);
  BOOST_CHECK(err == store_errc::import_conflict);
  auto msg = render(err);
  BOOST_TEST(msg.find("run parent seq 3") != std::string::npos, msg);
  BOOST_TEST(msg.find("nothing was imported") != std::string::npos, msg);
  BOOST_TEST(row_count(target) == 4u);
  auto db = store::open(target, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto child = db->find_run("child");
  BOOST_REQUIRE(!child);
  BOOST_CHECK(child.error() == store_errc::unknown_run);
  // The writer of that connection is still usable: the rest imports.
  auto rep = open_rw(target).import_events(read_lines(lines));
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  BOOST_TEST(rep->written == 22u);
}

BOOST_FIXTURE_TEST_CASE(seqs_must_continue_each_run, exported_journal) {
  auto target = dir.file("target.db");
  // A new run starting at seq 2.
  auto err = import_error(target, run_lines("parent", 2, 5));
  BOOST_CHECK(err == store_errc::sequence_gap);
  BOOST_TEST(render(err).find("expects seq 1, got 2") != std::string::npos,
             render(err));
  // A hole inside the input.
  auto holed = run_lines("parent", 1, 3);
  auto more = run_lines("parent", 5, 6);
  holed.insert(holed.end(), more.begin(), more.end());
  err = import_error(target, holed);
  BOOST_CHECK(err == store_errc::sequence_gap);
  BOOST_TEST(render(err).find("run parent seq 5 follows seq 3")
               != std::string::npos,
             render(err));
  // A stored run continued past its end.
  BOOST_REQUIRE(open_rw(target).import_events(read_lines(run_lines("parent", 1, 2))));
  err = import_error(target, run_lines("parent", 4, 6));
  BOOST_CHECK(err == store_errc::sequence_gap);
  BOOST_TEST(render(err).find("expects seq 3, got 4") != std::string::npos,
             render(err));
  BOOST_TEST(row_count(target) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
