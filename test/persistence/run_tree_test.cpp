// arrange_run_tree: a delegation tree from runs rows alone (parent_run_id,
// root_run_id, created_us), whatever the run ids look like.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "persistence/run_tree.hpp"

using namespace troupe::persistence;

namespace {

run_info row(std::string id, std::string parent, std::string root, int64_t created_us) {
  run_info r;
  r.run_id = std::move(id);
  r.parent_run_id = std::move(parent);
  r.root_run_id = std::move(root);
  r.created_us = created_us;
  return r;
}

// "id@depth" per node, depth first.
std::vector<std::string> shape(const run_tree& t) {
  std::vector<std::string> out;
  for (auto& n : t.nodes)
    out.push_back(n.run.run_id + "@" + std::to_string(n.depth));
  return out;
}

// Ids chosen so that neither their shape nor their order gives the tree away.
std::vector<run_info> sample() {
  return {row("zed", "", "zed", 10),           // the root
          row("k2", "q9", "zed", 40),          // grandchild, under q9
          row("q9", "zed", "zed", 30),         // second child
          row("a1", "zed", "zed", 20),         // first child: created first
          row("b0", "zed", "zed", 30),         // same time as q9: id decides
          row("k1", "q9", "zed", 35)};         // grandchild, before k2
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_tree_arrangement)

BOOST_AUTO_TEST_CASE(children_follow_their_parent_in_creation_order) {
  auto t = arrange_run_tree(sample(), "k2");
  std::vector<std::string> want{"zed@0", "a1@1", "b0@1", "q9@1", "k1@2", "k2@2"};
  BOOST_TEST(shape(t) == want, boost::test_tools::per_element());
  BOOST_TEST(t.unattached.empty());
  // Each subtree is the node and the range after it.
  BOOST_TEST(t.nodes[0].end == 6u);
  BOOST_TEST(t.nodes[1].end == 2u);
  BOOST_TEST(t.nodes[3].end == 6u);
  BOOST_TEST(t.nodes[4].end == 5u);
  BOOST_TEST(t.index_of("q9") == 3u);
  BOOST_TEST(t.index_of("nope") == run_tree::npos);
}

BOOST_AUTO_TEST_CASE(a_run_alone_is_a_one_node_tree) {
  auto t = arrange_run_tree({row("solo", "", "solo", 1)}, "solo");
  BOOST_TEST(shape(t) == std::vector<std::string>{"solo@0"}, boost::test_tools::per_element());
  BOOST_TEST(t.nodes[0].end == 1u);
}

// A child imported without its parent: its tree starts at the highest
// ancestor the journal has; runs that hang elsewhere are listed apart.
BOOST_AUTO_TEST_CASE(a_missing_parent_tops_the_tree_at_the_highest_ancestor_present) {
  std::vector<run_info> runs{row("c", "gone", "root", 1), row("d", "c", "root", 2),
                             row("e", "gone2", "root", 3)};
  auto t = arrange_run_tree(runs, "d");
  BOOST_TEST(shape(t) == (std::vector<std::string>{"c@0", "d@1"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(t.unattached.size(), 1u);
  BOOST_TEST(t.unattached[0].run_id == "e");
}

// Only a damaged journal has parent cycles: each run still appears once.
BOOST_AUTO_TEST_CASE(a_parent_cycle_never_repeats_a_run) {
  std::vector<run_info> runs{row("x", "y", "r", 1), row("y", "x", "r", 2),
                             row("z", "y", "r", 3)};
  auto t = arrange_run_tree(runs, "z");
  BOOST_TEST(shape(t) == (std::vector<std::string>{"x@0", "y@1", "z@2"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.unattached.empty());
}

BOOST_AUTO_TEST_CASE(a_focus_not_among_the_runs_gives_no_nodes) {
  auto t = arrange_run_tree(sample(), "elsewhere");
  BOOST_TEST(t.nodes.empty());
}

BOOST_AUTO_TEST_CASE(an_empty_root_column_makes_a_run_its_own_root) {
  BOOST_TEST(root_of(row("top", "", "", 1)) == "top");
  BOOST_TEST(root_of(row("kid", "top", "top", 1)) == "top");
}

BOOST_AUTO_TEST_SUITE_END()
