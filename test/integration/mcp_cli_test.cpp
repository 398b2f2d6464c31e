// MCP tools through the real `troupe` binary, against real MCP servers from
// npm (@modelcontextprotocol/server-everything and server-filesystem, pinned
// in test/peers/mcp, installed by scripts/mcp-peers.sh) running in troupe's
// sandbox: `troupe mcp list`, a scripted run whose every call has a
// journaled decision first and which replays identical without the servers,
// paths outside the workspace refused by the server and by troupe; kill -9
// during an unsafe MCP call, then resume: it is not run again; a server that
// crashes mid-call fails the call and is started again.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <csignal>

#include <nlohmann/json.hpp>

#include "test/mcp/mcp_peers.hpp"
#include "troupe/runtime.hpp"
#include "test/support/exported_events.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string peers_bin(const std::string& name) {
  auto path = std::string(TROUPE_MCP_PEERS) + "/node_modules/.bin/" + name;
  BOOST_REQUIRE_MESSAGE(fs::exists(path), path << " is missing: run scripts/mcp-peers.sh");
  return path;
}

const std::string allow_all_mcp = R"(
[policy]
version = 1
[[policy.rule]]
id = "everything"
tool = "everything__*"
decision = "allow"
[[policy.rule]]
id = "fs"
tool = "fs__*"
decision = "allow"
[[policy.rule]]
id = "finish"
tool = "complete"
decision = "allow"
)";

// A scenario over both servers whose lead plays `script` (TOML
// [[script.lead]] tables).
std::string write_scenario(const temp_dir& dir, const std::string& script,
                           const std::string& policy = allow_all_mcp) {
  auto path = dir.file("mcp.toml");
  std::ofstream(path) << "[run]\nagent = \"lead\"\ntask = \"Use the MCP tools.\"\n"
                      << "[models.script]\nprovider = \"script\"\n"
                      << "[mcp.everything]\ncommand = [\"" << peers_bin("mcp-server-everything")
                      << "\"]\ntools = [\"echo\", \"get-sum\"]\n"
                      << "[mcp.fs]\ncommand = [\"" << peers_bin("mcp-server-filesystem")
                      << "\", \"${workspace}\"]\ntools = [\"read_text_file\", \"write_file\", "
                         "\"list_directory\"]\n"
                      << "[agents.lead]\nmodel = \"script\"\ntools = [\"everything__echo\", "
                         "\"everything__get-sum\", \"fs__read_text_file\", \"fs__write_file\", "
                         "\"complete\"]\n"
                      << policy << script;
  return path;
}

std::string call(const std::string& tool, const std::string& args) {
  return "[[script.lead]]\ntool_calls = [ { name = \"" + tool + "\", args = " + args + " } ]\n";
}

const std::string finish =
  "[[script.lead]]\ntool_calls = [ { name = \"complete\", args = { status = \"success\", "
  "answer = \"done\" } } ]\n";

std::vector<json> events_of(const std::string& run_id, const std::string& db) {
  return exported_events(TROUPE_BIN, run_id, db);
}

json run_json(const std::string& scenario, const std::string& db, int expected_exit = 0) {
  auto run = run_command({TROUPE_BIN, "run", scenario, "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(run.exit_code == expected_exit, run.exit_code << ": " << run.err << run.out);
  return json::parse(run.out);
}

void replays_identical(const std::string& run_id, const std::string& db) {
  auto replay = run_command({TROUPE_BIN, "replay", run_id, "--db", db, "--json"});
  BOOST_TEST(replay.exit_code == 0, replay.out << replay.err);
  BOOST_TEST(json::parse(replay.out)["identical"] == true, replay.out);
}

} // namespace

BOOST_AUTO_TEST_SUITE(mcp_cli)

BOOST_AUTO_TEST_CASE(mcp_list_shows_each_servers_tools_with_effects_and_schemas) {
  temp_dir dir("troupe-mcp-cli");
  auto scn = write_scenario(dir, finish);
  auto out = run_command({TROUPE_BIN, "mcp", "list", scn, "--json"});
  BOOST_REQUIRE_MESSAGE(out.exit_code == 0, out.err << out.out);
  std::map<std::string, json> tools;
  for (auto& server : json::parse(out.out))
    for (auto& t : server["tools"])
      tools[t["name"]] = t;
  BOOST_TEST(tools.size() == 5u, out.out);
  BOOST_TEST(tools.at("everything__echo")["effect"] == "pure");
  BOOST_TEST(tools.at("fs__read_text_file")["effect"] == "pure");
  // server-filesystem annotates write_file idempotentHint (and destructive).
  BOOST_TEST(tools.at("fs__write_file")["effect"] == "idempotent");
  BOOST_TEST(tools.at("everything__get-sum")["parameters"]["required"] == json({"a", "b"}));
  // `$schema` constrains nothing: gone without a word.
  BOOST_TEST(!tools.at("everything__echo")["parameters"].contains("$schema"));
  BOOST_TEST(tools.at("everything__echo")["dropped_keywords"].empty());
  auto text = run_command({TROUPE_BIN, "mcp", "list", scn});
  BOOST_TEST(text.exit_code == 0);
  BOOST_TEST(text.out.find("[mcp.fs]") != std::string::npos, text.out);
}

BOOST_AUTO_TEST_CASE(a_run_calls_real_servers_with_a_decision_first_and_replays_identical) {
  temp_dir dir("troupe-mcp-cli");
  auto note = (dir.path / "work" / "note.txt").string();
  auto scn = write_scenario(dir, call("everything__echo", "{ message = \"hello mcp\" }")
                                   + call("everything__get-sum", "{ a = 2, b = 40 }")
                                   + call("fs__write_file", "{ path = \"" + note
                                                              + "\", content = \"from troupe\" }")
                                   + call("fs__read_text_file", "{ path = \"" + note + "\" }")
                                   + finish);
  auto db = dir.file("journal.db");
  auto r = run_json(scn, db);
  BOOST_TEST(r["status"] == "completed", r.dump());
  std::string run_id = r["run_id"];
  std::ifstream written(note);
  std::string content((std::istreambuf_iterator<char>(written)), {});
  BOOST_TEST(content == "from troupe");

  auto events = events_of(run_id, db);
  // Every tool call's intent follows its journaled policy decision.
  std::set<std::string> decided;
  for (auto& e : events) {
    if (e["kind"] == "policy_decision")
      decided.insert(e["policy_decision"]["call_id"].get<std::string>());
    if (e["kind"] == "tool_call")
      BOOST_TEST(decided.count(e["tool_call"]["call_id"].get<std::string>()) == 1u, e.dump());
  }
  auto results = of_kind(events, "tool_result");
  BOOST_REQUIRE_EQUAL(results.size(), 5u);
  BOOST_TEST(results[0]["ok"] == true);
  BOOST_TEST(results[0]["output"].get<std::string>().find("hello mcp") != std::string::npos,
             results[0].dump());
  BOOST_TEST(results[1]["output"].get<std::string>().find("42") != std::string::npos,
             results[1].dump());
  BOOST_TEST(results[2]["ok"] == true, results[2].dump());
  BOOST_TEST(results[3]["output"] == "from troupe", results[3].dump());
  auto start = of_kind(events, "run_start").at(0);
  BOOST_TEST(start["external_tools"].size() == 4u, start.dump());
  replays_identical(run_id, db);
  // The journaled tools survive export and import: the copy replays too.
  auto exported = run_command({TROUPE_BIN, "export", run_id, "--db", db});
  BOOST_REQUIRE_EQUAL(exported.exit_code, 0);
  auto lines = dir.file("run.jsonl");
  std::ofstream(lines) << exported.out;
  auto copy = dir.file("copy.db");
  auto imported = run_command({TROUPE_BIN, "import", lines, "--db", copy});
  BOOST_REQUIRE_MESSAGE(imported.exit_code == 0, imported.err);
  replays_identical(run_id, copy);
}

BOOST_AUTO_TEST_CASE(paths_outside_the_workspace_are_refused_by_the_server_and_by_troupe) {
  temp_dir dir("troupe-mcp-cli");
  // A read outside: the server refuses it (and the sandbox has no such file
  // anyway); the run goes on.
  auto scn = write_scenario(dir, call("fs__read_text_file", "{ path = \"/etc/hostname\" }")
                                   + finish);
  auto db = dir.file("journal.db");
  auto r = run_json(scn, db);
  BOOST_TEST(r["status"] == "completed", r.dump());
  auto results = of_kind(events_of(r["run_id"], db), "tool_result");
  BOOST_REQUIRE(!results.empty());
  BOOST_TEST(results[0]["ok"] == false, results[0].dump());
  // A write outside: troupe's scope boundary ends the run before the server
  // is asked.
  temp_dir dir2("troupe-mcp-cli");
  auto scn2 = write_scenario(dir2, call("fs__write_file", "{ path = \"" + dir2.file("escaped")
                                                            + "\", content = \"x\" }")
                                     + finish);
  auto db2 = dir2.file("journal.db");
  auto r2 = run_json(scn2, db2, 1);
  BOOST_TEST(r2["status"] == "failed", r2.dump());
  BOOST_TEST(r2["reason"] == "out_of_scope", r2.dump());
  BOOST_TEST(!fs::exists(dir2.file("escaped")));
  BOOST_TEST(of_kind(events_of(r2["run_id"], db2), "tool_call").empty());
}

BOOST_AUTO_TEST_CASE(a_tool_the_server_does_not_offer_is_refused_before_the_run_starts) {
  temp_dir dir("troupe-mcp-cli");
  auto path = write_scenario(dir, finish);
  std::string text;
  {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto at = text.find("\"fs__write_file\"");
  text.replace(at, std::string("\"fs__write_file\"").size(), "\"fs__move_file\"");
  std::ofstream(path) << text;
  auto db = dir.file("journal.db");
  auto run = run_command({TROUPE_BIN, "run", path, "--db", db, "--json"});
  BOOST_TEST(run.exit_code != 0);
  BOOST_TEST(run.err.find("fs__move_file") != std::string::npos, run.err);
  BOOST_TEST(run.err.find("does not offer it") != std::string::npos, run.err);
}

// A server over Streamable HTTP (server-everything's own HTTP mode): the
// same governed path, through the shared HTTP client.
BOOST_AUTO_TEST_CASE(a_run_calls_a_streamable_http_server) {
  temp_dir dir("troupe-mcp-http");
  auto port = troupe::test::free_port();
  troupe::test::watched_process server{{peers_bin("mcp-server-everything"), "streamableHttp"},
                                       {"PORT=" + std::to_string(port)}};
  BOOST_REQUIRE_MESSAGE(server.wait_for("listening on port " + std::to_string(port)),
                        server.output());
  auto path = dir.file("http.toml");
  std::ofstream(path) << "[run]\nagent = \"lead\"\ntask = \"Echo over HTTP.\"\n"
                      << "[models.script]\nprovider = \"script\"\n"
                      << "[mcp.remote]\nurl = \"http://127.0.0.1:" << port << "/mcp\"\n"
                      << "tools = [\"echo\"]\n"
                      << "[agents.lead]\nmodel = \"script\"\n"
                      << "tools = [\"remote__echo\", \"complete\"]\n"
                      << "[policy]\nversion = 1\n[[policy.rule]]\nid = \"remote\"\n"
                         "tool = \"remote__*\"\ndecision = \"allow\"\n[[policy.rule]]\n"
                         "id = \"finish\"\ntool = \"complete\"\ndecision = \"allow\"\n"
                      << call("remote__echo", "{ message = \"over http\" }") << finish;
  auto db = dir.file("journal.db");
  auto r = run_json(path, db);
  BOOST_TEST(r["status"] == "completed", r.dump());
  auto results = of_kind(events_of(r["run_id"], db), "tool_result");
  BOOST_REQUIRE(!results.empty());
  BOOST_TEST(results[0]["ok"] == true, results[0].dump());
  BOOST_TEST(results[0]["output"].get<std::string>().find("over http") != std::string::npos,
             results[0].dump());
  replays_identical(r["run_id"], db);
}

// A scenario over test/peers/mcp_misbehaving.py (python3, bound read-only
// from its directory) started with `flags`.
std::string write_peer_scenario(const temp_dir& dir, const std::string& flags,
                                const std::string& tools, const std::string& script) {
  auto path = dir.file("peer.toml");
  std::ofstream(path) << "[run]\nagent = \"lead\"\ntask = \"Use the peer.\"\n"
                      << "[models.script]\nprovider = \"script\"\n"
                      << "[mcp.peer]\ncommand = [\"python3\", \"" << TROUPE_MCP_MISBEHAVING
                      << "\"" << flags << "]\ntools = [\"*\"]\n"
                      << "[agents.lead]\nmodel = \"script\"\ntools = [" << tools
                      << ", \"complete\"]\n"
                      << "[policy]\nversion = 1\n[[policy.rule]]\nid = \"peer\"\n"
                         "tool = \"peer__*\"\ndecision = \"allow\"\n[[policy.rule]]\n"
                         "id = \"finish\"\ntool = \"complete\"\ndecision = \"allow\"\n"
                      << script;
  return path;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The peer's `append` has no annotations, so it is unsafe: after kill -9
// with its intent journaled and no result, resume must not call it again.
BOOST_AUTO_TEST_CASE(kill_9_during_an_unsafe_mcp_call_then_resume_never_repeats_it) {
  temp_dir dir("troupe-mcp-kill");
  auto log = (dir.path / "work" / "appended.txt").string();
  auto scn = write_peer_scenario(
    dir, "", "\"peer__append\"",
    call("peer__append", "{ path = \"appended.txt\", text = \"once\", sleep_ms = 60000 }")
      + finish);
  auto db = dir.file("journal.db");
  auto child = spawn_with_stdout({TROUPE_BIN, "run", scn, "--db", db});
  BOOST_REQUIRE(child.pid > 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (read_text(log).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  BOOST_REQUIRE_MESSAGE(read_text(log) == "once\n", "the call never started");
  ::kill(child.pid, SIGKILL);
  BOOST_TEST(wait_for(child) == 128 + SIGKILL);
  std::string rest;
  read_to_end(child, rest);

  auto resumed = run_command({TROUPE_BIN, "resume", "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err << resumed.out);
  auto runs = json::parse(resumed.out);
  BOOST_REQUIRE_EQUAL(runs.size(), 1u);
  BOOST_TEST(runs[0]["status"] == "completed", runs.dump());
  BOOST_TEST(read_text(log) == "once\n"); // not appended twice
  auto events = events_of(runs[0]["run_id"], db);
  auto errors = of_kind(events, "error");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0]["code"] == "uncertain", errors[0].dump());
  BOOST_TEST(of_kind(events, "tool_call").size() == 2u); // append, complete
  replays_identical(runs[0]["run_id"], db);
}

// The peer exits in the middle of `boom`: the call fails naming the exit,
// the actor starts the server again, and the next call is answered.
BOOST_AUTO_TEST_CASE(a_server_that_crashes_mid_call_fails_the_call_and_is_restarted) {
  temp_dir dir("troupe-mcp-crash");
  auto scn = write_peer_scenario(dir, ", \"--crash-on-call\", \"slow\"",
                                 "\"peer__slow\", \"peer__echo\"",
                                 call("peer__slow", "{ ms = 10 }")
                                   + call("peer__echo", "{ text = \"after the crash\" }")
                                   + finish);
  auto db = dir.file("journal.db");
  auto r = run_json(scn, db);
  BOOST_TEST(r["status"] == "completed", r.dump());
  auto results = of_kind(events_of(r["run_id"], db), "tool_result");
  BOOST_REQUIRE_GE(results.size(), 2u);
  BOOST_TEST(results[0]["ok"] == false, results[0].dump());
  BOOST_TEST(results[0]["output"].get<std::string>().find("exit") != std::string::npos,
             results[0].dump());
  BOOST_TEST(results[1]["ok"] == true, results[1].dump());
  BOOST_TEST(results[1]["output"].get<std::string>().find("after the crash") != std::string::npos,
             results[1].dump());
  replays_identical(r["run_id"], db);
}

// Embedded: after a call the peer adds a tool and says so
// (notifications/tools/list_changed); the server actor lists again, and what
// the next run is offered has the new tool.
BOOST_AUTO_TEST_CASE(a_tool_list_change_reaches_the_runs_that_start_after_it) {
  temp_dir dir("troupe-mcp-changed");
  auto scn = write_peer_scenario(dir, ", \"--list-changed\"", "\"peer__echo\"",
                                 call("peer__echo", "{ text = \"first\" }") + finish);
  auto rt = troupe::runtime::create({dir.file("journal.db")});
  BOOST_REQUIRE_MESSAGE(rt, troupe::render(rt));
  auto sc = (*rt)->load_scenario(scn);
  BOOST_REQUIRE_MESSAGE(sc, troupe::render(sc));
  auto offered = [&] {
    std::set<std::string> names;
    auto offers = (*rt)->mcp_offers(*sc);
    BOOST_REQUIRE_MESSAGE(offers, troupe::render(offers));
    for (auto& t : offers->at(0).catalog.tools)
      names.insert(t.name);
    return names;
  };
  BOOST_TEST(offered().count("peer__added_later") == 0u);
  auto run = (*rt)->start(*sc, {});
  BOOST_REQUIRE_MESSAGE(run, troupe::render(run));
  BOOST_TEST(to_string(run->result().get().status) == "completed");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (offered().count("peer__added_later") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  BOOST_TEST(offered().count("peer__added_later") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
