// `troupe export RUN --format otlp` on a journal with known content: the
// spans mirror the runs table (a run span per run, a turn span per turn, a
// model span per model call), children hang under their delegate call, a
// failed run is an ERROR span, exporting twice gives the same bytes, and the
// output passes the strict checker over the official OTLP .proto files
// (test/peers/otlp/check_otlp.mjs, protobufjs), which a broken copy fails.

#include <fstream>
#include <map>
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "test/integration/report_journal.hpp"

using nlohmann::json;
using troupe::test::contains;
using troupe::test::report_journal;
using troupe::test::run_command;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string attr(const json& span, const std::string& key) {
  for (auto& a : span["attributes"])
    if (a["key"] == key) {
      auto& v = a["value"];
      return v.contains("stringValue") ? v["stringValue"].get<std::string>() : v.begin()->dump();
    }
  return {};
}

troupe::test::command_result check(const std::string& file) {
  return run_command({TROUPE_NODE, TROUPE_OTLP_CHECK, file});
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(otlp_cli, report_journal)

BOOST_AUTO_TEST_CASE(a_tree_exports_as_checked_spans) {
  auto root = top["tree_appender"];
  auto path = file("tree.json");
  auto r = run_command({TROUPE_BIN, "export", root, "--db", db, "--format", "otlp", "--out", path});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto again = run_command({TROUPE_BIN, "export", root, "--db", db, "--format", "otlp"});
  BOOST_REQUIRE_EQUAL(again.exit_code, 0);
  BOOST_TEST(again.out == slurp(path)); // deterministic ids, same bytes

  auto doc = json::parse(slurp(path));
  auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
  std::map<std::string, json> by_id;
  std::map<std::string, std::string> run_span; // run id -> span id
  size_t turns = 0, models = 0;
  for (auto& s : spans) {
    by_id[s["spanId"].get<std::string>()] = s;
    BOOST_TEST(s["traceId"] == spans[0]["traceId"]);
    auto name = s["name"].get<std::string>();
    if (name.rfind("run ", 0) == 0)
      run_span[attr(s, "troupe.run_id")] = s["spanId"].get<std::string>();
    turns += name.rfind("turn ", 0) == 0;
    models += name.rfind("model ", 0) == 0;
    BOOST_TEST(s["startTimeUnixNano"].get<std::string>() <= s["endTimeUnixNano"].get<std::string>());
  }
  size_t want_turns = 0, want_models = 0, want_runs = 0;
  for (auto& row : runs())
    if (row["root_run_id"] == root) {
      ++want_runs;
      want_turns += row["kpis"]["turns"].get<size_t>();
      want_models += row["kpis"]["model_calls"].get<size_t>();
    }
  BOOST_TEST(run_span.size() == want_runs);
  BOOST_TEST(want_runs == 4u);
  BOOST_TEST(turns == want_turns);
  BOOST_TEST(models == want_models);
  // The root alone has no parent; each child hangs under the delegate call
  // that names it.
  for (auto& [run, span_id] : run_span) {
    auto& s = by_id[span_id];
    if (run == root) {
      BOOST_TEST(!s.contains("parentSpanId"));
      continue;
    }
    auto& call = by_id[s["parentSpanId"].get<std::string>()];
    BOOST_TEST(call["name"] == "tool delegate");
    BOOST_TEST(attr(call, "troupe.child_run_id") == run);
  }

  auto c = check(path);
  BOOST_TEST(c.exit_code == 0, c.out << c.err);
  BOOST_TEST(contains(c.out, "ok (" + std::to_string(spans.size()) + " spans"));
  // The checker can fail: an unknown field, and a span id that is not hex.
  auto broken = doc;
  broken["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["durationMs"] = 5;
  std::ofstream(file("broken.json")) << broken.dump();
  auto b = check(file("broken.json"));
  BOOST_TEST(b.exit_code == 1);
  BOOST_TEST(contains(b.err, "no field 'durationMs'"));
  broken = doc;
  broken["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "not-hex-at-all!!";
  std::ofstream(file("broken.json"), std::ios::trunc) << broken.dump();
  BOOST_TEST(check(file("broken.json")).exit_code == 1);
}

BOOST_AUTO_TEST_CASE(a_subtree_and_errors) {
  // A child exports with its own subtree only, under the same trace.
  std::string child;
  for (auto& row : runs())
    if (row["parent_run_id"] == top["tree_appender"] && row["agent"] == "alpha")
      child = row["run_id"].get<std::string>();
  BOOST_REQUIRE(!child.empty());
  auto sub = run_command({TROUPE_BIN, "export", child, "--db", db, "--format", "otlp"});
  BOOST_REQUIRE_EQUAL(sub.exit_code, 0);
  auto doc = json::parse(sub.out);
  size_t run_spans = 0;
  for (auto& s : doc["resourceSpans"][0]["scopeSpans"][0]["spans"]) {
    if (s["name"].get<std::string>().rfind("run ", 0) == 0) {
      ++run_spans;
      if (attr(s, "troupe.run_id") == child)
        BOOST_TEST(!s.contains("parentSpanId"));
    }
  }
  BOOST_TEST(run_spans == 2u); // alpha and its child gamma
  auto path = file("child.json");
  std::ofstream(path) << sub.out;
  BOOST_TEST(check(path).exit_code == 0);

  // The run stopped out of scope: its run span and the offending call are
  // ERROR spans.
  auto bad = run_command({TROUPE_BIN, "export", top["path_escape"], "--db", db, "--format", "otlp"});
  BOOST_REQUIRE_EQUAL(bad.exit_code, 0);
  auto failed = json::parse(bad.out);
  size_t errors = 0;
  for (auto& s : failed["resourceSpans"][0]["scopeSpans"][0]["spans"]) {
    if (s.contains("status")) {
      BOOST_TEST(s["status"]["code"] == 2);
      ++errors;
    }
    if (s["name"].get<std::string>().rfind("run ", 0) == 0) {
      BOOST_TEST(s.contains("status"));
      BOOST_TEST(attr(s, "troupe.out_of_scope") == "true");
    }
  }
  BOOST_TEST(errors >= 2u);
  std::ofstream(file("failed.json")) << bad.out;
  BOOST_TEST(check(file("failed.json")).exit_code == 0);

  auto unknown = run_command({TROUPE_BIN, "export", "no-such-run", "--db", db, "--format", "otlp"});
  BOOST_TEST(unknown.exit_code == 1);
  auto out_jsonl = run_command({TROUPE_BIN, "export", child, "--db", db, "--out", path});
  BOOST_TEST(out_jsonl.exit_code == 64);
}

BOOST_AUTO_TEST_SUITE_END()
