#include "runtime/policy.hpp"

#include <fstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "runtime/glob.hpp"
#include "schemas/errors.hpp"
#include "test/support/temp_dir.hpp"

using nlohmann::json;
using troupe::decision_kind;
using troupe::glob_kind;
using troupe::policy_mode;

namespace {

constexpr const char* example = R"(version = 1
mode = "enforce"
default = "ask"
approval_timeout_ms = 120000

[[rule]]
id = "read-anything"
tool = "read_file"
decision = "allow"
paths = ["**"]
agents = ["lead"]

[[rule]]
id = "shell-git-status"
tool = "shell"
command_prefix = ["git", "status"]
decision = "allow"
secrets = ["GITHUB_TOKEN"]
network = true
roles = ["dev", "ops"]
tenants = ["acme"]

[[rule]]
id = "fetch-internal"
tool = "http_get"
hosts = ["*.Internal.example", "api.example.com"]
decision = "ask"
timeout_ms = 60000

[[rule]]
id = "ls"
tool = "shell"
command = ["ls", "-la"]
decision = "allow"
paths = ["./src//", "docs/**/"]
)";

// One fixed line so a case appended below starts on line 2.
constexpr const char* header = "version = 1\n";

caf::expected<troupe::policy> parse_text(const std::string& text,
                                    std::vector<troupe::policy_warning>* warnings = nullptr) {
  return troupe::parse_policy(text, "policy.toml", warnings);
}

troupe::policy must_parse(const std::string& text) {
  auto p = parse_text(text);
  BOOST_REQUIRE_MESSAGE(p, troupe::render(p));
  return std::move(*p);
}

std::vector<troupe::policy_warning> warnings_of(const std::string& text) {
  std::vector<troupe::policy_warning> w;
  auto p = parse_text(text, &w);
  BOOST_REQUIRE_MESSAGE(p, troupe::render(p));
  return w;
}

troupe::call_context call(std::string tool, const std::string& args = "{}",
                          std::string agent = "lead", std::string role = "",
                          std::string tenant = "default") {
  return {std::move(tool), json::parse(args), std::move(agent), std::move(role),
          std::move(tenant)};
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

bool is_hex16(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(policy)

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

// -- globs --------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(name_globs) {
  using troupe::glob_match;
  BOOST_TEST(glob_match("*", "read_file", glob_kind::name));
  BOOST_TEST(glob_match("fs_*", "fs_read", glob_kind::name));
  BOOST_TEST(!glob_match("fs_*", "xfs_read", glob_kind::name));
  BOOST_TEST(glob_match("read_?ile", "read_file", glob_kind::name));
  BOOST_TEST(!glob_match("read_?ile", "read_ile", glob_kind::name));
  BOOST_TEST(glob_match("[abc]x", "bx", glob_kind::name));
  BOOST_TEST(!glob_match("[abc]x", "dx", glob_kind::name));
  BOOST_TEST(glob_match("[a-c]x", "cx", glob_kind::name));
  BOOST_TEST(glob_match("[!a-c]x", "dx", glob_kind::name));
  BOOST_TEST(!glob_match("[^a-c]x", "ax", glob_kind::name));
  BOOST_TEST(glob_match("[]]", "]", glob_kind::name));
  BOOST_TEST(glob_match("a\\*", "a*", glob_kind::name));
  BOOST_TEST(!glob_match("a\\*", "ab", glob_kind::name));
  BOOST_TEST(!glob_match("echo", "echo2", glob_kind::name));
  BOOST_TEST(!glob_match("[ab", "a", glob_kind::name)); // invalid matches nothing
}

BOOST_AUTO_TEST_CASE(path_globs_star_stays_in_a_directory_and_globstar_crosses) {
  auto m = [](const char* pattern, const char* text) {
    return troupe::glob_match(pattern, text, glob_kind::path);
  };
  BOOST_TEST(m("*", "a.txt"));
  BOOST_TEST(!m("*", "src/a.txt"));
  BOOST_TEST(m("*.txt", ".hidden.txt")); // no dotfile rule
  BOOST_TEST(m("src/*.cpp", "src/a.cpp"));
  BOOST_TEST(!m("src/*.cpp", "src/x/a.cpp"));
  BOOST_TEST(m("**", "a/b/c"));
  BOOST_TEST(m("src/**", "src"));
  BOOST_TEST(m("src/**", "src/a/b"));
  BOOST_TEST(!m("src/**", "srcx/a"));
  BOOST_TEST(m("**/x.txt", "x.txt"));
  BOOST_TEST(m("**/x.txt", "a/b/x.txt"));
  BOOST_TEST(!m("**/x.txt", "a/bx.txt"));
  BOOST_TEST(m("a/**/b", "a/b"));
  BOOST_TEST(m("a/**/b", "a/x/y/b"));
  BOOST_TEST(!m("a/**/b", "a/xb"));
  BOOST_TEST(m("**.txt", "a/b.txt")); // ** inside a segment crosses too
  BOOST_TEST(m("?.txt", "a.txt"));
  BOOST_TEST(!m("a?b", "a/b"));
  BOOST_TEST(!m("a[!x]b", "a/b"));
  BOOST_TEST(m("./src//**", "src/a")); // patterns are normalized
  // The root is matched only by "everything" and by ".".
  BOOST_TEST(m("**", "."));
  BOOST_TEST(m("**/**", "."));
  BOOST_TEST(m(".", "."));
  BOOST_TEST(!m("*", "."));
  BOOST_TEST(!m("src/**", "."));
}

BOOST_AUTO_TEST_CASE(host_globs_star_is_one_label) {
  auto m = [](const char* pattern, const char* text) {
    return troupe::glob_match(pattern, text, glob_kind::host);
  };
  BOOST_TEST(m("*.example.com", "api.example.com"));
  BOOST_TEST(!m("*.example.com", "a.b.example.com"));
  BOOST_TEST(!m("*.example.com", "example.com"));
  BOOST_TEST(m("**.example.com", "example.com"));
  BOOST_TEST(m("**.example.com", "a.b.example.com"));
  BOOST_TEST(!m("**.example.com", "badexample.com"));
  BOOST_TEST(m("api.example.com", "api.example.com"));
  BOOST_TEST(!m("api.example.com", "api.example.com.evil.net"));
}

BOOST_AUTO_TEST_CASE(glob_syntax_checks) {
  using troupe::check_glob;
  BOOST_TEST(!check_glob("src/**/*.[ch]", glob_kind::path));
  BOOST_TEST(!check_glob("fs_*", glob_kind::name));
  BOOST_TEST(troupe::render(check_glob("ab[c", glob_kind::name)) == "unbalanced '[' at offset 2");
  BOOST_CHECK(check_glob("", glob_kind::host) == troupe::runtime_errc::invalid_scenario);
  BOOST_TEST(!!check_glob("/a", glob_kind::path));
  BOOST_TEST(!check_glob("/a", glob_kind::name)); // only paths must be relative
  BOOST_TEST(!!check_glob("a/..", glob_kind::path));
  BOOST_TEST(!check_glob("a/..b", glob_kind::path));
}

BOOST_AUTO_TEST_CASE(long_inputs_match_in_linear_time) {
  std::string deep;
  for (int i = 0; i < 20000; ++i)
    deep += "aaaaaaaaaa/";
  deep += "b";
  BOOST_TEST(troupe::glob_match("**/*a*a*a*a*a*a*a*a*/b", deep, glob_kind::path));
  BOOST_TEST(!troupe::glob_match("**/*a*a*a*a*a*a*a*a*/c", deep, glob_kind::path));
}

BOOST_AUTO_TEST_CASE(path_arguments_are_normalized_or_refused) {
  using troupe::workspace_relative;
  BOOST_TEST(*workspace_relative("./a//b/") == "a/b");
  BOOST_TEST(*workspace_relative(".") == ".");
  BOOST_TEST(*workspace_relative("./") == ".");
  BOOST_TEST(*workspace_relative("a/./b") == "a/b");
  BOOST_TEST(!workspace_relative(""));
  BOOST_TEST(!workspace_relative("/etc/passwd"));
  BOOST_TEST(!workspace_relative("../x"));
  BOOST_TEST(!workspace_relative("a/../b"));
  BOOST_TEST(!workspace_relative("a/.."));
  BOOST_TEST(!workspace_relative(std::string_view{"a\0b", 3}));
}

BOOST_AUTO_TEST_CASE(hosts_come_from_urls_like_a_client_sees_them) {
  using troupe::host_of_url;
  BOOST_TEST(*host_of_url("https://API.Example.com:8443/x?y") == "api.example.com");
  BOOST_TEST(*host_of_url("http://api.example.com") == "api.example.com");
  BOOST_TEST(*host_of_url("http://user:pw@api.example.com/") == "api.example.com");
  BOOST_TEST(*host_of_url("http://api.example.com@evil.net/") == "evil.net");
  BOOST_TEST(*host_of_url("http://evil.net\\@api.example.com/") == "evil.net");
  BOOST_TEST(*host_of_url("http://evil.net#@api.example.com/") == "evil.net");
  BOOST_TEST(*host_of_url("http://[::1]:80/") == "::1");
  BOOST_TEST(*host_of_url("http://example.com./") == "example.com");
  BOOST_TEST(!host_of_url("api.example.com/x"));
  BOOST_TEST(!host_of_url("http://evil%2enet/"));
  BOOST_TEST(!host_of_url("http:///x"));
  BOOST_TEST(!host_of_url("http://a..b/"));
  BOOST_TEST(*troupe::normalize_host("Api.Example.com:443") == "api.example.com");
  BOOST_TEST(!troupe::normalize_host("a.com:x"));
}

// -- deciding -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(path_conditions_see_only_workspace_relative_paths) {
  auto p = must_parse(std::string{header}
                      + "[[rule]]\nid = \"docs\"\ntool = \"read_file\"\ndecision = \"allow\"\n"
                        "paths = [\"docs/**\"]\n"
                        "[[rule]]\nid = \"all\"\ntool = \"write_file\"\ndecision = \"allow\"\n"
                        "paths = [\"**\"]\n");
  auto v = troupe::decide(p, call("read_file", R"({"path":"docs/a/b.md"})"));
  BOOST_CHECK(v.decision == decision_kind::allow);
  BOOST_TEST(v.rule_id == "docs");
  BOOST_TEST(v.reason == "allowed by rule docs: path docs/a/b.md matches docs/**");
  BOOST_TEST(v.policy_version == p.version);
  BOOST_CHECK(troupe::decide(p, call("read_file", R"({"path":"./docs//x"})")).decision
              == decision_kind::allow);
  BOOST_CHECK(troupe::decide(p, call("read_file", R"({"path":"src/x"})")).decision
              == decision_kind::deny);
  BOOST_CHECK(troupe::decide(p, call("write_file", R"({"path":"src/x"})")).decision
              == decision_kind::allow);
  // Outside the workspace by spelling: no path glob matches, not even "**".
  for (const char* bad : {"../docs/x", "/work/docs/x", "docs/../../etc/passwd", "docs/../docs/x",
                          ""}) {
    BOOST_TEST_CONTEXT(bad) {
      for (const char* tool : {"read_file", "write_file"}) {
        auto d = troupe::decide(p, call(tool, json{{"path", bad}}.dump()));
        BOOST_CHECK(d.decision == decision_kind::deny);
        BOOST_TEST(d.rule_id == "(default)");
      }
    }
  }
  auto d = troupe::decide(p, call("write_file", R"({"path":"../x"})"));
  BOOST_TEST(d.reason.find("path '../x' is not a workspace-relative path") != std::string::npos,
             d.reason);
  BOOST_TEST(d.reason.find("strict mode denies unmatched calls") != std::string::npos, d.reason);
  // A non-string path cannot be checked.
  BOOST_CHECK(troupe::decide(p, call("write_file", R"({"path":7})")).decision == decision_kind::deny);
}

BOOST_AUTO_TEST_CASE(grant_rules_need_every_path_deny_rules_any) {
  auto p = must_parse(std::string{header} + "mode = \"enforce\"\ndefault = \"allow\"\n"
                      + "[[rule]]\nid = \"no-secrets\"\ntool = \"*\"\ndecision = \"deny\"\n"
                        "paths = [\"secrets/**\"]\n"
                        "[[rule]]\nid = \"src\"\ntool = \"copy\"\ndecision = \"ask\"\n"
                        "paths = [\"src/**\"]\n");
  auto both = troupe::decide(p, call("copy", R"({"paths":["src/a","secrets/k"]})"));
  BOOST_CHECK(both.decision == decision_kind::deny);
  BOOST_TEST(both.rule_id == "no-secrets");
  BOOST_TEST(both.reason == "denied by rule no-secrets: path secrets/k matches secrets/**");
  auto src = troupe::decide(p, call("copy", R"({"paths":["src/a"],"cwd":"src"})"));
  BOOST_CHECK(src.decision == decision_kind::ask);
  BOOST_TEST(src.reason == "held for approval by rule src: path src/a matches src/** (and 1 more)");
  // One path outside src/** and the grant rule does not apply: the default decides.
  auto mixed = troupe::decide(p, call("copy", R"({"paths":["src/a"],"dir":"other"})"));
  BOOST_TEST(mixed.rule_id == "(default)");
  BOOST_CHECK(mixed.decision == decision_kind::allow);
  // Every path-like key counts.
  for (const char* key : {"path", "paths", "file", "dir", "cwd"})
    BOOST_TEST(troupe::decide(p, call("x", json{{key, "secrets/a"}}.dump())).rule_id == "no-secrets");
}

BOOST_AUTO_TEST_CASE(a_call_without_paths_is_checked_as_the_workspace_root) {
  auto p = must_parse(std::string{header}
                      + "[[rule]]\nid = \"ls-src\"\ntool = \"list_dir\"\ndecision = \"allow\"\n"
                        "paths = [\"src/**\"]\n"
                        "[[rule]]\nid = \"shell-root\"\ntool = \"shell\"\ndecision = \"allow\"\n"
                        "paths = [\"**\"]\n");
  BOOST_CHECK(troupe::decide(p, call("list_dir", "{}")).decision == decision_kind::deny);
  BOOST_CHECK(troupe::decide(p, call("list_dir", R"({"path":"src"})")).decision == decision_kind::allow);
  BOOST_CHECK(troupe::decide(p, call("shell", R"({"argv":["ls"]})")).decision == decision_kind::allow);
}

BOOST_AUTO_TEST_CASE(command_prefix_and_exact_command) {
  auto p = must_parse(std::string{header}
                      + "[[rule]]\nid = \"shell-rm\"\ntool = \"shell\"\ndecision = \"deny\"\n"
                        "command_prefix = [\"rm\"]\n"
                        "[[rule]]\nid = \"git-status\"\ntool = \"shell\"\ndecision = \"allow\"\n"
                        "command_prefix = [\"git\", \"status\"]\n"
                        "[[rule]]\nid = \"ls\"\ntool = \"shell\"\ndecision = \"allow\"\n"
                        "command = [\"ls\", \"-la\"]\n");
  auto rm = troupe::decide(p, call("shell", R"({"argv":["rm","-rf","x"]})"));
  BOOST_CHECK(rm.decision == decision_kind::deny);
  BOOST_TEST(rm.reason == "denied by rule shell-rm: command prefix rm");
  BOOST_TEST(troupe::decide(p, call("shell", R"({"argv":["git","status","-s"]})")).rule_id
             == "git-status");
  BOOST_TEST(troupe::decide(p, call("shell", R"({"argv":["git","status"]})")).rule_id == "git-status");
  BOOST_TEST(troupe::decide(p, call("shell", R"({"argv":["git"]})")).rule_id == "(default)");
  BOOST_TEST(troupe::decide(p, call("shell", R"({"argv":["git","push"]})")).rule_id == "(default)");
  auto ls = troupe::decide(p, call("shell", R"({"argv":["ls","-la"]})"));
  BOOST_TEST(ls.rule_id == "ls");
  BOOST_TEST(ls.reason == "allowed by rule ls: command ls -la");
  BOOST_TEST(troupe::decide(p, call("shell", R"({"argv":["ls","-la","/"]})")).rule_id == "(default)");
  BOOST_TEST(troupe::decide(p, call("shell", R"({"argv":["ls"]})")).rule_id == "(default)");
  BOOST_TEST(troupe::decide(p, call("shell", R"({"argv":"ls -la"})")).rule_id == "(default)");
  BOOST_TEST(troupe::decide(p, call("shell", R"({"argv":["ls",1]})")).rule_id == "(default)");
  BOOST_TEST(troupe::decide(p, call("shell", "{}")).rule_id == "(default)");
}

BOOST_AUTO_TEST_CASE(hosts_match_url_and_host_arguments) {
  auto p = must_parse(std::string{header}
                      + "[[rule]]\nid = \"fetch\"\ntool = \"http_get\"\ndecision = \"ask\"\n"
                        "hosts = [\"*.internal.example\", \"api.example.com\"]\n");
  auto v = troupe::decide(p, call("http_get", R"({"url":"https://API.example.com/v1"})"));
  BOOST_CHECK(v.decision == decision_kind::ask);
  BOOST_TEST(v.reason
             == "held for approval by rule fetch: host api.example.com matches api.example.com");
  BOOST_TEST(v.approval_timeout_ms == 300000u);
  BOOST_TEST(troupe::decide(p, call("http_get", R"({"host":"db.internal.example:5432"})")).rule_id
             == "fetch");
  // Lists are checked element by element; a grant rule needs all of them.
  BOOST_TEST(troupe::decide(p, call("http_get", R"({"url":["https://api.example.com"]})")).rule_id
             == "fetch");
  for (const char* args : {R"({"url":"https://a.b.internal.example/"})",
                           R"({"url":"https://api.example.com@evil.net/"})",
                           R"({"url":"https://evil.net\\@api.example.com/"})",
                           R"({"url":"api.example.com"})",
                           R"({"url":["https://api.example.com","https://evil.net"]})",
                           R"({"url":"https://api.example.com","host":"evil.net"})", "{}"}) {
    BOOST_TEST_CONTEXT(args) {
      BOOST_TEST(troupe::decide(p, call("http_get", args)).rule_id == "(default)");
    }
  }
}

BOOST_AUTO_TEST_CASE(scope_by_agent_role_and_tenant) {
  auto p = must_parse(std::string{header}
                      + "[[rule]]\nid = \"a\"\ntool = \"echo\"\ndecision = \"allow\"\n"
                        "agents = [\"lead\", \"helper\"]\nroles = [\"dev\"]\n"
                        "tenants = [\"acme\"]\n");
  BOOST_TEST(troupe::decide(p, call("echo", "{}", "lead", "dev", "acme")).rule_id == "a");
  BOOST_TEST(troupe::decide(p, call("echo", "{}", "lead", "dev", "acme")).reason
             == "allowed by rule a: agent lead, role dev, tenant acme");
  BOOST_TEST(troupe::decide(p, call("echo", "{}", "helper", "dev", "acme")).rule_id == "a");
  BOOST_TEST(troupe::decide(p, call("echo", "{}", "other", "dev", "acme")).rule_id == "(default)");
  BOOST_TEST(troupe::decide(p, call("echo", "{}", "lead", "ops", "acme")).rule_id == "(default)");
  BOOST_TEST(troupe::decide(p, call("echo", "{}", "lead", "", "acme")).rule_id == "(default)");
  BOOST_TEST(troupe::decide(p, call("echo", "{}", "lead", "dev", "default")).rule_id == "(default)");
}

BOOST_AUTO_TEST_CASE(first_matching_rule_decides) {
  auto p = must_parse(std::string{header}
                      + "[[rule]]\nid = \"deny-env\"\ntool = \"read_file\"\ndecision = \"deny\"\n"
                        "paths = [\"**/.env\"]\n"
                        "[[rule]]\nid = \"read\"\ntool = \"read_*\"\ndecision = \"allow\"\n"
                        "[[rule]]\nid = \"everything\"\ntool = \"*\"\ndecision = \"ask\"\n");
  BOOST_TEST(troupe::decide(p, call("read_file", R"({"path":"a/.env"})")).rule_id == "deny-env");
  BOOST_TEST(troupe::decide(p, call("read_file", R"({"path":"a/b"})")).rule_id == "read");
  auto v = troupe::decide(p, call("read_file", R"({"path":"a/b"})"));
  BOOST_TEST(v.reason == "allowed by rule read: tool read_file");
  BOOST_TEST(troupe::decide(p, call("write_file", R"({"path":"a/.env"})")).rule_id == "everything");
}

BOOST_AUTO_TEST_CASE(grants_come_from_allow_and_ask_rules_only) {
  auto p = must_parse(std::string{header} + "approval_timeout_ms = 1000\n"
                      + "[[rule]]\nid = \"no\"\ntool = \"shell\"\ndecision = \"deny\"\n"
                        "command_prefix = [\"curl\"]\n"
                        "[[rule]]\nid = \"push\"\ntool = \"shell\"\ndecision = \"ask\"\n"
                        "command_prefix = [\"git\", \"push\"]\nsecrets = [\"GITHUB_TOKEN\"]\n"
                        "network = true\ntimeout_ms = 60000\n"
                        "[[rule]]\nid = \"make\"\ntool = \"shell\"\ndecision = \"ask\"\n"
                        "command = [\"make\"]\n");
  auto push = troupe::decide(p, call("shell", R"({"argv":["git","push"]})"));
  BOOST_CHECK(push.decision == decision_kind::ask);
  BOOST_TEST(push.secrets == std::vector<std::string>{"GITHUB_TOKEN"},
             boost::test_tools::per_element());
  BOOST_TEST(push.network);
  BOOST_TEST(push.approval_timeout_ms == 60000u);
  auto make = troupe::decide(p, call("shell", R"({"argv":["make"]})"));
  BOOST_TEST(make.approval_timeout_ms == 1000u);
  BOOST_TEST(!make.network);
  auto curl = troupe::decide(p, call("shell", R"({"argv":["curl","x"]})"));
  BOOST_TEST(curl.secrets.empty());
  BOOST_TEST(!curl.network);
  BOOST_TEST(curl.approval_timeout_ms == 0u);
}

BOOST_AUTO_TEST_CASE(modes_decide_unmatched_calls_and_audit_only_reports) {
  const std::string rules = "[[rule]]\nid = \"rm\"\ntool = \"shell\"\ndecision = \"deny\"\n"
                            "command_prefix = [\"rm\"]\n"
                            "[[rule]]\nid = \"ok\"\ntool = \"echo\"\ndecision = \"allow\"\n"
                            "[[rule]]\nid = \"q\"\ntool = \"http_get\"\ndecision = \"ask\"\n";
  auto mode = [&](const char* m, const char* d) {
    return must_parse(std::string{header} + "mode = \"" + m + "\"\ndefault = \"" + d + "\"\n"
                      + rules);
  };
  auto rm = call("shell", R"({"argv":["rm","x"]})");
  auto other = call("other");

  auto enforce_allow = mode("enforce", "allow");
  BOOST_CHECK(troupe::decide(enforce_allow, other).decision == decision_kind::allow);
  BOOST_TEST(troupe::decide(enforce_allow, other).reason
             == "no rule matched tool 'other'; the policy default is allow");
  BOOST_CHECK(troupe::decide(enforce_allow, rm).decision == decision_kind::deny);
  auto enforce_ask = mode("enforce", "ask");
  BOOST_CHECK(troupe::decide(enforce_ask, other).decision == decision_kind::ask);
  BOOST_TEST(troupe::decide(enforce_ask, other).approval_timeout_ms == 300000u);

  std::vector<troupe::policy_warning> w;
  auto strict = parse_text(std::string{header} + "mode = \"strict\"\ndefault = \"allow\"\n" + rules,
                      &w);
  BOOST_REQUIRE(strict);
  BOOST_TEST(w.size() == 1u);
  auto s = troupe::decide(*strict, other);
  BOOST_CHECK(s.decision == decision_kind::deny);
  BOOST_TEST(s.rule_id == "(default)");
  BOOST_TEST(s.reason == "no rule matched tool 'other'; strict mode denies unmatched calls");
  BOOST_CHECK(troupe::decide(*strict, call("echo")).decision == decision_kind::allow);

  auto audit = mode("audit", "deny");
  auto a = troupe::decide(audit, rm);
  BOOST_CHECK(a.decision == decision_kind::allow);
  BOOST_TEST(a.would_deny);
  BOOST_TEST(a.rule_id == "rm");
  BOOST_TEST(a.reason == "audit: would be denied by rule rm: command prefix rm");
  auto ua = troupe::decide(audit, other);
  BOOST_CHECK(ua.decision == decision_kind::allow);
  BOOST_TEST(ua.would_deny);
  BOOST_TEST(ua.rule_id == "(default)");
  auto ok = troupe::decide(audit, call("echo"));
  BOOST_TEST(!ok.would_deny);
  auto q = troupe::decide(audit, call("http_get", R"({"url":"https://x.y"})"));
  BOOST_CHECK(q.decision == decision_kind::allow);
  BOOST_TEST(!q.would_deny);
  BOOST_TEST(q.approval_timeout_ms == 0u);
  BOOST_TEST(q.reason.rfind("audit: would be held for approval by rule q", 0) == 0, q.reason);
  BOOST_TEST(!troupe::decide(mode("audit", "allow"), other).would_deny);
}

// -- version ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(version_ignores_formatting_but_not_content) {
  const auto base = must_parse(example).version;
  // Comments, blank lines, spacing, key order, number spelling.
  std::string same = "# comment\n\nversion=1\n  default   =   \"ask\"  # trailing\n"
                     "mode = \"enforce\"\napproval_timeout_ms = 120_000\n";
  std::string text{example};
  same += text.substr(text.find("[[rule]]"));
  BOOST_TEST(must_parse(same).version == base);
  auto reordered = std::string{example};
  auto at = reordered.find("decision = \"allow\"\npaths = [\"**\"]");
  reordered.replace(at, std::string{"decision = \"allow\"\npaths = [\"**\"]"}.size(),
                    "paths = [ \"**\" ]\ndecision='allow'");
  BOOST_TEST(must_parse(reordered).version == base);
  BOOST_TEST(must_parse(header).version == must_parse("version = 1\nmode = \"strict\"\n"
                                                     "default = \"deny\"\n"
                                                     "approval_timeout_ms = 300000\n")
                                             .version);

  // Any change of a value changes the version.
  std::vector<std::pair<std::string, std::string>> edits = {
    {"mode = \"enforce\"", "mode = \"audit\""},
    {"default = \"ask\"", "default = \"allow\""},
    {"approval_timeout_ms = 120000", "approval_timeout_ms = 120001"},
    {"id = \"read-anything\"", "id = \"read-everything\""},
    {"tool = \"read_file\"", "tool = \"read_*\""},
    {"decision = \"ask\"", "decision = \"deny\""},
    {"paths = [\"**\"]", "paths = [\"src/**\"]"},
    {"agents = [\"lead\"]", "agents = [\"lead\", \"x\"]"},
    {"command_prefix = [\"git\", \"status\"]", "command_prefix = [\"git\"]"},
    {"command = [\"ls\", \"-la\"]", "command = [\"ls\"]"},
    {"secrets = [\"GITHUB_TOKEN\"]", "secrets = [\"GH\"]"},
    {"network = true", "network = false"},
    {"roles = [\"dev\", \"ops\"]", "roles = [\"ops\", \"dev\"]"},
    {"tenants = [\"acme\"]", "tenants = [\"acme2\"]"},
    {"api.example.com", "api2.example.com"},
    {"timeout_ms = 60000", "timeout_ms = 60001"},
  };
  for (const auto& [from, to] : edits) {
    BOOST_TEST_CONTEXT(from) {
      auto edited = std::string{example};
      auto pos = edited.find(from);
      BOOST_REQUIRE(pos != std::string::npos);
      edited.replace(pos, from.size(), to);
      BOOST_TEST(must_parse(edited).version != base);
    }
  }
  // Swapping two rules changes the version: order decides.
  auto p = must_parse(example);
  std::swap(p.rules[0], p.rules[1]);
  BOOST_TEST(troupe::policy_hash(p) != base);
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

// -- default policy -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(default_policy_allows_builtin_tools_inside_the_workspace) {
  auto p = troupe::default_policy();
  BOOST_CHECK(p.mode == policy_mode::strict);
  BOOST_TEST(is_hex16(p.version));
  BOOST_TEST(p.version == troupe::default_policy().version);
  BOOST_TEST(p.version == troupe::policy_hash(p));
  BOOST_TEST(troupe::find_shadowed_rules(p).empty());
  auto allowed = [&](const char* tool, const char* args) {
    return troupe::decide(p, call(tool, args)).decision == decision_kind::allow;
  };
  BOOST_TEST(allowed("read_file", R"({"path":"a.txt"})"));
  BOOST_TEST(allowed("write_file", R"({"path":"dir/a.txt","content":"x"})"));
  BOOST_TEST(allowed("append_file", R"({"path":"log.txt","content":"x"})"));
  BOOST_TEST(!allowed("append_file", R"({"path":"../log.txt","content":"x"})"));
  BOOST_TEST(allowed("list_dir", "{}"));
  BOOST_TEST(allowed("list_dir", R"({"path":"."})"));
  BOOST_TEST(allowed("echo", R"({"anything":1})"));
  BOOST_TEST(allowed("complete", R"({"status":"success","answer":"x"})"));
  BOOST_TEST(!allowed("read_file", R"({"path":"../a.txt"})"));
  BOOST_TEST(!allowed("write_file", R"({"path":"/etc/passwd","content":"x"})"));
  BOOST_TEST(!allowed("list_dir", R"({"path":"a/../.."})"));
  BOOST_TEST(!allowed("shell", R"({"argv":["ls"]})"));
  BOOST_TEST(!allowed("http_get", R"({"url":"https://example.com"})"));
  BOOST_TEST(troupe::decide(p, call("read_file", R"({"path":"a.txt"})")).rule_id == "builtin-read_file");
}

BOOST_AUTO_TEST_SUITE_END()
