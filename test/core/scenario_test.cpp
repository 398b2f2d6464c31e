#include "core/scenario.hpp"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "schemas/errors.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string> known_tools{"echo", "read_file", "write_file",
                                           "list_dir", "complete"};

const fs::path base_dir{"/srv/scenarios"};

constexpr const char* example = R"(
[run]
agent = "lead"
task  = "Write hello.txt"
tenant = "default"

[limits]
max_turns = 12
max_tool_calls = 50
max_tokens = 100000
deadline_ms = 120000
max_consecutive_errors = 3
max_parse_failures = 3

[workspace]
root = "work"

[models.script]
provider = "script"

[agents.lead]
model = "script"
instructions = "You are a careful assistant."
tools = ["echo", "read_file", "write_file", "list_dir", "complete"]

[[script.lead]]
tool_calls = [ { name = "write_file", args = { path = "hello.txt", content = "hi" } } ]

[[script.lead]]
tool_calls = [ { name = "complete", args = { status = "success", answer = "wrote hello.txt" } } ]
)";

// Seven fixed lines so a case appended below starts on line 8.
constexpr const char* minimal = R"([run]
agent = "lead"
[models.m]
provider = "script"
[agents.lead]
model = "m"
tools = ["echo", "complete"]
)";

caf::expected<troupe::scenario> parse(const std::string& text,
                                      const fs::path& dir = base_dir) {
  return troupe::parse_scenario(text, "demo.toml", dir, known_tools);
}

// Replies of agent lead in `minimal` + `script`, which must parse.
std::vector<troupe::scripted_reply> replies(const std::string& script) {
  auto scn = parse(std::string{minimal} + script);
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  return scn->scripts["lead"];
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
      auto scn = parse(c.text);
      BOOST_REQUIRE(!scn);
      BOOST_CHECK(scn.error() == troupe::runtime_errc::invalid_scenario);
      auto msg = troupe::render(scn);
      BOOST_TEST_MESSAGE(msg);
      BOOST_TEST(msg.rfind("demo.toml:" + c.where + ": ", 0) == 0, msg);
      BOOST_TEST(msg.find(c.key) != std::string::npos, msg);
      BOOST_TEST(msg.find("expected") != std::string::npos, msg);
    }
  }
}

std::string with(const std::string& extra) {
  return std::string{minimal} + extra;
}

} // namespace

BOOST_AUTO_TEST_SUITE(scenario)

// -- accepted input -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(example_parses_with_expected_values) {
  auto scn = parse(example);
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  BOOST_TEST(scn->source == "demo.toml");
  BOOST_TEST(scn->agent == "lead");
  BOOST_TEST(scn->task == "Write hello.txt");
  BOOST_TEST(scn->tenant == "default");
  BOOST_TEST(scn->limits.max_turns == 12u);
  BOOST_TEST(scn->limits.max_tool_calls == 50u);
  BOOST_TEST(scn->limits.max_tokens == 100000u);
  BOOST_TEST(scn->limits.deadline_ms == 120000u);
  BOOST_TEST(scn->limits.max_consecutive_errors == 3u);
  BOOST_TEST(scn->limits.max_parse_failures == 3u);
  BOOST_TEST(scn->workspace_root == fs::path{"/srv/scenarios/work"});
  BOOST_REQUIRE_EQUAL(scn->models.size(), 1u);
  BOOST_TEST(scn->models.at("script").name == "script");
  BOOST_TEST(scn->models.at("script").provider == "script");
  BOOST_REQUIRE_EQUAL(scn->agents.size(), 1u);
  const auto& lead = scn->agents.at("lead");
  BOOST_TEST(lead.name == "lead");
  BOOST_TEST(lead.model == "script");
  BOOST_TEST(lead.instructions == "You are a careful assistant.");
  BOOST_TEST(lead.tools == known_tools, boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(scn->scripts.size(), 1u);
  const auto& script = scn->scripts.at("lead");
  BOOST_REQUIRE_EQUAL(script.size(), 2u);
  BOOST_REQUIRE_EQUAL(script[0].tool_calls.size(), 1u);
  BOOST_TEST(script[0].tool_calls[0].name == "write_file");
  BOOST_TEST(script[0].tool_calls[0].id.empty());
  BOOST_TEST(json::parse(script[0].tool_calls[0].args_json)
             == json({{"path", "hello.txt"}, {"content", "hi"}}));
  BOOST_TEST(script[0].text.empty());
  BOOST_CHECK(script[0].failure == troupe::scripted_failure::none);
  BOOST_TEST(script[1].tool_calls[0].name == "complete");
  BOOST_TEST(json::parse(script[1].tool_calls[0].args_json)
             == json({{"status", "success"}, {"answer", "wrote hello.txt"}}));
}

BOOST_AUTO_TEST_CASE(absent_sections_take_defaults) {
  auto scn = parse(minimal);
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  troupe::run_limits defaults;
  BOOST_TEST(scn->task.empty());
  BOOST_TEST(scn->tenant == "default");
  BOOST_TEST(scn->limits.max_turns == defaults.max_turns);
  BOOST_TEST(scn->limits.max_tool_calls == defaults.max_tool_calls);
  BOOST_TEST(scn->limits.max_tokens == defaults.max_tokens);
  BOOST_TEST(scn->limits.deadline_ms == defaults.deadline_ms);
  BOOST_TEST(scn->limits.max_consecutive_errors
             == defaults.max_consecutive_errors);
  BOOST_TEST(scn->limits.max_parse_failures == defaults.max_parse_failures);
  BOOST_TEST(scn->agents.at("lead").instructions.empty());
  BOOST_TEST(scn->scripts.empty());
}

BOOST_AUTO_TEST_CASE(zero_is_allowed_for_error_tolerances_only) {
  auto scn = parse(with("[limits]\nmax_consecutive_errors = 0\n"
                        "max_parse_failures = 0\nmax_tokens = 9000000000\n"));
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  BOOST_TEST(scn->limits.max_consecutive_errors == 0u);
  BOOST_TEST(scn->limits.max_parse_failures == 0u);
  BOOST_TEST(scn->limits.max_tokens == 9000000000u);
}

BOOST_AUTO_TEST_CASE(complete_is_known_even_if_the_registry_omits_it) {
  auto scn = troupe::parse_scenario(minimal, "demo.toml", base_dir, {"echo"});
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  BOOST_TEST(scn->agents.at("lead").tools.size() == 2u);
}

BOOST_AUTO_TEST_CASE(args_tables_become_json) {
  auto r = replies(R"(
[[script.lead]]
tool_calls = [ { id = "c1", name = "echo", args = { s = "x", n = -7, big = 9007199254740993, f = 1.5, yes = true, no = false, list = [1, "two", [3], { four = 4 }], nested = { deeper = { k = "v" }, empty = {} }, when = 1979-05-27 } } ]
)");
  BOOST_REQUIRE_EQUAL(r.size(), 1u);
  BOOST_REQUIRE_EQUAL(r[0].tool_calls.size(), 1u);
  const auto& call = r[0].tool_calls[0];
  BOOST_TEST(call.id == "c1");
  BOOST_TEST(call.name == "echo");
  auto expected = json::parse(R"({"s":"x","n":-7,"big":9007199254740993,
    "f":1.5,"yes":true,"no":false,"list":[1,"two",[3],{"four":4}],
    "nested":{"deeper":{"k":"v"},"empty":{}},"when":"1979-05-27"})");
  BOOST_TEST(json::parse(call.args_json) == expected);
  BOOST_TEST(call.args_json.find(' ') == std::string::npos); // compact
  BOOST_TEST(json::parse(call.args_json)["big"].get<int64_t>()
             == 9007199254740993);
}

BOOST_AUTO_TEST_CASE(args_json_is_compact_with_sorted_keys) {
  auto r = replies("[[script.lead]]\ntool_calls = [ { name = \"echo\", args = { path = "
                   "\"a.txt\", opts = { append = true, lines = [1, 2] } } } ]\n");
  BOOST_TEST(r.at(0).tool_calls.at(0).args_json
             == R"({"opts":{"append":true,"lines":[1,2]},"path":"a.txt"})");
}

BOOST_AUTO_TEST_CASE(missing_args_become_an_empty_object) {
  auto r = replies("[[script.lead]]\ntool_calls = [ { name = \"echo\" } ]\n");
  BOOST_TEST(r.at(0).tool_calls.at(0).args_json == "{}");
}

BOOST_AUTO_TEST_CASE(raw_tool_calls_keep_text_verbatim) {
  auto r = replies(R"(
[[script.lead]]
text = "let me try"
raw_tool_calls = [ { id = "r1", name = "write_file", args_json = '{bad "json",' }, { name = "echo", args_json = "" } ]
)");
  BOOST_REQUIRE_EQUAL(r.at(0).tool_calls.size(), 2u);
  BOOST_TEST(r[0].text == "let me try");
  BOOST_TEST(r[0].tool_calls[0].id == "r1");
  BOOST_TEST(r[0].tool_calls[0].name == "write_file");
  BOOST_TEST(r[0].tool_calls[0].args_json == "{bad \"json\",");
  BOOST_TEST(r[0].tool_calls[1].args_json == "");
}

BOOST_AUTO_TEST_CASE(reply_kinds_and_usage) {
  auto r = replies(R"(
[[script.lead]]
text = "just talking"
usage = { input = 120, output = 30 }
[[script.lead]]
error = "timeout"
[[script.lead]]
error = "rate_limited"
usage = { input = 5 }
[[script.lead]]
error = "server_error"
[[script.lead]]
text = "calling"
tool_calls = [ { name = "echo", args = { s = "a" } }, { name = "complete", args = {} } ]
)");
  BOOST_REQUIRE_EQUAL(r.size(), 5u);
  BOOST_TEST(r[0].text == "just talking");
  BOOST_TEST(r[0].tool_calls.empty());
  BOOST_CHECK(r[0].failure == troupe::scripted_failure::none);
  BOOST_TEST(r[0].input_tokens == 120u);
  BOOST_TEST(r[0].output_tokens == 30u);
  BOOST_CHECK(r[1].failure == troupe::scripted_failure::timeout);
  BOOST_CHECK(r[2].failure == troupe::scripted_failure::rate_limited);
  BOOST_TEST(r[2].input_tokens == 5u);
  BOOST_TEST(r[2].output_tokens == 0u);
  BOOST_CHECK(r[3].failure == troupe::scripted_failure::server_error);
  BOOST_TEST(r[4].text == "calling");
  BOOST_REQUIRE_EQUAL(r[4].tool_calls.size(), 2u);
  BOOST_TEST(r[4].tool_calls[1].name == "complete");
  BOOST_TEST(r[4].tool_calls[1].args_json == "{}");
  BOOST_TEST(troupe::to_string(troupe::scripted_failure::rate_limited)
             == "rate_limited");
}

BOOST_AUTO_TEST_CASE(workspace_root_resolution) {
  auto root_of = [](const std::string& extra, const fs::path& dir) {
    auto scn = parse(with(extra), dir);
    BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
    return scn->workspace_root;
  };
  BOOST_TEST(root_of("", base_dir) == fs::path{"/srv/scenarios/work"});
  BOOST_TEST(root_of("[workspace]\nroot = \"out/ws\"\n", base_dir)
             == fs::path{"/srv/scenarios/out/ws"});
  BOOST_TEST(root_of("[workspace]\nroot = \"../shared/./ws/\"\n", base_dir)
             == fs::path{"/srv/shared/ws"});
  BOOST_TEST(root_of("[workspace]\nroot = \"/var/tmp/ws\"\n", base_dir)
             == fs::path{"/var/tmp/ws"});
  BOOST_TEST(root_of("[workspace]\nroot = \"/\"\n", base_dir) == fs::path{"/"});
  auto rel = root_of("", "scenarios");
  BOOST_TEST(rel.is_absolute());
  BOOST_TEST(rel == (fs::current_path() / "scenarios/work").lexically_normal());
  BOOST_TEST(root_of("", "") == fs::current_path() / "work");
}

BOOST_AUTO_TEST_CASE(load_scenario_reads_the_file_and_resolves_beside_it) {
  troupe::test::temp_dir tmp;
  auto dir = tmp.path;
  auto file = dir / "demo.toml";
  std::ofstream{file} << minimal << "[workspace]\nroot = \"ws\"\n";
  auto scn = troupe::load_scenario(file, known_tools);
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  BOOST_TEST(scn->source == file.string());
  BOOST_TEST(scn->workspace_root == dir / "ws");

  std::ofstream{file, std::ios::trunc} << minimal << "max_turns = 3\n";
  auto bad = troupe::load_scenario(file, known_tools);
  BOOST_REQUIRE(!bad);
  auto msg = troupe::render(bad.error());
  BOOST_TEST(msg.rfind(file.string() + ":8:1: ", 0) == 0, msg);

  auto missing = troupe::load_scenario(dir / "nope.toml", known_tools);
  BOOST_REQUIRE(!missing);
  BOOST_CHECK(missing.error() == troupe::runtime_errc::invalid_scenario);
  msg = troupe::render(missing.error());
  BOOST_TEST(msg.find((dir / "nope.toml").string()) != std::string::npos, msg);
  BOOST_TEST(msg.find("No such file") != std::string::npos, msg);

  auto is_dir = troupe::load_scenario(dir, known_tools);
  BOOST_REQUIRE(!is_dir);
  BOOST_TEST(troupe::render(is_dir.error()).find(dir.string())
             != std::string::npos);
  fs::remove_all(dir);
}

// -- rejected input -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(syntax_errors_carry_the_toml_position) {
  check_rejected({
    {"bad integer", with("[limits]\nmax_turns = 1a\n"), "9:14", "max_turns"},
    {"redefined key", with("[run]\n"), "8:1", "run"},
    {"int64 overflow", with("[limits]\nmax_tokens = 9223372036854775808\n"),
     "9:33", "max_tokens"},
  });
}

BOOST_AUTO_TEST_CASE(syntax_errors_quote_the_line_even_at_eof_or_crlf) {
  auto message = [](const std::string& text) {
    auto scn = parse(text);
    BOOST_REQUIRE(!scn);
    return troupe::render(scn.error());
  };
  auto crlf = message("[run]\r\nagent = \"lead\"\r\nmax_turns = x\r\n[limits]\r\n");
  BOOST_TEST(crlf.rfind("demo.toml:3:", 0) == 0, crlf);
  BOOST_TEST(crlf.find("in `max_turns = x`;") != std::string::npos, crlf);
  auto eof = message("[run]\nagent = \"lead");
  BOOST_TEST(eof.rfind("demo.toml:2:", 0) == 0, eof);
  BOOST_TEST(eof.find("expected valid TOML") != std::string::npos, eof);
  auto first = message("= 1");
  BOOST_TEST(first.rfind("demo.toml:1:1: ", 0) == 0, first);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_rejected_at_every_level) {
  check_rejected({
    {"run", with("[limits]\nmax_turn = 3\n"), "9:1", "'max_turn' in [limits]"},
    {"workspace", with("[workspace]\npath = \"x\"\n"), "9:1", "'path'"},
    {"model", with("[models.n]\nprovider = \"script\"\nurl = \"x\"\n"), "10:1",
     "'url' in [models.n]"},
    {"agent", with("[agents.b]\nmodel = \"m\"\ntool = []\n"), "10:1",
     "'tool' in [agents.b]"},
    {"reply", with("[[script.lead]]\ntext = \"a\"\ntexts = \"b\"\n"), "10:1",
     "'texts' in [[script.lead]] #1"},
    {"tool call",
     with("[[script.lead]]\ntool_calls = [ { name = \"echo\", arg = {} } ]\n"),
     "9:33", "'arg' in tool_calls[0]"},
    {"raw call uses args_json",
     with("[[script.lead]]\nraw_tool_calls = [ { name = \"e\", args = {} } ]"),
     "9:34", "'args'"},
    {"usage", with("[[script.lead]]\ntext = \"a\"\nusage = { in = 1 }\n"),
     "10:11", "'in'"},
  });
}

BOOST_AUTO_TEST_CASE(run_section_errors) {
  check_rejected({
    {"missing [run]", "[models.m]\nprovider = \"script\"\n", "1:1", "[run]"},
    {"missing agent", "[run]\ntask = \"t\"\n", "1:1", "'agent'"},
    {"agent wrong type", "[run]\nagent = 3\n", "2:9", "'agent' in [run]"},
    {"unknown agent",
     "[run]\nagent = \"boss\"\n[models.m]\nprovider = \"script\"\n"
     "[agents.lead]\nmodel = \"m\"\ntools = [\"complete\"]\n",
     "2:9", "'boss'"},
    {"empty tenant", "[run]\nagent = \"lead\"\ntenant = \"\"\n", "3:10",
     "'tenant'"},
    {"run not a table", "run = 1\n", "1:7", "'run'"},
  });
}

BOOST_AUTO_TEST_CASE(limit_errors) {
  check_rejected({
    {"string", with("[limits]\nmax_turns = \"x\"\n"), "9:13",
     "'max_turns' in [limits] is a string; expected an integer"},
    {"float", with("[limits]\ndeadline_ms = 1.5\n"), "9:15", "'deadline_ms'"},
    {"zero", with("[limits]\nmax_turns = 0\n"), "9:13", "'max_turns'"},
    {"negative", with("[limits]\nmax_tokens = -5\n"), "9:14", "'max_tokens'"},
    {"negative tolerance", with("[limits]\nmax_parse_failures = -1\n"), "9:22",
     "'max_parse_failures'"},
    {"over uint32", with("[limits]\nmax_tool_calls = 4294967296\n"), "9:18",
     "'max_tool_calls'"},
    {"limits not a table", "limits = 3\n" + std::string{minimal}, "1:10",
     "'limits'"},
  });
}

BOOST_AUTO_TEST_CASE(model_agent_and_workspace_errors) {
  check_rejected({
    {"unknown provider", with("[models.gpt]\nprovider = \"gpt4all\"\n"), "9:12",
     "'gpt4all'"},
    {"missing provider", with("[models.gpt]\n"), "8:1", "'provider'"},
    {"missing model",
     "[run]\nagent = \"lead\"\n[agents.lead]\ntools = [\"complete\"]\n", "3:1",
     "'model'"},
    {"unknown model", with("[agents.b]\nmodel = \"gpt\"\ntools = []\n"),
     "9:9", "'gpt'"},
    {"unknown tool",
     with("[agents.b]\nmodel = \"m\"\ntools = [\"complete\", \"rm_rf\"]\n"),
     "10:22", "'rm_rf'"},
    {"duplicate tool",
     with("[agents.b]\nmodel = \"m\"\ntools = [\"echo\", \"echo\", \"complete\"]"),
     "10:18", "'echo'"},
    {"tool not a string",
     with("[agents.b]\nmodel = \"m\"\ntools = [\"complete\", 3]\n"), "10:22",
     "'tools'"},
    {"complete missing", with("[agents.b]\nmodel = \"m\"\ntools = [\"echo\"]\n"),
     "10:9", "agent 'b' must list the 'complete' tool"},
    {"tools missing", with("[agents.b]\nmodel = \"m\"\n"), "8:1", "'tools'"},
    {"no agents", "[run]\nagent = \"a\"\n", "1:1", "[agents"},
    {"agent name", with("[agents.\"a b\"]\nmodel = \"m\"\n"), "8:9", "'a b'"},
    {"empty root", with("[workspace]\nroot = \"\"\n"), "9:8", "'root'"},
    {"root not a string", with("[workspace]\nroot = 1\n"), "9:8", "'root'"},
  });
}

BOOST_AUTO_TEST_CASE(script_errors) {
  const std::string s = "[[script.lead]]\n";
  check_rejected({
    {"unknown agent", with("[[script.ghost]]\ntext = \"a\"\n"), "8:10",
     "'ghost'"},
    {"not an array", with("[script]\nlead = 1\n"), "9:8", "'lead'"},
    {"empty reply", with(s + "usage = { input = 1 }\n"), "8:1",
     "tool_calls, raw_tool_calls, text, error"},
    {"tool_calls and error",
     with(s + "tool_calls = [ { name = \"echo\" } ]\nerror = \"timeout\"\n"),
     "10:9", "'error'"},
    {"tool_calls and raw",
     with(s + "tool_calls = [ { name = \"e\" } ]\n"
              "raw_tool_calls = [ { name = \"e\", args_json = \"\" } ]\n"),
     "10:18", "'raw_tool_calls'"},
    {"error and text", with(s + "error = \"timeout\"\ntext = \"x\"\n"), "10:8",
     "'text'"},
    {"unknown error kind", with(s + "error = \"overloaded\"\n"), "9:9",
     "'overloaded' in 'error'"},
    {"error kinds are listed", with(s + "error = \"overloaded\"\n"), "9:9",
     "expected one of timeout, rate_limited, server_error"},
    {"error not a string", with(s + "error = 1\n"), "9:9", "'error'"},
    {"empty tool_calls", with(s + "tool_calls = []\n"), "9:14", "'tool_calls'"},
    {"tool call not a table", with(s + "tool_calls = [ \"echo\" ]\n"), "9:16",
     "tool_calls[0]"},
    {"missing name", with(s + "tool_calls = [ { args = {} } ]\n"), "9:16",
     "'name'"},
    {"empty name", with(s + "tool_calls = [ { name = \"\" } ]\n"), "9:25",
     "'name'"},
    {"args not a table", with(s + "tool_calls = [ { name = \"e\", args = 1 } ]"),
     "9:37", "'args'"},
    {"nan in args",
     with(s + "tool_calls = [ { name = \"e\", args = { x = [nan] } } ]"),
     "9:44", "'args'"},
    {"missing args_json", with(s + "raw_tool_calls = [ { name = \"e\" } ]\n"),
     "9:20", "'args_json'"},
    {"duplicate id",
     with(s + "tool_calls = [ { id = \"a\", name = \"e\" }, "
              "{ id = \"a\", name = \"f\" } ]\n"),
     "9:49", "'a'"},
    {"negative usage", with(s + "text = \"a\"\nusage = { output = -1 }\n"),
     "10:20", "'output'"},
    {"usage not a table", with(s + "text = \"a\"\nusage = 5\n"), "10:9",
     "'usage'"},
    {"text not a string", with(s + "text = 5\n"), "9:8", "'text'"},
  });
}

BOOST_AUTO_TEST_CASE(without_a_policy_the_default_policy_applies) {
  auto scn = parse(minimal);
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  BOOST_TEST(scn->governance.version == troupe::default_policy().version);
}

BOOST_AUTO_TEST_CASE(an_inline_policy_is_parsed) {
  auto scn = parse(std::string{minimal} + R"([policy]
version = 1
mode = "enforce"
default = "deny"
[[policy.rule]]
id = "echo-ok"
tool = "echo"
decision = "allow"
)");
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  BOOST_TEST(scn->governance.rules.size() == 1u);
  BOOST_TEST(scn->governance.rules[0].id == "echo-ok");
  BOOST_TEST(troupe::to_string(scn->governance.mode) == "enforce");
}

BOOST_AUTO_TEST_CASE(a_policy_file_is_read_beside_the_scenario) {
  troupe::test::temp_dir tmp;
  std::ofstream{tmp.path / "rules.toml"} << "version = 1\n[[rule]]\nid = \"r\"\n"
                                             "tool = \"echo\"\ndecision = \"ask\"\n";
  auto scn = parse("policy = \"rules.toml\"\n" + std::string{minimal}, tmp.path);
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  BOOST_REQUIRE(scn->governance.rules.size() == 1u);
  BOOST_TEST(troupe::to_string(scn->governance.rules[0].decision) == "ask");
}

BOOST_AUTO_TEST_CASE(a_bad_policy_names_file_line_and_column) {
  auto scn = parse(std::string{minimal} + "[policy]\nversion = 1\nmood = \"x\"\n");
  BOOST_REQUIRE(!scn);
  auto msg = troupe::render(scn.error());
  BOOST_TEST(troupe::test::contains(msg, "demo.toml:"), msg);
  BOOST_TEST(troupe::test::contains(msg, "mood"), msg);
  auto wrong = parse("policy = 3\n" + std::string{minimal});
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(troupe::test::contains(troupe::render(wrong.error()), "'policy' must be a table"));
}

BOOST_AUTO_TEST_SUITE_END()
