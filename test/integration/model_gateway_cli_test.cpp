// The gateway through the CLI, against the loopback model server: the
// breaker's state survives in the journal database and `troupe models`
// shows it; tiers in `troupe show`; kill -9 during a streamed request, then
// `troupe resume` asks again and journals nothing twice; replay and what-if
// replay of HTTP runs never open a socket.

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test/integration/model_gateway_fixture.hpp"
#include "test/support/exported_events.hpp"
#include "test/support/run_command.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

json complete_step(const std::string& answer, json extra = json::object()) {
  extra["tool_calls"] = {{{"name", "complete"},
                          {"arguments", {{"status", "success"}, {"answer", answer}}}}};
  return extra;
}

std::string endpoint_toml(const std::string& name, const model_server& server,
                          const std::string& extra = "") {
  return "[endpoints." + name + "]\nprovider = \"openai\"\nbase_url = \"" + server.url("/v1")
         + "\"\n" + extra;
}

// A one-agent scenario over `models_toml` (the [endpoints] and [models.m]).
std::string write_scenario(const temp_dir& dir, const std::string& models_toml,
                           const std::string& run_extra = "") {
  auto path = dir.file("scenario.toml");
  std::ofstream(path) << "[run]\nagent = \"lead\"\ntask = \"Answer the question.\"\n"
                      << run_extra << models_toml
                      << "[agents.lead]\nmodel = \"m\"\ntools = [\"complete\"]\n";
  return path;
}

json run_json(const std::string& scenario, const std::string& db) {
  auto run = run_command({TROUPE_BIN, "run", scenario, "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(run.exit_code == 0, run.err << run.out);
  return json::parse(run.out);
}

std::vector<json> events_of(const std::string& run_id, const std::string& db) {
  return exported_events(TROUPE_BIN, run_id, db);
}

// `troupe models --json --db` rows by endpoint:model.
std::map<std::string, json> models_of(const std::string& db) {
  auto out = run_command({TROUPE_BIN, "models", "--json", "--db", db});
  BOOST_REQUIRE_MESSAGE(out.exit_code == 0, out.err);
  std::map<std::string, json> rows;
  for (auto& r : json::parse(out.out))
    rows[r["endpoint"].get<std::string>() + ":" + r["model"].get<std::string>()] = r;
  return rows;
}

void replays_identical(const std::vector<std::string>& argv) {
  auto replay = run_command(argv);
  BOOST_TEST(replay.exit_code == 0, replay.out << replay.err);
  BOOST_TEST(replay.out.find("identical") != std::string::npos, replay.out << replay.err);
}

// A listening socket on a loopback port: counts who connects to it.
class port_watch {
public:
  explicit port_watch(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd_ >= 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE_MESSAGE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0,
                          "bind " << port << ": " << std::strerror(errno));
    BOOST_REQUIRE(::listen(fd_, 16) == 0);
  }
  ~port_watch() { ::close(fd_); }

  /// Connections made so far (accepted and closed here).
  int connections() {
    int n = 0;
    for (int c; (c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0; ++n)
      ::close(c);
    return n;
  }

private:
  int fd_ = -1;
};

} // namespace

BOOST_AUTO_TEST_SUITE(model_gateway_cli)

// Run 1: a's 500 opens its breaker (breaker_failures = 1) and b answers;
// `troupe models` reads the open breaker from the journal database. Run 2,
// a new process after the cool-down: the half-open probe goes to a, which
// answers, and the closed breaker is what `troupe models` shows then.
BOOST_AUTO_TEST_CASE(breaker_state_is_kept_in_the_journal_and_shown) {
  temp_dir dir("troupe-gateway-cli");
  model_server server(
    {{"by_model",
      {{"m1", {{{"status", 500}}, complete_step("from a", {{"forever", true}})}},
       {"m2", {complete_step("from b", {{"forever", true}})}}}}},
    dir.path.string(), "server");
  auto scn = write_scenario(
    // The cool-down outlasts the first run and `troupe models` (which shows a
    // breaker whose cool-down ended as half open), also under ASan.
    dir, endpoint_toml("a", server, "breaker_failures = 1\nbreaker_cool_down_ms = 5000\n")
           + endpoint_toml("b", server) + "[models.m]\nroute = [\"a:m1\", \"b:m2\"]\n");
  auto db = dir.file("journal.db");

  auto first = run_json(scn, db);
  BOOST_TEST(first["status"] == "completed");
  BOOST_TEST(first["answer"] == "from b");
  auto attempts = of_kind(events_of(first["run_id"], db), "route_attempt");
  BOOST_REQUIRE_EQUAL(attempts.size(), 2u);
  BOOST_TEST(attempts[0]["outcome"] == "server_error");
  BOOST_TEST(attempts[1]["candidates"][0]["breaker"] == "open");
  BOOST_TEST(attempts[1]["chosen"] == 1);
  BOOST_TEST(attempts[1]["outcome"] == "answered");
  auto rows = models_of(db);
  BOOST_TEST(rows["a:m1"]["breaker"] == "open");
  BOOST_TEST(rows["a:m1"]["requests"] == 1);
  BOOST_TEST(rows["a:m1"]["failures"] == 1);
  BOOST_TEST(rows["b:m2"]["breaker"] == "closed");
  BOOST_TEST(rows["b:m2"]["requests"] == 1);
  BOOST_TEST(rows["b:m2"]["failures"] == 0);
  auto table = run_command({TROUPE_BIN, "models", "--db", db});
  BOOST_TEST(table.out.find("a:m1") != std::string::npos, table.out);
  BOOST_TEST(table.out.find(" open ") != std::string::npos, table.out);
  auto show = run_command({TROUPE_BIN, "show", first["run_id"], "--db", db});
  BOOST_TEST(show.out.find("a:m1 (first healthy in order) -> server_error") != std::string::npos,
             show.out);

  // The journaled cool-down's end, waited for on the clock the gateway uses.
  auto open_until = std::stoll(attempts[1]["candidates"][0]["open_until_us"].get<std::string>());
  while (system_clock_us() < open_until + 10'000)
    std::this_thread::sleep_for(10ms);
  auto second = run_json(scn, db);
  BOOST_TEST(second["answer"] == "from a");
  auto probe = of_kind(events_of(second["run_id"], db), "route_attempt");
  BOOST_REQUIRE_EQUAL(probe.size(), 1u);
  BOOST_TEST(probe[0]["candidates"][0]["breaker"] == "half_open");
  BOOST_TEST(probe[0]["reason"] == "half-open probe");
  BOOST_TEST(probe[0]["outcome"] == "answered");
  rows = models_of(db);
  BOOST_TEST(rows["a:m1"]["breaker"] == "closed");
  BOOST_TEST(rows["a:m1"]["requests"] == 2);
  BOOST_TEST(rows["a:m1"]["failures"] == 1);
  replays_identical({TROUPE_BIN, "replay", second["run_id"], "--db", db});
}

// A declared tier ([run] tier) routes to that tier's endpoint; `troupe show`
// names the tier and the journal the reason.
BOOST_AUTO_TEST_CASE(a_declared_tier_is_routed_and_shown) {
  temp_dir dir("troupe-gateway-cli");
  model_server server({{"by_model",
                        {{"ms", {complete_step("small", {{"forever", true}})}},
                         {"mb", {complete_step("big", {{"forever", true}})}}}}},
                      dir.path.string(), "server");
  auto scn = write_scenario(dir,
                            endpoint_toml("small", server) + endpoint_toml("big", server)
                              + "[models.m]\nstrategy = \"tiers\"\n[models.m.tiers]\n"
                                "trivial = [\"small:ms\"]\nstandard = [\"small:ms\"]\n"
                                "complex = [\"big:mb\"]\n",
                            "tier = \"complex\"\n");
  auto db = dir.file("journal.db");
  auto r = run_json(scn, db);
  BOOST_TEST(r["answer"] == "big");
  auto attempts = of_kind(events_of(r["run_id"], db), "route_attempt");
  BOOST_REQUIRE_EQUAL(attempts.size(), 1u);
  BOOST_TEST(attempts[0]["tier"] == "complex");
  BOOST_TEST(attempts[0]["tier_reason"] == "declared");
  auto show = run_command({TROUPE_BIN, "show", r["run_id"], "--db", db});
  BOOST_TEST(show.out.find("(tiers, tier complex): big:mb") != std::string::npos, show.out);
  replays_identical({TROUPE_BIN, "replay", r["run_id"], "--db", db});
}

// kill -9 while the reply streams (first text out, the rest delayed a
// minute), then `troupe resume`: the request is asked again, the run
// completes, nothing is journaled twice and the run replays identical.
BOOST_AUTO_TEST_CASE(kill_during_a_streamed_request_then_resume) {
  temp_dir dir("troupe-gateway-cli");
  model_server server(
    {{"steps",
      {{{"raw", {openai_delta_event("thinking "), openai_delta_event("more"), "data: [DONE]\n\n"}},
        {"chunk_delay_ms", 60000}},
       complete_step("resumed answer")}}},
    dir.path.string(), "server");
  auto scn =
    write_scenario(dir, endpoint_toml("a", server) + "[models.m]\nroute = [\"a:m1\"]\n");
  auto db = dir.file("journal.db");

  // --progress prints the streamed text on stderr, here on the pipe: once
  // "thinking" shows, the request is in flight.
  auto child = spawn_with_stdout({"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", TROUPE_BIN, "run",
                                  scn, "--db", db, "--progress"});
  BOOST_REQUIRE(child.pid > 0);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (out.find("thinking") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    read_until(child, std::min(deadline, std::chrono::steady_clock::now() + 100ms), out);
  BOOST_REQUIRE_MESSAGE(out.find("thinking") != std::string::npos, out);
  // A model request may go out before its run_start is durable (nothing
  // irreversible waits for it); the kill must come after, or there is no
  // run to resume. On a loaded machine the commit can trail the stream.
  bool journaled = false;
  for (auto until = std::chrono::steady_clock::now() + 20s;
       !journaled && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(20ms))
    journaled = run_command({TROUPE_BIN, "runs", "--db", db, "--json"}).out.find("run_id")
                != std::string::npos;
  BOOST_REQUIRE_MESSAGE(journaled, "the run never reached the journal");
  ::kill(child.pid, SIGKILL);
  BOOST_TEST(wait_for(child) == 128 + SIGKILL);
  BOOST_REQUIRE(wait_for_ended(server, "m1", "client closed"));

  auto resumed = run_command({TROUPE_BIN, "resume", "--db", db, "--json"});
  BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err << resumed.out);
  auto runs = json::parse(resumed.out);
  BOOST_REQUIRE_EQUAL(runs.size(), 1u);
  BOOST_TEST(runs[0]["status"] == "completed");
  std::string run_id = runs[0]["run_id"];

  // The same request twice: the killed one closed, the resumed one answered.
  auto log = wait_for_chat_requests(server, 2);
  BOOST_REQUIRE_EQUAL(log.size(), 2u);
  BOOST_TEST(log[0]["ended"] == "client closed");
  BOOST_TEST(log[1]["ended"] == "complete");
  BOOST_TEST(log[0]["body"]["messages"] == log[1]["body"]["messages"]);

  auto events = events_of(run_id, db);
  for (size_t i = 0; i < events.size(); ++i)
    BOOST_TEST(events[i]["seq"] == i + 1);
  for (auto kind : {"run_start", "model_request", "route_attempt", "model_reply", "tool_call",
                    "tool_result", "completion"})
    BOOST_TEST(of_kind(events, kind).size() == 1u, kind);
  BOOST_TEST(of_kind(events, "completion")[0]["answer"] == "resumed answer");
  replays_identical({TROUPE_BIN, "replay", run_id, "--db", db});
}

// Replay and what-if replay of a run that used an HTTP endpoint, with the
// server gone and its port watched: identical, and nobody connects.
BOOST_AUTO_TEST_CASE(replay_and_what_if_replay_open_no_socket) {
  temp_dir dir("troupe-gateway-cli");
  auto server = std::make_unique<model_server>(
    json{{"steps", {complete_step("recorded answer")}}}, dir.path.string(), "server");
  auto port = server->port();
  auto scn =
    write_scenario(dir, endpoint_toml("a", *server) + "[models.m]\nroute = [\"a:m1\"]\n");
  auto db = dir.file("journal.db");
  auto r = run_json(scn, db);
  BOOST_TEST(r["answer"] == "recorded answer");
  server.reset(); // killed

  port_watch watch(port);
  replays_identical({TROUPE_BIN, "replay", r["run_id"], "--db", db});
  replays_identical({TROUPE_BIN, "replay", r["run_id"], "--db", db, "--with", scn});
  BOOST_TEST(watch.connections() == 0);
  // The watch does see a connection to the port.
  int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_TEST(::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(probe);
  BOOST_TEST(watch.connections() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
