// The pure side of MCP tools: qualified names, visibility, effect classes
// from annotations and [[effect]] overrides, the schema troupe enforces,
// what a policy grants a server's process, the scope boundary for absolute
// paths, [mcp.NAME] in scenarios, and external tools carried by run_start.

#include <boost/test/unit_test.hpp>

#include "core/builtin_tools.hpp"
#include "core/external_tools.hpp"
#include "core/mcp/mcp_catalog.hpp"
#include "core/mcp/mcp_grants.hpp"
#include "core/run_admission.hpp"
#include "core/run_state.hpp"
#include "core/scenario.hpp"
#include "schemas/errors.hpp"

using namespace troupe;
using nlohmann::json;

namespace troupe {
std::ostream& operator<<(std::ostream& os, tool_effect e) {
  return os << to_string(e);
}
} // namespace troupe

namespace {

mcp_tool tool(std::string name, json schema, mcp_annotations hints = {}) {
  mcp_tool t;
  t.name = std::move(name);
  t.description = "does " + t.name;
  t.input_schema = std::move(schema);
  t.annotations = hints;
  return t;
}

mcp_server_config server(std::vector<std::string> tools) {
  mcp_server_config s;
  s.name = "fs";
  s.command = {"mcp-server-filesystem"};
  s.tools = std::move(tools);
  return s;
}

policy policy_of(const std::string& text) {
  auto p = parse_policy(text, "p.toml");
  BOOST_REQUIRE_MESSAGE(p, render(p));
  return *p;
}

const std::string scenario_head = "[run]\nagent = \"lead\"\ntask = \"t\"\n"
                                  "[models.m]\nprovider = \"script\"\n";

caf::expected<scenario> parse_with(const std::string& mcp, const std::string& tools) {
  auto text = scenario_head + mcp + "[agents.lead]\nmodel = \"m\"\ntools = [" + tools + "]\n";
  return parse_scenario(text, "s.toml", "/srv/demo", {"echo"});
}

} // namespace

BOOST_AUTO_TEST_SUITE(mcp_catalog)

BOOST_AUTO_TEST_CASE(qualified_names_split_at_the_first_separator) {
  BOOST_TEST(mcp_qualified_name("fs", "read_file") == "fs__read_file");
  auto parts = split_mcp_name("fs__read__file");
  BOOST_REQUIRE(parts);
  BOOST_TEST(parts->first == "fs");
  BOOST_TEST(parts->second == "read__file");
  BOOST_TEST(!mcp_server_of("read_file"));
  BOOST_TEST(!mcp_server_of("__x"));   // empty server part
  BOOST_TEST(!mcp_server_of("a.b__x")); // not a server name
  BOOST_TEST(valid_mcp_server_name("everything-2"));
  BOOST_TEST(!valid_mcp_server_name("my_server"));
  BOOST_TEST(!valid_mcp_server_name(std::string(33, 'a')));
}

BOOST_AUTO_TEST_CASE(effects_follow_hints_unless_the_policy_overrides) {
  mcp_annotations read_only{true, false, true, false};
  mcp_annotations idempotent{false, true, true, false};
  mcp_annotations silent{};
  BOOST_TEST(mcp_effect("fs__read", read_only, {}) == tool_effect::pure);
  BOOST_TEST(mcp_effect("fs__put", idempotent, {}) == tool_effect::idempotent);
  BOOST_TEST(mcp_effect("fs__rm", silent, {}) == tool_effect::unsafe);
  std::vector<effect_override> overrides{{"fs__read*", tool_effect::unsafe, 1},
                                         {"fs__*", tool_effect::idempotent, 2}};
  BOOST_TEST(mcp_effect("fs__read", read_only, overrides) == tool_effect::unsafe);
  BOOST_TEST(mcp_effect("fs__rm", silent, overrides) == tool_effect::idempotent);
  BOOST_TEST(mcp_effect("git__rm", silent, overrides) == tool_effect::unsafe);
}

BOOST_AUTO_TEST_CASE(the_policy_parses_effect_tables_and_versions_them) {
  auto plain = policy_of("version = 1\n");
  auto with = policy_of("version = 1\n[[effect]]\ntool = \"fs__*\"\neffect = \"pure\"\n");
  BOOST_REQUIRE_EQUAL(with.effects.size(), 1u);
  BOOST_TEST(with.effects[0].tool == "fs__*");
  BOOST_TEST(with.effects[0].effect == tool_effect::pure);
  BOOST_TEST(with.version != plain.version);
  auto bad = parse_policy("version = 1\n[[effect]]\ntool = \"x\"\neffect = \"safe\"\n", "p.toml");
  BOOST_REQUIRE(!bad);
  BOOST_TEST(render(bad).find("p.toml:4:") != std::string::npos, render(bad));
  BOOST_TEST(render(bad).find("unknown effect 'safe'") != std::string::npos, render(bad));
  auto missing = parse_policy("version = 1\n[[effect]]\ntool = \"x\"\n", "p.toml");
  BOOST_REQUIRE(!missing);
  BOOST_TEST(render(missing).find("missing key 'effect'") != std::string::npos, render(missing));
}

BOOST_AUTO_TEST_CASE(schemas_keep_the_enforced_subset_and_list_what_is_dropped) {
  auto in = json::parse(R"({"$schema":"http://json-schema.org/draft-07/schema#",
    "type":"object","additionalProperties":false,
    "properties":{"path":{"type":"string","format":"uri","description":"p"},
                  "n":{"type":"number","minimum":1,"default":3},
                  "tags":{"type":"array","items":{"type":"string","pattern":"^a"}},
                  "opt":{"anyOf":[{"type":"string"},{"type":"null"}]}},
    "required":["path"]})");
  auto r = reduce_mcp_schema(in);
  BOOST_TEST(r.schema["properties"]["path"] == json::parse(R"({"type":"string","description":"p"})"));
  BOOST_TEST(r.schema["properties"]["n"]["minimum"] == 1);
  BOOST_TEST(r.schema["additionalProperties"] == false);
  BOOST_TEST(r.schema["properties"]["opt"] == json::object());
  BOOST_TEST(!r.schema.contains("$schema"));
  std::vector<std::string> expected{"/properties/n/default",
                                    "/properties/opt/anyOf", "/properties/path/format",
                                    "/properties/tags/items/pattern"};
  BOOST_TEST(r.dropped == expected, json(r.dropped).dump());
  auto odd = reduce_mcp_schema(json::parse(R"({"type":"object","required":"path"})"));
  BOOST_TEST(odd.schema == json::parse(R"({"type":"object"})"));
  BOOST_TEST(odd.dropped == std::vector<std::string>{"/"});
  BOOST_TEST(reduce_mcp_schema(json::object()).schema == json::parse(R"({"type":"object"})"));
}

BOOST_AUTO_TEST_CASE(catalogs_show_visible_tools_and_say_why_others_are_missing) {
  std::vector<mcp_tool> listed{tool("read_file", {{"type", "object"}}, {true, {}, {}, {}}),
                               tool("write_file", {{"type", "object"}}),
                               tool("list.dir", {{"type", "object"}}),
                               tool("read_file", {{"type", "object"}}),
                               tool("secret", {{"type", "object"}})};
  auto c = build_mcp_catalog(server({"read_*", "write_file", "list.dir"}), listed, {});
  BOOST_REQUIRE_EQUAL(c.tools.size(), 2u);
  BOOST_TEST(c.tools[0].name == "fs__read_file");
  BOOST_TEST(c.tools[0].effect == tool_effect::pure);
  BOOST_TEST(c.tools[1].name == "fs__write_file");
  BOOST_TEST(c.tools[1].effect == tool_effect::unsafe);
  BOOST_REQUIRE_EQUAL(c.skipped.size(), 2u);
  BOOST_TEST(c.skipped[0].find("'list.dir'") == 0, c.skipped[0]);
  BOOST_TEST(c.skipped[1].find("listed twice") != std::string::npos, c.skipped[1]);
  BOOST_TEST(build_mcp_catalog(server({}), listed, {}).tools.empty());
}

BOOST_AUTO_TEST_CASE(servers_get_only_what_covers_all_their_tools) {
  auto s = server({"*"});
  s.secrets = {"FS_TOKEN", "OTHER"};
  auto p = policy_of(R"(version = 1
[[rule]]
id = "one-tool"
tool = "fs__write_file"
decision = "allow"
network = true
secrets = ["OTHER"]
[[rule]]
id = "lead-only"
tool = "*"
decision = "allow"
agents = ["lead"]
network = true
[[rule]]
id = "server"
tool = "fs__*"
decision = "ask"
secrets = ["FS_TOKEN", "NOT_LISTED"]
[[rule]]
id = "deny-all"
tool = "*"
decision = "deny"
network = true
)");
  auto g = grants_for_server(p, s);
  BOOST_TEST(g.secrets == std::vector<std::string>{"FS_TOKEN"});
  BOOST_TEST(!g.network);
  BOOST_TEST(!g.unsandboxed);
  auto open = policy_of("version = 1\n[[rule]]\nid = \"all\"\ntool = \"*\"\ndecision = "
                        "\"allow\"\nnetwork = true\nunsandboxed = true\n");
  auto g2 = grants_for_server(open, s);
  BOOST_TEST(g2.network);
  BOOST_TEST(g2.unsandboxed);
}

BOOST_AUTO_TEST_CASE(the_scope_boundary_lets_mcp_tools_use_absolute_paths_inside) {
  auto args = [](const char* text) { return json::parse(text); };
  const std::string root = "/srv/work";
  BOOST_TEST(scope_violation("fs__write_file", false, args(R"({"path":"/srv/work/a.txt"})"), root)
               .empty());
  BOOST_TEST(scope_violation("fs__write_file", false, args(R"({"path":"notes/a"})"), root).empty());
  BOOST_TEST(!scope_violation("fs__write_file", false, args(R"({"path":"/etc/passwd"})"), root)
                .empty());
  BOOST_TEST(!scope_violation("fs__write_file", false, args(R"({"path":"/srv/workshop/x"})"), root)
                .empty());
  BOOST_TEST(!scope_violation("fs__write_file", false, args(R"({"path":"/srv/work/../x"})"), root)
                .empty());
  BOOST_TEST(!scope_violation("fs__move_file", false,
                              args(R"({"source":"/srv/work/a","destination":"/tmp/a"})"), root)
                .empty());
  BOOST_TEST(!scope_violation("fs__x", false, args(R"({"paths":["/srv/work/a","/root/b"]})"), root)
                .empty());
  // Pure tools are not judged (the server and the sandbox confine reads).
  BOOST_TEST(scope_violation("fs__read_file", true, args(R"({"path":"/etc/passwd"})"), root).empty());
  // Built-in tools keep their rule: absolute is outside.
  BOOST_TEST(!scope_violation("write_file", false, args(R"({"path":"/srv/work/a"})"), root).empty());
}

BOOST_AUTO_TEST_CASE(scenarios_declare_servers_and_agents_list_their_tools) {
  auto scn = parse_with(R"([mcp.fs]
command = ["node_modules/.bin/mcp-server-filesystem", "${workspace}"]
tools = ["read_*", "write_file"]
env = { DEBUG = "${workspace}/log" }
secrets = ["FS_TOKEN"]
read_only = ["node_modules"]
memory_mb = 2048
[mcp.remote]
url = "https://mcp.example.com/mcp"
tools = ["*"]
secrets = ["TOKEN"]
bearer_secret = "TOKEN"
)",
                        "\"fs__read_file\", \"remote__search\", \"complete\"");
  BOOST_REQUIRE_MESSAGE(scn, render(scn));
  auto& fs = scn->mcp_servers.at("fs");
  BOOST_TEST(fs.command[0] == "/srv/demo/node_modules/.bin/mcp-server-filesystem");
  BOOST_TEST(fs.command[1] == "/srv/demo/work");
  BOOST_TEST(fs.env.at("DEBUG") == "/srv/demo/work/log");
  BOOST_TEST(fs.read_only.at(0) == "/srv/demo/node_modules");
  BOOST_TEST(fs.limits.address_space_bytes == 2048 * sandbox_mib);
  BOOST_TEST(fs.limits.wall_timeout_ms == 0u);
  BOOST_TEST(scn->mcp_servers.at("remote").bearer_secret == "TOKEN");
  BOOST_TEST(scn->agents.at("lead").tools.at(1) == "remote__search");
}

BOOST_AUTO_TEST_CASE(bad_server_tables_are_errors_that_say_where) {
  auto check = [](const std::string& mcp, const std::string& tools, const std::string& needle) {
    auto scn = parse_with(mcp, tools);
    BOOST_REQUIRE_MESSAGE(!scn, "accepted: " << mcp);
    BOOST_TEST(render(scn).find("s.toml:") != std::string::npos, render(scn));
    BOOST_TEST(render(scn).find(needle) != std::string::npos, render(scn));
  };
  check("[mcp.fs]\ntools = [\"*\"]\n", "\"complete\"", "exactly one of 'command'");
  check("[mcp.fs]\ncommand = [\"x\"]\nurl = \"http://h/mcp\"\ntools = [\"*\"]\n", "\"complete\"",
        "exactly one of 'command'");
  check("[mcp.fs]\ncommand = [\"x\"]\n", "\"complete\"", "missing key 'tools'");
  check("[mcp.my_fs]\ncommand = [\"x\"]\ntools = [\"*\"]\n", "\"complete\"", "without '_'");
  check("[mcp.fs]\nurl = \"ftp://h\"\ntools = [\"*\"]\n", "\"complete\"", "http:// or https://");
  check("[mcp.fs]\nurl = \"http://h/mcp\"\ntools = [\"*\"]\nenv = { A = \"b\" }\n", "\"complete\"",
        "is for stdio servers");
  check("[mcp.fs]\ncommand = [\"x\"]\ntools = [\"[\"]\n", "\"complete\"", "tool pattern");
  check("[mcp.fs]\ncommand = [\"x\"]\ntools = [\"*\"]\nbearer_secret = \"T\"\n", "\"complete\"",
        "'secrets' does not list");
  check("[mcp.fs]\ncommand = [\"x\"]\ntools = [\"*\"]\n", "\"git__log\", \"complete\"",
        "no [mcp.git] table declares");
  check("[mcp.fs]\ncommand = [\"x\"]\ntools = [\"*\"]\nport = 3\n", "\"complete\"", "port");
}

BOOST_AUTO_TEST_CASE(run_start_carries_the_mcp_tools_the_agent_lists) {
  auto scn = parse_with("[mcp.fs]\ncommand = [\"x\"]\ntools = [\"*\"]\n",
                        "\"echo\", \"fs__read_file\", \"complete\"");
  BOOST_REQUIRE_MESSAGE(scn, render(scn));
  auto builtins = std::make_shared<tool_registry>();
  BOOST_REQUIRE(!register_builtin_tools(*builtins));
  auto catalog = build_mcp_catalog(scn->mcp_servers.at("fs"),
                                   {tool("read_file",
                                         json::parse(R"({"type":"object","properties":{"path":
                                                       {"type":"string","format":"x"}}})"),
                                         {true, {}, {}, {}}),
                                    tool("write_file", {{"type", "object"}})},
                                   {});
  std::vector<external_tool> offered;
  for (auto& t : catalog.tools)
    offered.push_back({t.name, t.description, t.parameters.dump(), std::string(to_string(t.effect))});
  auto registry = with_external_tools(builtins, offered);
  BOOST_REQUIRE_MESSAGE(registry, render(registry));
  auto start = admit_run(*scn, "", "", **registry, "s.toml");
  BOOST_REQUIRE_MESSAGE(start, render(start));
  BOOST_REQUIRE_EQUAL(start->external_tools.size(), 1u);
  auto& journaled = start->external_tools[0];
  BOOST_TEST(journaled.name == "fs__read_file");
  BOOST_TEST(journaled.effect == "pure");
  BOOST_TEST(json::parse(journaled.parameters_json)["properties"]["path"]
             == json::parse(R"({"type":"string"})"));
  // Replay and resume rebuild the same registry from the journal alone.
  auto rebuilt = with_external_tools(builtins, start->external_tools);
  BOOST_REQUIRE(rebuilt);
  auto* def = (*rebuilt)->find("fs__read_file");
  BOOST_REQUIRE(def);
  BOOST_TEST(def->effect == tool_effect::pure);
  BOOST_TEST(!invoke_tool(*def, json::object(), {}).ok);
  BOOST_TEST((*rebuilt)->find("fs__write_file") == nullptr);
  BOOST_TEST(with_external_tools(builtins, {}).value() == builtins);
  auto bad = with_external_tools(builtins, {{"fs__x", "", "{\"type\":\"object\"}", "risky"}});
  BOOST_REQUIRE(!bad);
  BOOST_TEST(render(bad).find("unknown effect 'risky'") != std::string::npos, render(bad));
  // A tool the server does not offer is an admission error naming the cause.
  auto missing = parse_with("[mcp.fs]\ncommand = [\"x\"]\ntools = [\"*\"]\n",
                            "\"fs__delete\", \"complete\"");
  BOOST_REQUIRE(missing);
  auto refused = admit_run(*missing, "", "", **registry, "s.toml");
  BOOST_REQUIRE(!refused);
  BOOST_TEST(render(refused).find("MCP server does not offer it") != std::string::npos,
             render(refused));
}

BOOST_AUTO_TEST_SUITE_END()
