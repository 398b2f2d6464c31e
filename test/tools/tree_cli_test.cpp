// `troupe tree` and `troupe replay` over delegation trees: the real binary
// against journals whose runs name their parent and root in the envelope.

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "schemas/errors.hpp"
#include "test/support/completing_scenario.hpp"
#include "test/support/events.hpp"
#include "test/support/files.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

using namespace troupe;
using nlohmann::json;
using troupe::test::contains;
using troupe::test::lines_of;

namespace {

test::command_result troupe_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), TROUPE_BIN);
  return test::run_command(args);
}

event at(const std::string& run, const std::string& parent, const std::string& root,
         uint32_t seq, int64_t ts_us, event_body body) {
  auto ev = test::make_event(run, seq, std::move(body), ts_us);
  ev.parent_run_id = parent;
  ev.root_run_id = root;
  return ev;
}

// A finished run of one event pair, with `totals` in its completion.
void add_finished(std::vector<persistence::sealed_event>& batch, const std::string& run,
                  const std::string& parent, const std::string& root,
                  const std::string& agent, int64_t ts_us, const kpis& totals) {
  run_start start;
  start.agent = agent;
  batch.push_back(test::seal(at(run, parent, root, 1, ts_us, start)));
  batch.push_back(test::seal(
    at(run, parent, root, 2, ts_us + 10, completion{run_status::completed, "ok", "", "", totals})));
}

kpis totals_of(uint32_t base) {
  kpis k;
  k.turns = base;
  k.tool_calls = base + 1;
  k.model_calls = base + 2;
  k.input_tokens = base * 100;
  k.output_tokens = base * 10;
  k.wall_ms = base * 1000 + 500;
  k.cost_micro_usd = base * 1234;
  return k;
}

// The tree of `top`, ids that do not tell parent from child:
//   top (lead)
//     zz-early (coder, created before aa-late)
//     aa-late (coder)
//       grand (tester, still running: one model reply of 120 + 30 tokens)
// and a run of another tree, `other`, with a child of its own.
struct tree_fixture {
  test::temp_dir tmp;
  std::string db = tmp.file("tree.db");

  tree_fixture() {
    auto store = persistence::store::open(db, persistence::open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(store, render(store));
    std::vector<persistence::sealed_event> batch;
    auto t0 = test::base_ts_us;
    add_finished(batch, "top", "", "top", "lead", t0, totals_of(1));
    add_finished(batch, "aa-late", "top", "top", "coder", t0 + 2000, totals_of(3));
    add_finished(batch, "zz-early", "top", "top", "coder", t0 + 1000, totals_of(2));
    add_finished(batch, "other", "", "other", "lead", t0 + 1500, totals_of(5));
    add_finished(batch, "other-kid", "other", "other", "lead", t0 + 1600, totals_of(6));
    run_start start;
    start.agent = "tester";
    start.tools = {"echo"};
    batch.push_back(test::seal(at("grand", "aa-late", "top", 1, t0 + 3000, start)));
    batch.push_back(test::seal(at("grand", "aa-late", "top", 2, t0 + 3001,
                                  turn_start{1, turn_mode::normal})));
    batch.push_back(test::seal(at("grand", "aa-late", "top", 3, t0 + 3002,
                                  model_request{1, "script", {"echo"}, 2})));
    model_reply reply;
    reply.turn = 1;
    reply.text = "thinking";
    reply.tokens = {120, 30};
    batch.push_back(test::seal(at("grand", "aa-late", "top", 4, t0 + 3003, reply)));
    auto err = store->append(batch);
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
};

void check_node(const json& n, const std::string& id, const std::string& parent,
                const std::string& agent, const std::string& status, size_t children) {
  BOOST_TEST(n.at("run_id") == id);
  BOOST_TEST(n.at("parent_run_id") == parent, id);
  BOOST_TEST(n.at("agent") == agent, id);
  BOOST_TEST(n.at("status") == status, id);
  BOOST_TEST(n.at("role") == "", id);
  BOOST_TEST(n.at("phase") == "", id);
  BOOST_TEST(n.at("children").size() == children, id);
}

void check_totals(const json& n, uint32_t base) {
  auto k = totals_of(base);
  BOOST_TEST(n.at("turns") == k.turns);
  BOOST_TEST(n.at("tool_calls") == k.tool_calls);
  BOOST_TEST(n.at("model_calls") == k.model_calls);
  BOOST_TEST(n.at("input_tokens") == k.input_tokens);
  BOOST_TEST(n.at("output_tokens") == k.output_tokens);
  BOOST_TEST(n.at("cost_micro_usd") == k.cost_micro_usd);
  BOOST_TEST(n.at("wall_ms") == k.wall_ms);
}

// The real run of the completing scenario, exported; children are copies of
// its events under other ids, imported with their parent and root named.
struct replay_tree_fixture {
  test::temp_dir tmp;
  std::string db = tmp.file("replay.db");
  std::string root;
  // ordered: import is sensitive to the order of a checkpoint's fields
  // (sorted keys put `snapshot` before `turn` and it is refused).
  std::vector<nlohmann::ordered_json> events;
  int imports = 0;

  replay_tree_fixture() {
    auto scenario = tmp.file("complete.toml");
    test::write_file(scenario, test::completing_scenario_text);
    auto r = troupe_cmd({"run", scenario, "--db", db, "--json"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    root = json::parse(lines_of(r.out).back()).at("run_id").get<std::string>();
    auto out = troupe_cmd({"export", root, "--db", db});
    BOOST_REQUIRE_MESSAGE(out.exit_code == 0, out.err);
    for (auto& line : lines_of(out.out))
      events.push_back(nlohmann::ordered_json::parse(line));
    BOOST_REQUIRE(!events.empty());
  }

  // Imports the root's events as run `id`, a child of `parent`; `edit` may
  // change them first.
  void import_child(const std::string& id, const std::string& parent,
                    const std::function<void(std::vector<nlohmann::ordered_json>&)>& edit = {}) {
    auto copy = events;
    for (auto& e : copy) {
      e["run_id"] = id;
      e["parent_run_id"] = parent;
      e["root_run_id"] = root;
    }
    if (edit)
      edit(copy);
    std::string lines;
    for (auto& e : copy)
      lines += e.dump() + "\n";
    auto file = tmp.file("import-" + std::to_string(++imports) + ".jsonl");
    test::write_file(file, lines);
    auto r = troupe_cmd({"import", file, "--db", db});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
  }

  // root ← kid-1 ← grand-1, root ← kid-2; `grand_edit` changes grand-1.
  void build(const std::function<void(std::vector<nlohmann::ordered_json>&)>& grand_edit = {}) {
    import_child(root + "/kid-1", root);
    import_child(root + "/kid-2", root);
    import_child("grand-1", root + "/kid-1", grand_edit);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(tree_cli)

BOOST_FIXTURE_TEST_CASE(tree_json_nests_children_in_creation_order, tree_fixture) {
  // Asked from the grandchild: the whole tree of its root comes back.
  auto r = troupe_cmd({"tree", "grand", "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.empty(), r.err);
  auto top = json::parse(r.out);
  check_node(top, "top", "", "lead", "completed", 2);
  check_totals(top, 1);
  BOOST_TEST(!top.contains("unattached"));
  auto& early = top["children"][0];
  auto& late = top["children"][1];
  check_node(early, "zz-early", "top", "coder", "completed", 0);
  check_totals(early, 2);
  check_node(late, "aa-late", "top", "coder", "completed", 1);
  check_totals(late, 3);
  // A running run's KPIs are folded from its events: its row still has zeros.
  auto& grand = late["children"][0];
  check_node(grand, "grand", "aa-late", "tester", "running", 0);
  BOOST_TEST(grand.at("turns") == 1);
  BOOST_TEST(grand.at("model_calls") == 1);
  BOOST_TEST(grand.at("input_tokens") == 120);
  BOOST_TEST(grand.at("output_tokens") == 30);
}

BOOST_FIXTURE_TEST_CASE(tree_text_indents_by_depth_and_marks_the_run, tree_fixture) {
  auto r = troupe_cmd({"tree", "aa-late", "--db", db});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto lines = lines_of(r.out);
  BOOST_REQUIRE_EQUAL(lines.size(), 5u);
  BOOST_TEST(lines[0].rfind("RUN ", 0) == 0u, lines[0]);
  BOOST_TEST(lines[1].rfind("top ", 0) == 0u, lines[1]);
  BOOST_TEST(lines[2].rfind("  zz-early ", 0) == 0u, lines[2]);
  BOOST_TEST(lines[3].rfind("  aa-late * ", 0) == 0u, lines[3]);
  BOOST_TEST(lines[4].rfind("    grand ", 0) == 0u, lines[4]);
  BOOST_TEST(!contains(r.out, "other"));
  // aa-late: 3 turns, 4 tool calls, 330 tokens, $0.003702, 3.500 s.
  BOOST_TEST(contains(lines[3], " completed "), lines[3]);
  BOOST_TEST(contains(lines[3], "      3      4        330  $0.003702     3.500s"), lines[3]);
  BOOST_TEST(contains(lines[4], " running "), lines[4]);
  BOOST_TEST(contains(lines[4], " 150 "), lines[4]);
}

BOOST_FIXTURE_TEST_CASE(a_run_without_children_is_a_one_node_tree, tree_fixture) {
  auto r = troupe_cmd({"tree", "other-kid", "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto top = json::parse(r.out);
  check_node(top, "other", "", "lead", "completed", 1);
  check_node(top["children"][0], "other-kid", "other", "lead", "completed", 0);
  // A run alone in its tree.
  auto store = persistence::store::open(db, persistence::open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(store, render(store));
  std::vector<persistence::sealed_event> batch;
  add_finished(batch, "alone", "", "alone", "lead", test::base_ts_us, totals_of(7));
  auto err = store->append(batch);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  r = troupe_cmd({"tree", "alone", "--db", db});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto lines = lines_of(r.out);
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  BOOST_TEST(lines[1].rfind("alone * ", 0) == 0u, lines[1]);
}

BOOST_FIXTURE_TEST_CASE(tree_of_an_unknown_run_is_exit_1, tree_fixture) {
  auto before = test::slurp(db);
  auto r = troupe_cmd({"tree", "nope", "--db", db});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out.empty(), r.out);
  BOOST_TEST(lines_of(r.err).size() == 1u, r.err);
  BOOST_TEST(r.err.rfind("troupe: ", 0) == 0u, r.err);
  BOOST_TEST(contains(r.err, "no run 'nope'"), r.err);
  BOOST_TEST(test::slurp(db) == before); // read-only, even on error
  r = troupe_cmd({"tree", "top", "--db", tmp.file("missing.db")});
  BOOST_TEST(r.exit_code == 66, r.err);
  r = troupe_cmd({"tree", "top", "--db", "/dev/null"});
  BOOST_TEST(r.exit_code == 65, r.err);
}

BOOST_FIXTURE_TEST_CASE(replay_of_a_root_replays_its_whole_tree, replay_tree_fixture) {
  auto alone = troupe_cmd({"replay", root, "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(alone.exit_code == 0, alone.out << alone.err);
  auto one = json::parse(alone.out);
  BOOST_TEST(one.at("runs") == 1);
  auto n = one.at("events").get<uint64_t>();
  auto m = one.at("snapshots").get<uint64_t>();
  build();
  auto r = troupe_cmd({"replay", root, "--db", db});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(r.out == "identical (4 runs, " + std::to_string(4 * n) + " events, "
                        + std::to_string(4 * m) + " snapshots checked)\n");
  r = troupe_cmd({"replay", root, "--db", db, "--json"});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  auto out = json::parse(r.out);
  BOOST_TEST(out.at("identical").get<bool>());
  BOOST_TEST(out.at("runs") == 4);
  BOOST_TEST(out.at("events") == 4 * n);
  // A middle run replays with its own subtree only.
  r = troupe_cmd({"replay", root + "/kid-1", "--db", db});
  BOOST_TEST(r.out == "identical (2 runs, " + std::to_string(2 * n) + " events, "
                        + std::to_string(2 * m) + " snapshots checked)\n");
  // A leaf replays exactly as a run alone does.
  r = troupe_cmd({"replay", root + "/kid-2", "--db", db});
  BOOST_TEST(r.out == "identical (" + std::to_string(n) + " events, " + std::to_string(m)
                        + " snapshots checked)\n");
  r = troupe_cmd({"replay", root, "--db", db, "--from-checkpoint"});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(contains(r.out, "from the latest checkpoints: identical (4 runs, "), r.out);
}

BOOST_FIXTURE_TEST_CASE(a_divergence_in_a_grandchild_names_it, replay_tree_fixture) {
  build([](std::vector<nlohmann::ordered_json>& evs) {
    for (auto& e : evs)
      if (e.at("kind") == "turn_start") {
        e["turn_start"]["mode"] = "repair";
        break;
      }
  });
  auto r = troupe_cmd({"replay", root, "--db", db});
  BOOST_TEST(r.exit_code == 1, r.out << r.err);
  BOOST_TEST(contains(r.out, "run grand-1: diverged at seq "), r.out);
  BOOST_TEST(contains(r.out, "mode=repair"), r.out);
  r = troupe_cmd({"replay", root, "--db", db, "--json"});
  BOOST_TEST(r.exit_code == 1, r.out << r.err);
  auto out = json::parse(r.out);
  BOOST_TEST(!out.at("identical").get<bool>());
  BOOST_TEST(out.at("run_id") == root);
  BOOST_TEST(out.at("divergence").at("run_id") == "grand-1");
  // kid-1 and grand-1 come before kid-2, depth first: the walk stops at 3.
  BOOST_TEST(out.at("runs") == 3);
  // Its sibling's subtree does not hold it.
  r = troupe_cmd({"replay", root + "/kid-2", "--db", db});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
}

BOOST_AUTO_TEST_SUITE_END()
