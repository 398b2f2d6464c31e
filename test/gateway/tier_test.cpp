// The tier classifier on a table of requests: each rule, its order, and the
// reason it gives.

#include <boost/test/unit_test.hpp>

#include "core/gateway/tier.hpp"
#include "test/gateway/print.hpp"

using namespace troupe;

namespace {

struct row {
  const char* name;
  tier_inputs in;
  task_tier tier;
  const char* reason;
};

tier_inputs task(std::string_view text, uint32_t tools = 0, uint32_t turn = 1,
                 uint64_t conversation = 0, uint32_t results = 0) {
  tier_inputs in;
  in.task = text;
  in.tools_offered = tools;
  in.turn = turn;
  in.conversation_bytes = conversation;
  in.tool_results = results;
  return in;
}

} // namespace

BOOST_AUTO_TEST_SUITE(tier_suite)

BOOST_AUTO_TEST_CASE(the_rules_on_a_table_of_requests) {
  static const std::string long_text(5000, 'x');
  static const std::string medium_text(600, 'y');
  auto declared = task("Refactor the parser");
  declared.declared = task_tier::trivial;
  const row rows[] = {
    {"declared wins over everything", declared, task_tier::trivial, "declared"},
    {"keyword", task("Please refactor the parser module"), task_tier::complex,
     "keyword \"refactor\""},
    {"keyword, any case, first in the text",
     task("We need an ARCHITECTURE review, then design notes"), task_tier::complex,
     "keyword \"architecture\""},
    {"inflection", task("Refactoring needed in util.cpp", 3), task_tier::complex,
     "keyword \"refactoring\""},
    {"hyphenated", task("weigh the trade-offs of both"), task_tier::complex,
     "keyword \"trade-offs\""},
    {"phrase", task("Explain step by step how it works"), task_tier::complex,
     "keyword \"step by step\""},
    {"phrase across punctuation", task("find the root cause."), task_tier::complex,
     "keyword \"root cause\""},
    {"whole words only", task("What is the provenance of this planet?"), task_tier::trivial,
     "short task without tools"},
    {"a stem is not enough", task("improve the proverbs", 2), task_tier::standard, "default"},
    {"numbered steps", task("1. read a.txt\n2. count lines\n3) write b.txt", 2),
     task_tier::complex, "multi-step (3 step markers)"},
    {"step words", task("fetch it, then parse it, then store it and finally report", 2),
     task_tier::complex, "multi-step (3 step markers)"},
    {"two steps are not many", task("- read\n- write", 2), task_tier::standard, "default"},
    {"long task", task(long_text, 1), task_tier::complex, "long task (5000 bytes)"},
    {"long conversation", task("continue", 1, 9, 70000, 3), task_tier::complex,
     "long conversation (70000 bytes)"},
    {"many tool results", task("continue", 1, 9, 1000, 12), task_tier::complex,
     "many tool results (12)"},
    {"short question without tools", task("What is 2+2?"), task_tier::trivial,
     "short task without tools"},
    {"tools make it standard", task("What is 2+2?", 1), task_tier::standard, "default"},
    {"a later turn is not trivial", task("What is 2+2?", 0, 2), task_tier::standard,
     "default"},
    {"tool results are not trivial", task("What is 2+2?", 0, 1, 10, 1), task_tier::standard,
     "default"},
    {"too long to be trivial", task(medium_text), task_tier::standard, "default"},
    {"empty", task(""), task_tier::trivial, "short task without tools"},
  };
  for (const auto& r : rows) {
    auto d = classify_tier(r.in);
    BOOST_TEST((d.tier == r.tier), r.name << ": got " << to_string(d.tier));
    BOOST_TEST(d.reason == r.reason, r.name);
  }
}

BOOST_AUTO_TEST_CASE(thresholds_are_the_rules_parameters) {
  tier_rules strict;
  strict.trivial_max_task_bytes = 5;
  strict.complex_min_steps = 1;
  BOOST_TEST((classify_tier(task("What is 2+2?"), strict).tier == task_tier::standard));
  BOOST_TEST((classify_tier(task("read it then stop", 1), strict).tier == task_tier::complex));
}

BOOST_AUTO_TEST_CASE(tier_names_round_trip) {
  for (auto t : {task_tier::trivial, task_tier::standard, task_tier::complex}) {
    task_tier back = task_tier::standard;
    BOOST_TEST(from_string(to_string(t), back));
    BOOST_TEST((back == t));
  }
  task_tier x;
  BOOST_TEST(!from_string("hard", x));
}

BOOST_AUTO_TEST_SUITE_END()
