// `troupe bench serve`: one `troupe serve` child (bench_serve_server.hpp),
// measured through its HTTP API by this process, in four phases:
//   1. memory: S SSE subscribers on one run waiting for approval; the
//      server's RSS before and with them, then the approval and every
//      subscriber's completion event (on a fresh server, so the streams'
//      memory is not hidden in what earlier phases freed);
//   2. the ceiling: GET /healthz from C clients (answered from memory on
//      the I/O thread: what the HTTP layer alone can do here);
//   3. submissions: N POST /v1/runs from the same C clients, then the time
//      until all N jobs have finished (from the first submission);
//   4. reads: N GET /v1/runs/{id} from the same C clients.
// The clients are net::http_client transfers on one I/O thread, kept alive
// across phases (a warm-up of C /healthz calls opens them first).

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include "core/runtime_errc.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/bench_serve.hpp"
#include "tools/troupe/bench_serve_load.hpp"
#include "tools/troupe/bench_serve_server.hpp"
#include "tools/troupe/bench_serve_streams.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

using clock_type = std::chrono::steady_clock;
using nlohmann::json;

// The subscribers' sockets and the clients', here and in the server (which
// inherits the limit); returns the limit now.
uint64_t raise_fd_limit(uint64_t want) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  auto target = std::min<rlim_t>(rl.rlim_max, want);
  if (rl.rlim_cur < target) {
    rl.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

std::string url_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

json parse(const std::string& body) {
  return json::parse(body, nullptr, false);
}

struct memory_phase {
  uint64_t before_kib = 0, with_kib = 0;
  uint64_t reached = 0; ///< subscribers that got the approval request
  fanout_figures fan;
  std::string problem; ///< why the phase could not run to its end
};

struct bench_context {
  bench_server& server;
  net::http_client& http;
  net::http_request call(const std::string& method, const std::string& path, bool operator_key,
                         std::string body = {}) const {
    return api_request(method, server.base_url(), path,
                       operator_key ? server.operator_key() : server.submitter_key(),
                       std::move(body));
  }
};

// The gated run's approval, once its run waits for it: (run_id, call_id).
std::pair<std::string, std::string> pending_approval(const bench_context& cx,
                                                     std::string& problem) {
  auto sub = fetch(cx.http, cx.call("POST", "/v1/runs", false,
                                    R"({"scenario":"gated","task":"hold, then write"})"));
  auto made = parse(sub.body);
  if (sub.status != 202 || !made.is_object()) {
    problem =
      "submitting the gated run: " + std::to_string(sub.status) + " " + sub.body + sub.error;
    return {};
  }
  auto run_id = made["run_id"].get<std::string>();
  auto until = clock_type::now() + std::chrono::seconds{30};
  while (clock_type::now() < until) {
    auto list = parse(fetch(cx.http, cx.call("GET", "/v1/approvals", true)).body);
    if (list.is_object())
      for (auto& item : list["items"])
        if (item.value("run_id", "") == run_id)
          return {run_id, item.value("call_id", "")};
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  problem = "the gated run " + run_id + " never asked for approval";
  return {};
}

memory_phase subscribers_phase(const bench_context& cx, uint64_t subscribers) {
  memory_phase m;
  auto [run_id, call_id] = pending_approval(cx, m.problem);
  if (run_id.empty())
    return m;
  net::http_client_config cfg;
  cfg.max_connections = subscribers + 64;
  cfg.receive_buffer_bytes = 4096;
  auto sse = net::http_client::start(cfg);
  if (!sse) {
    m.problem = "the subscribers' client: " + render(sse.error());
    return m;
  }
  m.before_kib = cx.server.rss_kib();
  sse_fanout fan{**sse, cx.server.base_url(), "/v1/runs/" + run_id + "/events",
                 cx.server.submitter_key()};
  fan.open(subscribers, "approval_request");
  if (!fan.wait_all_saw(std::chrono::seconds{60}, m.reached))
    m.problem = "after 60 s only " + std::to_string(m.reached) + " subscribers had the "
                + "approval request";
  m.with_kib = cx.server.rss_kib();
  fan.mark();
  auto decided = fetch(cx.http, cx.call("POST", "/v1/approvals/" + run_id + "/" + call_id, true,
                                        R"({"decision":"approve","reason":"bench"})"));
  if (decided.status != 200 && m.problem.empty())
    m.problem = "approving: " + std::to_string(decided.status) + " " + decided.body;
  if (!fan.wait_all_ended(std::chrono::seconds{60})) {
    if (m.problem.empty())
      m.problem = "streams still open 60 s after the approval";
    fan.cancel_all();
    fan.wait_all_ended(std::chrono::seconds{10});
  }
  m.fan = fan.summarize();
  return m;
}

// Polls until no job is accepted, queued or running (in lifecycle order, so
// a job moving on between two calls is still seen by the later one).
bool wait_jobs_final(const bench_context& cx, clock_type::time_point until) {
  while (clock_type::now() < until) {
    bool left = false;
    for (auto* status : {"accepted", "queued", "running"}) {
      auto page = parse(
        fetch(cx.http, cx.call("GET", std::string("/v1/runs?limit=1&status=") + status, false))
          .body);
      if (!page.is_object() || !page["items"].empty()) {
        left = true;
        break;
      }
    }
    if (!left)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return false;
}

uint64_t count_jobs(const bench_context& cx, const std::string& status, const std::string& label) {
  uint64_t n = 0;
  std::string cursor;
  do {
    auto path = "/v1/runs?limit=1000&status=" + status + "&label=" + url_escape(label);
    if (!cursor.empty())
      path += "&cursor=" + url_escape(cursor);
    auto page = parse(fetch(cx.http, cx.call("GET", path, false)).body);
    if (!page.is_object())
      return n;
    n += page["items"].size();
    cursor = page["next_cursor"].is_string() ? page["next_cursor"].get<std::string>() : "";
  } while (!cursor.empty());
  return n;
}

struct load_phases {
  load_figures healthz, submit, read;
  double finish_s = 0;
  uint64_t completed = 0;
  uint64_t server_cpu_us = 0; ///< from the first submission until all finished
  bool finished = false;
};

load_phases load_phase(const bench_context& cx, const bench_serve_options& opts) {
  load_phases p;
  http_load health;
  health.concurrency = opts.clients;
  health.make = [&](uint64_t) { return cx.call("GET", "/healthz", false); };
  health.check = [](uint64_t, int status, const std::string&) { return status == 200; };
  health.requests = opts.clients; // warm-up: opens the keep-alive connections
  auto warm = run_load(cx.http, health);
  health.requests = opts.jobs;
  p.healthz = run_load(cx.http, health);
  p.healthz.failed += warm.failed;

  std::vector<std::string> ids(opts.jobs);
  http_load submit;
  submit.requests = opts.jobs;
  submit.concurrency = opts.clients;
  submit.make = [&](uint64_t i) {
    return cx.call("POST", "/v1/runs", false,
                   json{{"scenario", "bench"},
                        {"task", "bench job " + std::to_string(i)},
                        {"labels", {"bench-load"}}}
                     .dump());
  };
  submit.check = [&](uint64_t i, int status, const std::string& body) {
    auto made = parse(body);
    if (status != 202 || !made.is_object() || !made["job_id"].is_string())
      return false;
    ids[i] = made["job_id"].get<std::string>();
    return true;
  };
  auto cpu0 = cx.server.cpu_us();
  auto t0 = clock_type::now();
  p.submit = run_load(cx.http, submit);
  auto budget = std::chrono::seconds{60} + std::chrono::milliseconds{20} * opts.jobs;
  p.finished = wait_jobs_final(cx, clock_type::now() + budget);
  p.finish_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  p.server_cpu_us = cx.server.cpu_us() - cpu0;
  p.completed = count_jobs(cx, "completed", "bench-load");

  ids.erase(std::remove(ids.begin(), ids.end(), std::string{}), ids.end());
  http_load read;
  read.requests = ids.empty() ? 0 : opts.jobs;
  read.concurrency = opts.clients;
  read.make = [&](uint64_t i) { return cx.call("GET", "/v1/runs/" + ids[i % ids.size()], false); };
  read.check = [](uint64_t, int status, const std::string& body) {
    return status == 200 && parse(body).is_object();
  };
  p.read = run_load(cx.http, read);
  return p;
}

struct failure_counts {
  uint64_t requests = 0, jobs = 0, subscribers = 0;
  [[nodiscard]] uint64_t total() const { return requests + jobs + subscribers; }
};

failure_counts count_failures(const bench_serve_options& opts, const memory_phase& mem,
                              const load_phases& load) {
  failure_counts f;
  f.requests = load.healthz.failed + load.submit.failed + load.read.failed;
  f.jobs = opts.jobs - std::min(opts.jobs, load.completed);
  f.subscribers = opts.subscribers - std::min(opts.subscribers, mem.fan.complete);
  return f;
}

void print_report(const bench_serve_options& opts, const memory_phase& mem,
                  const load_phases& load) {
  auto failed = count_failures(opts, mem, load);
  double finished_per_s =
    load.finish_s > 0 ? static_cast<double>(load.completed) / load.finish_s : 0;
  double grown_kib = static_cast<double>(mem.with_kib) - static_cast<double>(mem.before_kib);
  double per_subscriber = grown_kib / static_cast<double>(std::max<uint64_t>(opts.subscribers, 1));
  double ratio = load.healthz.per_s > 0 ? load.submit.per_s / load.healthz.per_s : 0;
  double cpu_per_job =
    opts.jobs == 0 ? 0 : static_cast<double>(load.server_cpu_us) / static_cast<double>(opts.jobs);
  std::string problem = mem.problem;
  for (auto* f : {&load.healthz, &load.submit, &load.read})
    if (problem.empty() && !f->first_failure.empty())
      problem = "a request failed: " + f->first_failure;
  if (problem.empty() && !load.finished)
    problem = "jobs still unfinished when the bench gave up waiting";
  if (problem.empty() && !mem.fan.first_failure.empty())
    problem = mem.fan.first_failure;
  if (opts.json) {
    nlohmann::ordered_json out{
      {"bench", "serve"},
      {"server", "troupe serve (child process)"},
      {"jobs", opts.jobs},
      {"clients", opts.clients},
      {"subscribers", opts.subscribers},
      {"server_concurrency", opts.server_concurrency},
      {"turns_per_job", 3},
      {"submissions_per_s", load.submit.per_s},
      {"submit_p50_ms", load.submit.p50_ms},
      {"submit_p99_ms", load.submit.p99_ms},
      {"finished_jobs_per_s", finished_per_s},
      {"finish_wall_s", load.finish_s},
      {"server_cpu_us_per_job", cpu_per_job},
      {"reads_per_s", load.read.per_s},
      {"read_p50_ms", load.read.p50_ms},
      {"read_p99_ms", load.read.p99_ms},
      {"healthz_per_s", load.healthz.per_s},
      {"healthz_p50_ms", load.healthz.p50_ms},
      {"healthz_p99_ms", load.healthz.p99_ms},
      {"submissions_vs_healthz_ratio", ratio},
      {"rss_before_subscribers_kib", mem.before_kib},
      {"rss_with_subscribers_kib", mem.with_kib},
      {"rss_kib_per_subscriber", per_subscriber},
      {"subscribers_complete", mem.fan.complete},
      {"events_per_subscriber", mem.fan.events_per_stream},
      {"approval_to_last_completion_ms", mem.fan.mark_to_last_completion_ms},
      {"failed_requests", failed.requests},
      {"failed_jobs", failed.jobs},
      {"failed_subscribers", failed.subscribers}};
    if (!problem.empty())
      out["problem"] = problem;
    std::cout << to_json_text(out) << std::endl;
    return;
  }
  std::printf("troupe serve (child process), %llu clients, --concurrency %u, scripted runs of 3 "
              "turns\n",
              static_cast<unsigned long long>(opts.clients), opts.server_concurrency);
  std::printf("submissions  %8.0f /s   p50 %.2f ms  p99 %.2f ms  (%.2f of /healthz)\n",
              load.submit.per_s, load.submit.p50_ms, load.submit.p99_ms, ratio);
  std::printf("finished     %8.0f jobs/s (%llu jobs in %.2f s from the first submission; "
              "server CPU %.0f us per job)\n",
              finished_per_s, static_cast<unsigned long long>(load.completed), load.finish_s,
              cpu_per_job);
  std::printf("reads        %8.0f /s   p50 %.2f ms  p99 %.2f ms\n", load.read.per_s,
              load.read.p50_ms, load.read.p99_ms);
  std::printf("/healthz     %8.0f /s   p50 %.2f ms  p99 %.2f ms\n", load.healthz.per_s,
              load.healthz.p50_ms, load.healthz.p99_ms);
  std::printf("subscribers  %llu SSE streams: server RSS %llu -> %llu KiB, %.1f KiB each; "
              "%llu got all %llu events, the last completion %.0f ms after the approval\n",
              static_cast<unsigned long long>(opts.subscribers),
              static_cast<unsigned long long>(mem.before_kib),
              static_cast<unsigned long long>(mem.with_kib), per_subscriber,
              static_cast<unsigned long long>(mem.fan.complete),
              static_cast<unsigned long long>(mem.fan.events_per_stream),
              mem.fan.mark_to_last_completion_ms);
  if (failed.total() != 0 || !problem.empty())
    std::printf("WARNING: %llu requests, %llu jobs and %llu subscribers failed: %s\n",
                static_cast<unsigned long long>(failed.requests),
                static_cast<unsigned long long>(failed.jobs),
                static_cast<unsigned long long>(failed.subscribers), problem.c_str());
}

} // namespace

int bench_serve(const bench_serve_options& opts) {
  namespace fs = std::filesystem;
  auto say = [&](const std::string& s) {
    if (!opts.json)
      std::fprintf(stderr, "%s\n", s.c_str());
  };
  auto fds = opts.subscribers + 2 * opts.clients + 512;
  if (auto have = raise_fd_limit(fds); have < fds)
    return report(caf::make_error(runtime_errc::invalid_arguments,
                                  "bench serve: " + std::to_string(opts.subscribers)
                                    + " subscribers and " + std::to_string(opts.clients)
                                    + " clients need " + std::to_string(fds)
                                    + " file descriptors; the limit is " + std::to_string(have)));
  std::error_code ec;
  auto dir = fs::temp_directory_path(ec) / ("troupe-bench-serve-" + std::to_string(::getpid()));
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  struct scratch_guard {
    fs::path dir;
    ~scratch_guard() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } scratch{dir};
  bench_server_options so;
  so.dir = dir.string();
  so.concurrency = opts.server_concurrency;
  so.max_queued = opts.jobs + 1000;
  auto server = bench_server::start(so);
  if (!server)
    return report(server.error());
  net::http_client_config cfg;
  cfg.max_connections = opts.clients + 64;
  auto http = net::http_client::start(cfg);
  if (!http)
    return report(http.error());
  bench_context cx{**server, **http};

  say("1/2 " + std::to_string(opts.subscribers) + " SSE subscribers on a run waiting for "
      "approval...");
  auto mem = subscribers_phase(cx, opts.subscribers);
  say("2/2 " + std::to_string(opts.jobs) + " calls each of /healthz, submissions (until "
      "every job finished) and reads, from " + std::to_string(opts.clients) + " clients...");
  auto load = load_phase(cx, opts);
  auto stopped = (*server)->stop();
  http->reset();
  print_report(opts, mem, load);
  if (stopped)
    return report(stopped);
  bool clean = count_failures(opts, mem, load).total() == 0 && mem.problem.empty();
  return clean ? exit_ok : exit_failure;
}

} // namespace troupe::cli
