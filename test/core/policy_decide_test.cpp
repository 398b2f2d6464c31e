// Deciding calls against a policy: globs, path/command/host/scope
// conditions, rule order, grants, modes, the policy version and the default
// policy. Parsing and validation are in policy_parse_test.cpp.

#include "core/policy.hpp"

#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "core/glob.hpp"
#include "schemas/errors.hpp"
#include "test/core/policy_test_support.hpp"

using namespace troupe::test::policy_support;
using nlohmann::json;
using troupe::decision_kind;
using troupe::glob_kind;
using troupe::policy_mode;

BOOST_AUTO_TEST_SUITE(policy_decide)

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
