// Policy files: parsing, validation with file:line:column errors, warnings
// (idle keys, shadowed rules). Deciding calls is in policy_decide_test.cpp.

#include "core/policy.hpp"
#include "core/policy_toml.hpp"

#include <fstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <toml++/toml.h>

#include "schemas/errors.hpp"
#include "test/core/policy_test_support.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe::test::policy_support;
using troupe::decision_kind;
using troupe::policy_mode;

namespace {

std::vector<troupe::policy_warning> warnings_of(const std::string& text) {
  std::vector<troupe::policy_warning> w;
  auto p = parse_text(text, &w);
  BOOST_REQUIRE_MESSAGE(p, troupe::render(p));
  return w;
}

struct bad_case {
  const char* name;
  std::string text;
  std::string where; // "line:column"
  std::string key;   // must appear in the message
};

void check_rejected(const std::vector<bad_case>& cases) {
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      std::vector<troupe::policy_warning> w;
      auto p = parse_text(c.text, &w);
      BOOST_REQUIRE(!p);
      BOOST_CHECK(p.error() == troupe::runtime_errc::invalid_scenario);
      auto msg = troupe::render(p);
      BOOST_TEST_MESSAGE(msg);
      BOOST_TEST(msg.rfind("policy.toml:" + c.where + ": ", 0) == 0, msg);
      BOOST_TEST(msg.find(c.key) != std::string::npos, msg);
      BOOST_TEST(msg.find("expected") != std::string::npos, msg);
      BOOST_TEST(w.empty());
    }
  }
}

std::string with_rule(const std::string& body) {
  return std::string{header} + "[[rule]]\n" + body;
}

} // namespace

BOOST_AUTO_TEST_SUITE(policy_parse)

// -- parsing ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(example_parses_every_key) {
  auto p = must_parse(example);
  BOOST_CHECK(p.mode == policy_mode::enforce);
  BOOST_CHECK(p.fallback == decision_kind::ask);
  BOOST_TEST(p.approval_timeout_ms == 120000u);
  BOOST_TEST(p.source == "policy.toml");
  BOOST_TEST(is_hex16(p.version), p.version);
  BOOST_REQUIRE_EQUAL(p.rules.size(), 4u);

  const auto& read = p.rules[0];
  BOOST_TEST(read.id == "read-anything");
  BOOST_TEST(read.tool == "read_file");
  BOOST_CHECK(read.decision == decision_kind::allow);
  BOOST_TEST(read.paths == std::vector<std::string>{"**"}, boost::test_tools::per_element());
  BOOST_TEST(read.agents == std::vector<std::string>{"lead"}, boost::test_tools::per_element());
  BOOST_TEST(read.line == 6);
  BOOST_TEST(read.column == 1);
  BOOST_TEST(!read.network);
  BOOST_TEST(!read.timeout_ms.has_value());

  const auto& git = p.rules[1];
  BOOST_TEST(git.command_prefix == (std::vector<std::string>{"git", "status"}),
             boost::test_tools::per_element());
  BOOST_TEST(git.command.empty());
  BOOST_TEST(git.secrets == std::vector<std::string>{"GITHUB_TOKEN"},
             boost::test_tools::per_element());
  BOOST_TEST(git.network);
  BOOST_TEST(git.roles == (std::vector<std::string>{"dev", "ops"}),
             boost::test_tools::per_element());
  BOOST_TEST(git.tenants == std::vector<std::string>{"acme"}, boost::test_tools::per_element());
  BOOST_TEST(git.line == 13);

  const auto& fetch = p.rules[2];
  BOOST_CHECK(fetch.decision == decision_kind::ask);
  // Host patterns are lower-cased: DNS names are case-insensitive.
  BOOST_TEST(fetch.hosts == (std::vector<std::string>{"*.internal.example", "api.example.com"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(fetch.timeout_ms.has_value());
  BOOST_TEST(*fetch.timeout_ms == 60000u);

  const auto& ls = p.rules[3];
  BOOST_TEST(ls.command == (std::vector<std::string>{"ls", "-la"}),
             boost::test_tools::per_element());
  // Path patterns are normalized.
  BOOST_TEST(ls.paths == (std::vector<std::string>{"src", "docs/**"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(absent_keys_take_defaults) {
  auto p = must_parse(header);
  BOOST_CHECK(p.mode == policy_mode::strict);
  BOOST_CHECK(p.fallback == decision_kind::deny);
  BOOST_TEST(p.approval_timeout_ms == 300000u);
  BOOST_TEST(p.rules.empty());
  BOOST_TEST(is_hex16(p.version));
}

BOOST_AUTO_TEST_CASE(every_mode_and_default_parses) {
  for (auto [text, mode] : {std::pair{"enforce", policy_mode::enforce},
                            std::pair{"audit", policy_mode::audit},
                            std::pair{"strict", policy_mode::strict}}) {
    auto p = must_parse(std::string{header} + "mode = \"" + text + "\"\n");
    BOOST_CHECK(p.mode == mode);
    BOOST_TEST(troupe::to_string(mode) == text);
  }
  for (auto [text, d] : {std::pair{"allow", decision_kind::allow},
                         std::pair{"deny", decision_kind::deny},
                         std::pair{"ask", decision_kind::ask}}) {
    auto p = must_parse(std::string{header} + "mode = \"enforce\"\ndefault = \"" + text + "\"\n");
    BOOST_CHECK(p.fallback == d);
    BOOST_TEST(troupe::to_string(d) == text);
  }
}

BOOST_AUTO_TEST_CASE(rules_may_be_inline_tables) {
  auto p = must_parse(std::string{header}
                      + "rule = [ { id = \"a\", tool = \"echo\", decision = \"allow\" } ]\n");
  BOOST_REQUIRE_EQUAL(p.rules.size(), 1u);
  BOOST_TEST(p.rules[0].line == 2);
}

BOOST_AUTO_TEST_CASE(load_policy_reads_a_file_and_names_an_unreadable_one) {
  troupe::test::temp_dir dir;
  auto file = dir.file("p.toml");
  std::ofstream{file} << example;
  auto p = troupe::load_policy(file);
  BOOST_REQUIRE_MESSAGE(p, troupe::render(p));
  BOOST_TEST(p->source == file);
  BOOST_TEST(p->version == must_parse(example).version);

  auto missing = troupe::load_policy(dir.file("nope.toml"));
  BOOST_REQUIRE(!missing);
  BOOST_CHECK(missing.error() == troupe::runtime_errc::invalid_scenario);
  auto msg = troupe::render(missing);
  BOOST_TEST(msg.rfind(dir.file("nope.toml") + ": cannot read the policy file (", 0) == 0, msg);

  auto directory = troupe::load_policy(dir.path);
  BOOST_REQUIRE(!directory);
  BOOST_TEST(troupe::render(directory).find("cannot read the policy file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(policy_from_table_uses_positions_of_the_enclosing_file) {
  const std::string scenario = "[run]\nagent = \"lead\"\n\n[policy]\nversion = 1\n\n"
                               "[[policy.rule]]\nid = \"r\"\ntool = \"echo\"\n"
                               "decision = \"allow\"\n";
  auto doc = toml::parse(std::string_view{scenario}, std::string_view{"demo.toml"});
  auto p = troupe::policy_from_table(*doc["policy"].as_table(), "demo.toml");
  BOOST_REQUIRE_MESSAGE(p, troupe::render(p));
  BOOST_REQUIRE_EQUAL(p->rules.size(), 1u);
  BOOST_TEST(p->rules[0].line == 7);
  BOOST_TEST(p->source == "demo.toml");
  auto standalone = must_parse("version = 1\n[[rule]]\nid = \"r\"\ntool = \"echo\"\n"
                               "decision = \"allow\"\n");
  BOOST_TEST(p->version == standalone.version);

  const std::string bad_text = scenario + "paths = [\"/etc\"]\n";
  auto bad = toml::parse(std::string_view{bad_text}, std::string_view{"demo.toml"});
  auto err = troupe::policy_from_table(*bad["policy"].as_table(), "demo.toml");
  BOOST_REQUIRE(!err);
  BOOST_TEST(troupe::render(err).rfind("demo.toml:11:10: ", 0) == 0, troupe::render(err));
}

// -- validation ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(bad_top_level_is_rejected_with_position) {
  check_rejected({
    {"syntax", "version = 1\nmode = \n", "2:8", "mode = "},
    {"missing version", "mode = \"strict\"\n", "1:1", "'version'"},
    {"version 2", "version = 2\n", "1:11", "version 2"},
    {"version string", "version = \"1\"\n", "1:11", "is a string"},
    {"unknown key", "version = 1\nmodes = \"strict\"\n", "2:1", "'modes'"},
    {"unknown mode", "version = 1\nmode = \"lenient\"\n", "2:8", "'lenient'"},
    {"mode type", "version = 1\nmode = 1\n", "2:8", "is an integer"},
    {"unknown default", "version = 1\ndefault = \"maybe\"\n", "2:11", "'maybe'"},
    {"zero timeout", "version = 1\napproval_timeout_ms = 0\n", "2:23", "is 0"},
    {"negative timeout", "version = 1\napproval_timeout_ms = -1\n", "2:23", "is -1"},
    {"float timeout", "version = 1\napproval_timeout_ms = 1.5\n", "2:23", "is a float"},
    {"rule as table", "version = 1\n[rule]\nid = \"a\"\n", "2:1", "[[rule]]"},
    {"rule not a table", "version = 1\nrule = [1]\n", "2:9", "rule #1 is an integer"},
  });
}

BOOST_AUTO_TEST_CASE(bad_rules_are_rejected_with_position) {
  const std::string ok = "tool = \"echo\"\ndecision = \"allow\"\n"; // lines 3-4 after an id
  check_rejected({
    {"missing id", with_rule(ok), "2:1", "'id'"},
    {"bad id", with_rule("id = \"a b\"\n" + ok), "3:6", "'a b'"},
    {"default id", with_rule("id = \"(default)\"\n" + ok), "3:6", "(default)"},
    {"unknown key", with_rule("id = \"a\"\n" + ok + "pahts = [\"x\"]\n"), "6:1", "'pahts'"},
    {"misspelled id", with_rule("idd = \"a\"\n" + ok), "3:1", "unknown key 'idd' in rule #1;"},
    {"missing tool", with_rule("id = \"a\"\ndecision = \"allow\"\n"), "2:1", "'tool'"},
    {"empty tool", with_rule("id = \"a\"\ntool = \"\"\ndecision = \"allow\"\n"), "4:8", "'tool'"},
    {"tool with space", with_rule("id = \"a\"\ntool = \"read file\"\ndecision = \"allow\"\n"),
     "4:8", "'read file'"},
    {"tool glob", with_rule("id = \"a\"\ntool = \"fs_[\"\ndecision = \"allow\"\n"), "4:8",
     "unbalanced '['"},
    {"missing decision", with_rule("id = \"a\"\ntool = \"echo\"\n"), "2:1", "'decision'"},
    {"unknown decision", with_rule("id = \"a\"\ntool = \"echo\"\ndecision = \"permit\"\n"),
     "5:12", "'permit'"},
    {"duplicate id",
     with_rule("id = \"a\"\n" + ok) + "[[rule]]\nid = \"a\"\n" + ok, "7:6",
     "duplicate id 'a' in rule #2 (first at line 2)"},
    {"command and prefix",
     with_rule("id = \"a\"\n" + ok + "command = [\"ls\"]\ncommand_prefix = [\"ls\"]\n"), "7:18",
     "both 'command' and 'command_prefix'"},
    {"empty list", with_rule("id = \"a\"\n" + ok + "paths = []\n"), "6:9", "'paths'"},
    {"list not array", with_rule("id = \"a\"\n" + ok + "paths = \"**\"\n"), "6:9", "is a string"},
    {"list element type", with_rule("id = \"a\"\n" + ok + "hosts = [\"a.com\", 1]\n"), "6:19",
     "'hosts'[1] of rule #1 'a' is an integer"},
    {"network type", with_rule("id = \"a\"\n" + ok + "network = \"yes\"\n"), "6:11", "'network'"},
    {"zero rule timeout", with_rule("id = \"a\"\n" + ok + "timeout_ms = 0\n"), "6:14",
     "'timeout_ms'"},
    {"secret name", with_rule("id = \"a\"\n" + ok + "secrets = [\"A-B\"]\n"), "6:12", "'A-B'"},
    {"secret digit", with_rule("id = \"a\"\n" + ok + "secrets = [\"1A\"]\n"), "6:12", "'1A'"},
    {"empty agent", with_rule("id = \"a\"\n" + ok + "agents = [\"\"]\n"), "6:11", "empty"},
    {"empty role", with_rule("id = \"a\"\n" + ok + "roles = [\"x\", \"\"]\n"), "6:15", "empty"},
  });
}

BOOST_AUTO_TEST_CASE(bad_globs_are_rejected_with_position) {
  auto rule = [](const std::string& key, const std::string& value) {
    return with_rule("id = \"g\"\ntool = \"echo\"\ndecision = \"allow\"\n" + key + " = [\"ok\", \""
                     + value + "\"]\n");
  };
  check_rejected({
    {"unbalanced [", rule("paths", "src/[ab"), "6:16", "unbalanced '['"},
    {"empty pattern", rule("paths", ""), "6:16", "an empty pattern"},
    {"absolute", rule("paths", "/etc/**"), "6:16", "absolute"},
    {"dotdot", rule("paths", "src/../etc"), "6:16", "'..'"},
    {"leading dotdot", rule("paths", "../x"), "6:16", "'..'"},
    {"trailing backslash", rule("paths", "a\\\\"), "6:16", "trailing"},
    {"reversed range", rule("paths", "[z-a]"), "6:16", "reversed range"},
    {"slash in class", rule("paths", "a[/]b"), "6:16", "separator"},
    {"escaped slash", rule("paths", "a\\\\/b"), "6:16", "escaped '/'"},
    {"host with scheme", rule("hosts", "https://a.com"), "6:16", "host name glob"},
    {"host with port", rule("hosts", "a.com:443"), "6:16", "host name glob"},
    {"host unbalanced", rule("hosts", "[ab"), "6:16", "unbalanced"},
    {"empty host", rule("hosts", ""), "6:16", "empty"},
  });
}

BOOST_AUTO_TEST_CASE(idle_keys_and_strict_default_warn) {
  auto w = warnings_of(std::string{header} + "default = \"allow\"\n"
                       + "[[rule]]\nid = \"d\"\ntool = \"x\"\ndecision = \"deny\"\n"
                         "secrets = [\"T\"]\nnetwork = true\ntimeout_ms = 5\n");
  BOOST_REQUIRE_EQUAL(w.size(), 4u);
  BOOST_TEST(w[0].line == 2);
  BOOST_TEST(w[0].message.find("no effect in strict mode") != std::string::npos, w[0].message);
  BOOST_TEST(w[1].line == 7);
  BOOST_TEST(w[1].column == 11);
  BOOST_TEST(w[1].message.find("'secrets'") != std::string::npos);
  BOOST_TEST(w[2].line == 8);
  BOOST_TEST(w[3].line == 9);
  BOOST_TEST(w[3].message.find("only ask rules") != std::string::npos);
  BOOST_TEST(warnings_of(example).empty());
}

// -- shadowing ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(shadowed_rules_warn_at_the_later_rule) {
  auto w = warnings_of(std::string{header}
                       + "[[rule]]\nid = \"any\"\ntool = \"*\"\ndecision = \"deny\"\n"
                         "[[rule]]\nid = \"echo\"\ntool = \"echo\"\ndecision = \"allow\"\n");
  BOOST_REQUIRE_EQUAL(w.size(), 1u);
  BOOST_TEST(w[0].line == 6);
  BOOST_TEST(w[0].column == 1);
  BOOST_TEST(w[0].message.find("rule 'echo' can never match: rule 'any' (line 2)")
               != std::string::npos,
             w[0].message);

  struct shadow_case {
    const char* name;
    std::string first;
    std::string second;
  };
  auto rule = [](const char* id, const std::string& body) {
    return "[[rule]]\nid = \"" + std::string{id} + "\"\n" + body;
  };
  std::vector<shadow_case> shadowed = {
    {"same tool", "tool = \"echo\"\ndecision = \"allow\"\n",
     "tool = \"echo\"\ndecision = \"deny\"\nagents = [\"lead\"]\n"},
    {"tool glob", "tool = \"fs_*\"\ndecision = \"allow\"\n", "tool = \"fs_read\"\ndecision = \"deny\"\n"},
    {"same glob", "tool = \"fs_*\"\ndecision = \"allow\"\n", "tool = \"fs_*\"\ndecision = \"deny\"\n"},
    {"agent superset", "tool = \"x\"\ndecision = \"allow\"\nagents = [\"a\", \"b\"]\n",
     "tool = \"x\"\ndecision = \"deny\"\nagents = [\"b\"]\nroles = [\"r\"]\n"},
    {"everything path", "tool = \"x\"\ndecision = \"allow\"\npaths = [\"**\"]\n",
     "tool = \"x\"\ndecision = \"allow\"\npaths = [\"docs/**\"]\n"},
    {"literal path", "tool = \"x\"\ndecision = \"allow\"\npaths = [\"docs/*\"]\n",
     "tool = \"x\"\ndecision = \"allow\"\npaths = [\"docs/a.txt\"]\n"},
    {"deny covers grant", "tool = \"x\"\ndecision = \"deny\"\npaths = [\"a/**\", \"b/**\"]\n",
     "tool = \"x\"\ndecision = \"allow\"\npaths = [\"a/**\"]\n"},
    {"prefix", "tool = \"shell\"\ndecision = \"allow\"\ncommand_prefix = [\"git\"]\n",
     "tool = \"shell\"\ndecision = \"deny\"\ncommand_prefix = [\"git\", \"push\"]\n"},
    {"prefix of command", "tool = \"shell\"\ndecision = \"allow\"\ncommand_prefix = [\"ls\"]\n",
     "tool = \"shell\"\ndecision = \"deny\"\ncommand = [\"ls\", \"-la\"]\n"},
    {"same command", "tool = \"shell\"\ndecision = \"allow\"\ncommand = [\"ls\"]\n",
     "tool = \"shell\"\ndecision = \"deny\"\ncommand = [\"ls\"]\n"},
    {"host literal", "tool = \"h\"\ndecision = \"ask\"\nhosts = [\"*.example.com\"]\n",
     "tool = \"h\"\ndecision = \"allow\"\nhosts = [\"api.example.com\"]\n"},
  };
  for (const auto& c : shadowed) {
    BOOST_TEST_CONTEXT(c.name) {
      auto ws = warnings_of(std::string{header} + rule("a", c.first) + rule("b", c.second));
      BOOST_REQUIRE_EQUAL(ws.size(), 1u);
      BOOST_TEST(ws[0].message.find("rule 'b' can never match: rule 'a'") != std::string::npos,
                 ws[0].message);
    }
  }
}

BOOST_AUTO_TEST_CASE(narrower_earlier_rules_do_not_warn) {
  auto rule = [](const char* id, const std::string& body) {
    return "[[rule]]\nid = \"" + std::string{id} + "\"\n" + body;
  };
  std::vector<std::pair<std::string, std::string>> fine = {
    {"tool = \"shell\"\ndecision = \"allow\"\ncommand_prefix = [\"git\", \"status\"]\n",
     "tool = \"shell\"\ndecision = \"deny\"\n"},
    {"tool = \"echo\"\ndecision = \"allow\"\nagents = [\"lead\"]\n",
     "tool = \"echo\"\ndecision = \"deny\"\n"},
    {"tool = \"echo\"\ndecision = \"allow\"\nagents = [\"lead\"]\n",
     "tool = \"echo\"\ndecision = \"deny\"\nagents = [\"lead\", \"x\"]\n"},
    {"tool = \"fs_read\"\ndecision = \"allow\"\n", "tool = \"fs_*\"\ndecision = \"deny\"\n"},
    {"tool = \"fs_*\"\ndecision = \"allow\"\n", "tool = \"read_*\"\ndecision = \"deny\"\n"},
    {"tool = \"x\"\ndecision = \"allow\"\npaths = [\"docs/**\"]\n",
     "tool = \"x\"\ndecision = \"deny\"\n"},
    {"tool = \"x\"\ndecision = \"allow\"\npaths = [\"docs/**\"]\n",
     "tool = \"x\"\ndecision = \"allow\"\npaths = [\"**\"]\n"},
    // A grant rule needs every path inside; a deny rule fires on one, so the
    // deny rule still catches calls mixing docs/ with other paths.
    {"tool = \"x\"\ndecision = \"allow\"\npaths = [\"docs/**\"]\n",
     "tool = \"x\"\ndecision = \"deny\"\npaths = [\"docs/**\"]\n"},
    {"tool = \"shell\"\ndecision = \"allow\"\ncommand = [\"ls\"]\n",
     "tool = \"shell\"\ndecision = \"deny\"\ncommand_prefix = [\"ls\"]\n"},
    {"tool = \"shell\"\ndecision = \"allow\"\ncommand_prefix = [\"git\", \"push\"]\n",
     "tool = \"shell\"\ndecision = \"deny\"\ncommand_prefix = [\"git\"]\n"},
    {"tool = \"h\"\ndecision = \"allow\"\nhosts = [\"api.example.com\"]\n",
     "tool = \"h\"\ndecision = \"deny\"\nhosts = [\"*.example.com\"]\n"},
    {"tool = \"h\"\ndecision = \"allow\"\nhosts = [\"*.example.com\"]\n",
     "tool = \"h\"\ndecision = \"deny\"\nhosts = [\"**.example.com\"]\n"},
  };
  for (const auto& [first, second] : fine) {
    BOOST_TEST_CONTEXT(first + "then\n" + second) {
      auto ws = warnings_of(std::string{header} + rule("a", first) + rule("b", second));
      BOOST_TEST(ws.empty(), (ws.empty() ? "" : ws[0].message));
    }
  }
}

// Soundness: whenever the check calls rule b shadowed by rule a, no call in a
// varied sample matches b without matching a.
BOOST_AUTO_TEST_CASE(shadow_warnings_are_sound_on_a_sample) {
  const std::vector<std::string> tools = {"\"*\"", "\"shell\"", "\"sh*\"", "\"read_file\""};
  const std::vector<std::string> conditions = {
    "", "paths = [\"**\"]\n", "paths = [\"docs/**\"]\n", "paths = [\"docs/a\"]\n",
    "paths = [\"*\"]\n", "command_prefix = [\"git\"]\n", "command = [\"git\", \"status\"]\n",
    "hosts = [\"*.example.com\"]\n", "hosts = [\"**\"]\n", "agents = [\"lead\"]\n",
    "agents = [\"lead\", \"x\"]\n"};
  const std::vector<std::string> decisions = {"allow", "deny"};
  std::vector<troupe::policy_rule> rules;
  for (const auto& tool : tools)
    for (const auto& cond : conditions)
      for (const auto& d : decisions) {
        auto p = must_parse(std::string{header} + "[[rule]]\nid = \"r\"\ntool = " + tool
                            + "\ndecision = \"" + d + "\"\n" + cond);
        rules.push_back(p.rules[0]);
      }
  std::vector<troupe::call_context> calls;
  for (const char* tool : {"shell", "shx", "read_file", "other"})
    for (const char* args :
         {"{}", R"({"path":"docs/a"})", R"({"path":"docs/b/c"})", R"({"path":"x"})",
          R"({"path":"../x"})", R"({"paths":["docs/a","x"]})", R"({"argv":["git","status"]})",
          R"({"argv":["git","push"],"cwd":"docs"})", R"({"url":"https://a.example.com"})",
          R"({"url":"https://a.b.example.com","path":"docs/a"})", R"({"host":"bad host"})"})
      for (const char* agent : {"lead", "x", "y"})
        calls.push_back(call(tool, args, agent));
  auto matches = [&](const troupe::policy_rule& r, const troupe::call_context& c) {
    troupe::policy p;
    p.mode = policy_mode::enforce;
    p.rules = {r};
    p.rules[0].id = "only";
    return troupe::decide(p, c).rule_id == "only";
  };
  size_t pairs = 0;
  for (const auto& a : rules)
    for (const auto& b : rules) {
      troupe::policy p;
      p.rules = {a, b};
      p.rules[0].id = "a";
      p.rules[1].id = "b";
      if (troupe::find_shadowed_rules(p).empty())
        continue;
      ++pairs;
      for (const auto& c : calls)
        if (matches(b, c) && !matches(a, c))
          BOOST_ERROR("unsound shadow warning: call " << c.tool << " " << c.args.dump() << " "
                                                      << c.agent << " matches b but not a");
    }
  BOOST_TEST(pairs > 100u);
}

BOOST_AUTO_TEST_SUITE_END()
