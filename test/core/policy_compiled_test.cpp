// The globs a policy compiles when it loads: decide matches with them, and a
// rule built or edited in code decides by its current globs all the same.

#include "core/policy.hpp"

#include <string>

#include <boost/test/unit_test.hpp>

#include "core/detail/policy_globs.hpp"
#include "core/glob.hpp"
#include "test/core/policy_test_support.hpp"

using namespace troupe::test::policy_support;
using troupe::glob_kind;

BOOST_AUTO_TEST_SUITE(policy_compiled)

BOOST_AUTO_TEST_CASE(a_loaded_policy_carries_its_compiled_globs) {
  auto p = must_parse(std::string{header}
                      + "[[rule]]\nid = \"w\"\ntool = \"fs_*\"\ndecision = \"allow\"\n"
                        "paths = [\"./src//\", \"docs/**\"]\nhosts = [\"*.Example.com\"]\n");
  BOOST_REQUIRE(p.rules.at(0).compiled);
  const auto& globs = *p.rules.at(0).compiled;
  BOOST_TEST(globs.tool.pattern() == "fs_*");
  BOOST_REQUIRE_EQUAL(globs.paths.size(), 2u);
  BOOST_TEST(globs.paths[0].pattern() == "src"); // as normalized by the parser
  BOOST_TEST(globs.hosts.at(0).pattern() == "*.example.com");
  auto builtin = troupe::default_policy();
  BOOST_REQUIRE(builtin.rules.at(0).compiled);
  BOOST_TEST(builtin.rules.at(0).compiled->paths.at(0).pattern() == "**");
  auto copy = p; // copies share what was compiled
  BOOST_TEST(copy.rules.at(0).compiled == p.rules.at(0).compiled);
}

BOOST_AUTO_TEST_CASE(compiled_globs_match_as_glob_match_does) {
  for (auto [pattern, text, kind] :
       {std::tuple{"src/**", "src", glob_kind::path}, {"src/**", "src/a/b", glob_kind::path},
        {"**", ".", glob_kind::path}, {"*", ".", glob_kind::path}, {"", ".", glob_kind::path},
        {"[ab", "a", glob_kind::name}, {"*.example.com", "a.example.com", glob_kind::host},
        {"*.example.com", "a.b.example.com", glob_kind::host}}) {
    BOOST_TEST_CONTEXT(pattern << " ~ " << text) {
      BOOST_TEST(troupe::compiled_glob::compile(pattern, kind).matches(text)
                 == troupe::glob_match(pattern, text, kind));
    }
  }
  BOOST_TEST(!troupe::compiled_glob{}.matches("x"));
}

BOOST_AUTO_TEST_CASE(a_rule_edited_or_built_in_code_decides_by_its_current_globs) {
  auto p = must_parse(std::string{header}
                      + "mode = \"enforce\"\n[[rule]]\nid = \"w\"\ntool = \"write_file\"\n"
                        "decision = \"allow\"\npaths = [\"src/**\"]\n");
  auto docs = call("write_file", R"({"path":"docs/a.md"})");
  BOOST_TEST(troupe::decide(p, docs).rule_id == "(default)");
  p.rules[0].paths = {"docs/**"}; // stale compiled globs are not used
  BOOST_TEST(troupe::decide(p, docs).rule_id == "w");
  troupe::policy_rule built;
  built.id = "b";
  built.tool = "write_*";
  built.decision = troupe::decision_kind::allow;
  troupe::policy q;
  q.rules = {built};
  BOOST_TEST(troupe::decide(q, docs).rule_id == "b");
  troupe::compile_globs(q);
  BOOST_TEST(troupe::decide(q, docs).rule_id == "b");
}

BOOST_AUTO_TEST_SUITE_END()
