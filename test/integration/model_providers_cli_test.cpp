// `troupe run` against real wire formats: the loopback model server speaks
// OpenAI Chat Completions, Anthropic Messages and Ollama's /api/chat; each
// dialect, streaming and not, drives a tool-using run to completion, and
// the run replays identical without any server.

#define BOOST_TEST_MODULE model_providers_cli
#include <boost/test/unit_test.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "test/support/model_server.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"

using troupe::test::model_server;
using troupe::test::run_command;
using troupe::test::temp_dir;
using json = nlohmann::json;

namespace {

// Two replies: an echo call, then complete with the echo's result in mind.
json tool_using_script(const std::string& dialect) {
  return {{dialect,
           {{{"tool_calls", {{{"name", "echo"}, {"arguments", {{"greeting", "hi"}}}}}},
             {"usage", {{"input", 120}, {"output", 12}}},
             {"chunks", 3}},
            {{"text", "All done."},
             {"tool_calls",
              {{{"name", "complete"},
                {"arguments", {{"status", "success"}, {"answer", "echoed hi"}}}}}},
             {"usage", {{"input", 180}, {"output", 20}}},
             {"chunks", 4}}}}};
}

std::string base_url(const std::string& dialect, const model_server& server) {
  return dialect == "openai" ? server.url("/v1") : server.url();
}

std::string scenario(const std::string& dialect, const std::string& url, bool stream) {
  return "[run]\nagent = \"lead\"\ntask = \"Say hi through echo, then finish.\"\n"
         "[endpoints.peer]\nprovider = \"" + dialect + "\"\nbase_url = \"" + url + "\"\n"
         "stream = " + (stream ? "true" : "false") + "\n"
         "input_usd_per_mtok = 2.0\noutput_usd_per_mtok = 10.0\n"
         + (dialect == "anthropic" ? "api_key_env = \"TROUPE_TEST_KEY\"\n" : "")
         + "[models.m]\nroute = [\"peer:test-model\"]\n"
           "[agents.lead]\nmodel = \"m\"\ntools = [\"echo\", \"complete\"]\n";
}

void runs_and_replays(const std::string& dialect, bool stream) {
  temp_dir dir("troupe-providers");
  ::setenv("TROUPE_TEST_KEY", "sk-ant-test-key-123", 1);
  json script = tool_using_script(dialect);
  if (dialect == "anthropic")
    script["api_key"] = "sk-ant-test-key-123";
  model_server server(script, dir.path.string(), "peer");
  auto scn = dir.file("scenario.toml");
  std::ofstream(scn) << scenario(dialect, base_url(dialect, server), stream);
  auto db = dir.file("journal.db");

  auto run = run_command({TROUPE_BIN, "run", scn, "--db", db, "--json"});
  BOOST_TEST_REQUIRE(run.exit_code == 0, run.err << run.out);
  auto result = json::parse(run.out);
  BOOST_TEST(result["status"] == "completed");
  BOOST_TEST(result["answer"] == "echoed hi");
  BOOST_TEST(result["input_tokens"] == 300);
  BOOST_TEST(result["output_tokens"] == 32);
  // 300 × 2 + 32 × 10 micro-USD.
  BOOST_TEST(result["cost_micro_usd"] == 920);

  // The chat requests; the endpoint's periodic check (its model listing,
  // GETs) is logged too.
  std::vector<json> requests;
  for (auto& r : server.requests())
    if (r["method"] == "POST")
      requests.push_back(r);
  BOOST_REQUIRE_EQUAL(requests.size(), 2u);
  for (auto& r : requests) {
    BOOST_TEST(r["status"] == 200);
    BOOST_TEST(r["stream"] == stream);
    BOOST_TEST(r["ended"] == "complete");
  }
  // The second request carries the echo's result, keyed to its call.
  auto body = requests[1]["body"].dump();
  BOOST_TEST(body.find("greeting") != std::string::npos, body);

  std::string run_id = result["run_id"];
  auto replay = run_command({TROUPE_BIN, "replay", run_id, "--db", db});
  BOOST_TEST(replay.exit_code == 0, replay.out << replay.err);
  BOOST_TEST(replay.out.find("identical") != std::string::npos, replay.out);

  auto show = run_command({TROUPE_BIN, "show", run_id, "--db", db});
  BOOST_TEST(show.exit_code == 0, show.err);
  BOOST_TEST(show.out.find("peer:test-model") != std::string::npos, show.out);
  // The key never reaches the journal.
  auto exported = run_command({TROUPE_BIN, "export", run_id, "--db", db});
  BOOST_TEST(exported.out.find("sk-ant-test-key-123") == std::string::npos);
}

} // namespace

BOOST_AUTO_TEST_SUITE(model_providers)

BOOST_AUTO_TEST_CASE(openai_streaming) { runs_and_replays("openai", true); }
BOOST_AUTO_TEST_CASE(openai_whole_replies) { runs_and_replays("openai", false); }
BOOST_AUTO_TEST_CASE(anthropic_streaming) { runs_and_replays("anthropic", true); }
BOOST_AUTO_TEST_CASE(anthropic_whole_replies) { runs_and_replays("anthropic", false); }
BOOST_AUTO_TEST_CASE(ollama_streaming) { runs_and_replays("ollama", true); }
BOOST_AUTO_TEST_CASE(ollama_whole_replies) { runs_and_replays("ollama", false); }

// A local program per request, JSON on stdin, JSON lines on stdout; noise and
// unknown events in between are skipped.
BOOST_AUTO_TEST_CASE(command_provider_runs_a_local_program_per_request) {
  temp_dir dir("troupe-providers");
  auto program = dir.file("model.py");
  std::ofstream(program) << R"(import json, sys
request = json.load(sys.stdin)
print("loading weights...")
print(json.dumps({"type": "progress", "pct": 50}))
if request["turn"] == 1:
    call = {"type": "tool_call", "name": "echo", "arguments": {"greeting": "hi"}}
else:
    call = {"type": "tool_call", "name": "complete",
            "arguments": {"status": "success", "answer": "turn %d" % request["turn"]}}
print(json.dumps(call))
print(json.dumps({"type": "usage", "input": 50, "output": 5}))
print(json.dumps({"type": "done"}))
)";
  auto scn = dir.file("scenario.toml");
  std::ofstream(scn) << "[run]\nagent = \"lead\"\ntask = \"Echo, then finish.\"\n"
                        "[models.m]\nprovider = \"command\"\nmodel = \"local\"\n"
                        "command = [\"/usr/bin/python3\", \"" + program + "\"]\n"
                        "[agents.lead]\nmodel = \"m\"\ntools = [\"echo\", \"complete\"]\n";
  auto db = dir.file("journal.db");
  auto run = run_command({TROUPE_BIN, "run", scn, "--db", db, "--json"});
  BOOST_TEST_REQUIRE(run.exit_code == 0, run.err << run.out);
  auto result = json::parse(run.out);
  BOOST_TEST(result["answer"] == "turn 2");
  BOOST_TEST(result["input_tokens"] == 100);
  std::string run_id = result["run_id"];
  auto replay = run_command({TROUPE_BIN, "replay", run_id, "--db", db});
  BOOST_TEST(replay.exit_code == 0, replay.out << replay.err);
}

BOOST_AUTO_TEST_CASE(progress_shows_the_reply_text_as_it_streams) {
  temp_dir dir("troupe-providers");
  model_server server(tool_using_script("openai"), dir.path.string(), "peer");
  auto scn = dir.file("scenario.toml");
  std::ofstream(scn) << scenario("openai", server.url("/v1"), true);
  auto run = run_command({TROUPE_BIN, "run", scn, "--db", dir.file("j.db"), "--progress"});
  BOOST_TEST_REQUIRE(run.exit_code == 0, run.err << run.out);
  // The streamed text, on the model's line of the live view.
  BOOST_TEST(run.err.find("model         All done.") != std::string::npos, run.err);
}

// Cost is a budget like tokens: spending it starts the recovery turn.
BOOST_AUTO_TEST_CASE(max_cost_usd_is_a_limit) {
  temp_dir dir("troupe-providers");
  model_server server(tool_using_script("openai"), dir.path.string(), "peer");
  auto scn = dir.file("scenario.toml");
  // The first reply costs 120 × 2 + 12 × 10 = 360 micro-USD.
  std::ofstream(scn) << scenario("openai", server.url("/v1"), true)
                     << "[limits]\nmax_cost_usd = 0.0003\n";
  auto run = run_command({TROUPE_BIN, "run", scn, "--db", dir.file("j.db"), "--json"});
  BOOST_TEST(run.exit_code == 2, run.err << run.out);
  auto result = json::parse(run.out);
  BOOST_TEST(result["status"] == "limit_reached");
  BOOST_TEST(result["reason"] == "max_cost");
}

BOOST_AUTO_TEST_CASE(a_missing_key_is_an_error_before_anything_is_sent) {
  temp_dir dir("troupe-providers");
  ::unsetenv("TROUPE_TEST_KEY");
  auto scn = dir.file("scenario.toml");
  std::ofstream(scn) << scenario("anthropic", "http://127.0.0.1:9", true);
  auto run = run_command({TROUPE_BIN, "run", scn, "--db", dir.file("j.db"), "--json"});
  BOOST_TEST(run.exit_code != 0);
  BOOST_TEST(run.err.find("TROUPE_TEST_KEY") != std::string::npos, run.err);
}

BOOST_AUTO_TEST_SUITE_END()
