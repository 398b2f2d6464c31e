// The command provider with real child processes (test/peers/command_model.py):
// a full reply among noise, failures, deadlines that kill and reap, cancel
// from another thread, output over the cap, stdin over the pipe buffer.
#include "net/command_process.hpp"
#include "net/command_provider.hpp"

#include <cerrno>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/support/processes.hpp"

using troupe::command_end;
using troupe::net::command_limits;
using troupe::net::command_outcome;
using troupe::net::command_process;
using namespace std::chrono_literals;

namespace {

const std::string model_script = std::string{TROUPE_PEERS} + "/command_model.py";

std::vector<std::string> model_argv(std::string mode, std::string arg = {}) {
  std::vector<std::string> argv{"python3", model_script, std::move(mode)};
  if (!arg.empty())
    argv.push_back(std::move(arg));
  return argv;
}

troupe::endpoint_config endpoint(std::string mode, std::string arg = {}) {
  troupe::endpoint_config e;
  e.name = "cli";
  e.provider = troupe::provider_kind::command;
  e.command = model_argv(std::move(mode), std::move(arg));
  e.input_usd_per_mtok = 1; // one micro-USD per token: easy to check
  e.output_usd_per_mtok = 1;
  return e;
}

troupe::model_call call_with(std::string user_text) {
  troupe::model_call c;
  c.run_id = "r-42";
  c.agent = "lead";
  c.model = "scripted-cli";
  c.turn = 2;
  c.request_index = 5;
  c.messages = {{troupe::chat_role::user, std::move(user_text), {}, {}}};
  return c;
}

troupe::net::command_call_result run_model(const troupe::endpoint_config& e,
                                           const troupe::model_call& c) {
  command_process proc;
  return troupe::net::run_command_model(e, c, proc);
}

// The child was reaped by run(): it is no child of ours any more.
bool reaped(pid_t pid) {
  return ::waitpid(pid, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

// Killed processes vanish shortly after the signal (init reaps the orphans).
bool gone_within(const std::string& marker, std::chrono::seconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!troupe::test::processes_with(marker).empty()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string unique_marker(const char* what) {
  return std::string{"troupe-cmd-test-"} + what + "-" + std::to_string(::getpid());
}

} // namespace

BOOST_AUTO_TEST_SUITE(command_process_runs)

BOOST_AUTO_TEST_CASE(a_full_reply_among_noise_lines_and_unknown_events) {
  auto e = endpoint("reply");
  auto res = run_model(e, call_with("hello"));
  auto& r = res.response;
  BOOST_TEST_REQUIRE(r.failure.empty(), r.failure << ": " << r.failure_detail);
  BOOST_TEST(r.text == "run=r-42 turn=2 last=hello"); // the request reached it
  BOOST_REQUIRE_EQUAL(r.tool_calls.size(), 2u);
  BOOST_TEST(r.tool_calls[0].call_id == "t1");
  BOOST_TEST(r.tool_calls[0].name == "echo");
  BOOST_TEST(r.tool_calls[0].args_json == R"({"x":1})");
  BOOST_TEST(r.tool_calls[1].call_id == "call_5_1");
  BOOST_TEST(r.tool_calls[1].name == "complete");
  BOOST_TEST(r.tokens.input == 12u);
  BOOST_TEST(r.tokens.output == 34u);
  BOOST_TEST(r.cost_micro_usd == 46u);
  BOOST_TEST(r.finish_reason == "tool_calls");
  BOOST_TEST(r.endpoint == "cli");
  BOOST_TEST(r.model == "scripted-cli");
  BOOST_TEST(r.latency_us > 0u);
  BOOST_TEST(r.first_token_us > 0u);
  BOOST_TEST(r.first_token_us <= r.latency_us);
  BOOST_TEST(res.stats.skipped_lines == 4u);  // banner, [1,2,3], text 42, after done
  BOOST_TEST(res.stats.unknown_events == 2u); // progress, no type
  BOOST_TEST(res.raw_stdout.find("model v1.2 starting up") == 0u);
  BOOST_CHECK(res.process.exit.end == command_end::exited);
  BOOST_TEST(res.process.exit.status == 0);
  BOOST_TEST(res.process.exit.stderr_tail == "warning: using the slow path\n");
  BOOST_TEST(res.process.stdin_complete);
  BOOST_TEST(reaped(res.process.pid));
}

BOOST_AUTO_TEST_CASE(exit_status_3_is_a_server_error_with_the_stderr_tail) {
  auto res = run_model(endpoint("exit3"), call_with("hi"));
  auto& r = res.response;
  BOOST_TEST(r.failure == "server_error");
  BOOST_TEST(r.failure_detail.find("exited with status 3") != std::string::npos);
  BOOST_TEST(r.failure_detail.find("model crashed: out of memory") != std::string::npos);
  BOOST_TEST(r.text.empty());
  BOOST_TEST(res.process.exit.stderr_tail.size() == command_limits{}.stderr_tail_bytes);
  BOOST_TEST(res.process.stderr_bytes > 20000u);
  BOOST_TEST(reaped(res.process.pid));
}

BOOST_AUTO_TEST_CASE(an_error_event_names_its_failure) {
  auto r = run_model(endpoint("error"), call_with("hi")).response;
  BOOST_TEST(r.failure == "rate_limited");
  BOOST_TEST(r.retry_after_ms == 1500u);
  BOOST_TEST(r.failure_detail.find("rate limited by upstream") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(exit_zero_without_done_is_a_server_error) {
  auto r = run_model(endpoint("nodone"), call_with("hi")).response;
  BOOST_TEST(r.failure == "server_error");
  BOOST_TEST(r.failure_detail.find("without a done event") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_program_that_cannot_start_is_a_connection_failure) {
  auto e = endpoint("reply");
  e.command = {"/nonexistent/troupe-model"};
  auto res = run_model(e, call_with("hi"));
  BOOST_TEST(res.response.failure == "connection");
  BOOST_TEST(res.response.failure_detail.find("/nonexistent/troupe-model") != std::string::npos);
  BOOST_TEST(res.process.pid == -1);
}

BOOST_AUTO_TEST_CASE(a_program_that_never_ends_is_killed_with_its_group_and_reaped) {
  auto marker = unique_marker("hang");
  command_process proc;
  command_limits limits;
  limits.total_ms = 700;
  limits.first_output_ms = 0;
  limits.idle_ms = 0;
  auto start = std::chrono::steady_clock::now();
  auto out = proc.run(model_argv("hang", marker), {}, "{}", limits, [](std::string_view) {});
  auto took = std::chrono::steady_clock::now() - start;
  BOOST_CHECK(out.exit.end == command_end::timed_out);
  BOOST_TEST(out.exit.detail.find("total limit of 700 ms") != std::string::npos);
  BOOST_CHECK(took >= 700ms);
  BOOST_CHECK(took < 10s);
  BOOST_TEST(reaped(out.pid));
  // The grandchild it started shared the group: killed too, not left behind.
  BOOST_TEST(gone_within(marker, 10s));
}

BOOST_AUTO_TEST_CASE(silence_after_output_hits_the_idle_limit) {
  auto e = endpoint("idle");
  e.timeouts.idle_ms = 300;
  auto res = run_model(e, call_with("hi"));
  BOOST_TEST(res.response.failure == "timeout");
  BOOST_TEST(res.response.failure_detail.find("idle limit") != std::string::npos);
  BOOST_TEST(res.process.stdout_bytes > 0u);
  BOOST_TEST(reaped(res.process.pid));
}

BOOST_AUTO_TEST_CASE(cancel_from_another_thread_kills_and_reaps) {
  command_process proc;
  std::promise<void> first_output;
  bool told = false;
  auto e = endpoint("slow");
  auto runner = std::async(std::launch::async, [&] {
    return proc.run(e.command, {}, "{\"messages\":[]}", command_limits{},
                    [&](std::string_view) {
                      if (!told)
                        first_output.set_value();
                      told = true;
                    });
  });
  BOOST_REQUIRE(first_output.get_future().wait_for(60s) == std::future_status::ready);
  auto canceled_at = std::chrono::steady_clock::now();
  proc.cancel();
  BOOST_REQUIRE(runner.wait_for(60s) == std::future_status::ready);
  auto out = runner.get();
  BOOST_CHECK(out.exit.end == command_end::canceled);
  BOOST_CHECK(std::chrono::steady_clock::now() - canceled_at < 10s);
  BOOST_TEST(reaped(out.pid));
  auto r = troupe::command_response(troupe::command_reply{}, out.exit);
  BOOST_TEST(r.failure == "canceled");
}

BOOST_AUTO_TEST_CASE(a_cancel_before_the_start_starts_nothing) {
  command_process proc;
  proc.cancel();
  proc.cancel(); // more than once is fine
  auto out = proc.run(model_argv("reply"), {}, "{}", command_limits{}, [](std::string_view) {});
  BOOST_CHECK(out.exit.end == command_end::canceled);
  BOOST_TEST(out.pid == -1);
}

BOOST_AUTO_TEST_CASE(output_over_the_cap_is_truncated_and_recorded) {
  constexpr uint64_t size = 3u << 20;
  auto res = run_model(endpoint("huge", std::to_string(size)), call_with("hi"));
  BOOST_TEST_REQUIRE(res.response.failure.empty(), res.response.failure_detail);
  BOOST_TEST(res.stats.truncated);
  BOOST_TEST(res.stats.raw_cap == 1u << 20);
  BOOST_TEST(res.raw_stdout.size() == 1u << 20);
  BOOST_TEST(res.stats.bytes >= size);
  BOOST_TEST(res.stats.bytes == res.process.stdout_bytes);
  BOOST_TEST(res.response.text.size() >= size * 9 / 10); // parsed past the cap
}

BOOST_AUTO_TEST_CASE(stdin_larger_than_the_pipe_buffer_is_written_fully) {
  std::string big(1u << 20, 'q');
  auto e = endpoint("stdin_size");
  auto res = run_model(e, call_with(big));
  BOOST_TEST_REQUIRE(res.response.failure.empty(), res.response.failure_detail);
  auto request = troupe::command_request_json(call_with(big), e);
  BOOST_REQUIRE(request);
  BOOST_TEST(res.response.text
             == std::to_string(request->size()) + " " + std::to_string(big.size()));
  BOOST_TEST(res.process.stdin_written == request->size());
  BOOST_TEST(res.process.stdin_complete);
}

BOOST_AUTO_TEST_CASE(a_program_that_writes_before_it_reads_does_not_deadlock) {
  std::string big(1u << 20, 'q');
  auto res = run_model(endpoint("chatty"), call_with(big));
  BOOST_TEST_REQUIRE(res.response.failure.empty(), res.response.failure_detail);
  BOOST_TEST(res.stats.skipped_lines == 16u * 1024u);
  BOOST_TEST(res.process.stdin_complete);
}

BOOST_AUTO_TEST_CASE(a_program_that_never_reads_stdin_is_no_error) {
  // 4 MiB cannot fit the pipe: the writes meet EPIPE (no SIGPIPE kills us).
  auto res = run_model(endpoint("noread"), call_with(std::string(4u << 20, 'q')));
  BOOST_TEST_REQUIRE(res.response.failure.empty(), res.response.failure_detail);
  BOOST_TEST(!res.process.stdin_complete);
  BOOST_TEST(res.process.stdin_written < (4u << 20));
}

BOOST_AUTO_TEST_CASE(the_environment_is_inherited_with_overrides) {
  ::setenv("TROUPE_CMD_TEST_A", "inherited", 1);
  auto run_env = [&](std::vector<std::string> env, const char* name) {
    command_process p;
    std::string bytes;
    auto o = p.run(model_argv("env", name), env, "{}", command_limits{},
                   [&](std::string_view b) { bytes.append(b); });
    BOOST_TEST(o.exit.status == 0);
    troupe::command_reply_parser parser{"c"};
    parser.feed(bytes);
    return parser.finish().text;
  };
  BOOST_TEST(run_env({}, "TROUPE_CMD_TEST_A") == "inherited");
  BOOST_TEST(run_env({"TROUPE_CMD_TEST_A=replaced"}, "TROUPE_CMD_TEST_A") == "replaced");
  BOOST_TEST(run_env({"TROUPE_CMD_TEST_B=added"}, "TROUPE_CMD_TEST_B") == "added");
  ::unsetenv("TROUPE_CMD_TEST_A");
}

BOOST_AUTO_TEST_CASE(no_descriptor_but_stdio_reaches_the_program) {
  int leaky = ::open("/dev/null", O_RDONLY); // no O_CLOEXEC: as a careless library would
  BOOST_REQUIRE(leaky >= 0);
  auto res = run_model(endpoint("fds"), call_with("hi"));
  ::close(leaky);
  BOOST_TEST_REQUIRE(res.response.failure.empty(), res.response.failure_detail);
  // 0, 1, 2 and the one Python opens to list the directory.
  BOOST_TEST(res.response.text == "0 1 2 3");
}

BOOST_AUTO_TEST_CASE(requests_on_several_threads_keep_to_themselves) {
  // As the gateway runs them: one thread per command request in flight.
  constexpr int n = 8;
  auto e = endpoint("reply");
  std::vector<std::future<troupe::net::command_call_result>> runs;
  for (int i = 0; i < n; ++i)
    runs.push_back(std::async(std::launch::async,
                              [&e, i] { return run_model(e, call_with("q" + std::to_string(i))); }));
  for (int i = 0; i < n; ++i) {
    BOOST_REQUIRE(runs[i].wait_for(120s) == std::future_status::ready);
    auto res = runs[i].get();
    BOOST_TEST(res.response.text == "run=r-42 turn=2 last=q" + std::to_string(i));
    BOOST_TEST(reaped(res.process.pid));
  }
}

BOOST_AUTO_TEST_SUITE_END()
