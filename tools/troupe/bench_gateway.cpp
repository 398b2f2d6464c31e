// `troupe bench gateway`: C model requests kept in flight through one
// gateway route (spawn_model_gateway, one endpoint) against a loopback
// OpenAI-compatible streaming server (bench_gateway_server.hpp); then, as
// the baseline measured in the same run, the same load sent straight through
// net::http_client: no actors, no request building, no decoding.
//
// Load: each of the C slots sends a request, and the next one as soon as its
// reply is in. The slots start spread over one server latency, so that
// replies arrive evenly rather than all 1,000 at the same instant; the first
// C requests (one per slot) are a warm-up that opens the connections and are
// not measured. Figures per measured request: end to end (the driver's send
// to its reply), the server's own time (its clock: request read to last byte
// written), and troupe's added latency, their difference.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <malloc.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "actors/messages.hpp"
#include "actors/model_gateway.hpp"
#include "core/providers/wire.hpp"
#include "net/http_client.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/bench_gateway_load.hpp"
#include "tools/troupe/bench_gateway_server.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

using go_atom = caf::atom_constant<caf::atom("bggo")>;
using launch_atom = caf::atom_constant<caf::atom("bglaunch")>;

// -- memory ------------------------------------------------------------------------

uint64_t status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0)
      return std::stoull(line.substr(std::strlen(key) + 1));
  return 0;
}

// Starts a phase's memory figures: what is resident now is its baseline, and
// the peak (VmHWM) is reset to it (Linux >= 4.0), so that one phase's peak
// does not show in the next one's.
uint64_t memory_baseline() {
  malloc_trim(0); // what the previous phase freed goes back to the kernel
  std::ofstream("/proc/self/clear_refs") << "5";
  return status_kib("VmRSS:");
}

uint64_t process_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1000000 + static_cast<uint64_t>(t.tv_usec);
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

// Two connections per request in flight (the client's and the server's) on
// top of what the process holds already.
void raise_fd_limit(uint64_t concurrency) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  rlim_t want = std::min<rlim_t>(rl.rlim_max, 2 * concurrency + 256);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// -- through the gateway ------------------------------------------------------------

struct driver_state {
  static inline const char* name = "troupe.bench_driver";
  uint64_t next = 0;
  uint64_t ended = 0;
  caf::response_promise done;
};

using driver_actor = caf::stateful_actor<driver_state>;

void send_next(driver_actor* self, const caf::actor& gateway, const load_plan& plan,
               phase_log* log) {
  auto& st = self->state;
  if (st.next >= plan.total())
    return;
  auto i = st.next++;
  auto call = bench_call(std::to_string(plan.first_id + i));
  log->started(i);
  auto ended = [self, gateway, plan, log, i](bool ok) {
    log->ended(i, ok);
    if (++self->state.ended == plan.total())
      self->state.done.deliver(true);
    else
      send_next(self, gateway, plan, log);
  };
  self->request(gateway, caf::infinite, complete_atom::value, std::move(call))
    .then([ended](model_response& r) { ended(r.failure.empty() && !r.text.empty()); },
          [ended](caf::error&) { ended(false); });
}

// Keeps plan.concurrency requests in flight until plan.total() have ended.
caf::behavior driver(driver_actor* self, caf::actor gateway, load_plan plan, phase_log* log) {
  return {
    [=](go_atom) -> caf::result<bool> {
      self->state.done = self->make_response_promise();
      auto slots = std::min(plan.concurrency, plan.total());
      for (uint64_t k = 0; k < slots; ++k)
        self->delayed_send(self, plan.stagger * k, launch_atom::value);
      return caf::delegated<bool>{};
    },
    [=](launch_atom) { send_next(self, gateway, plan, log); },
  };
}

endpoint_config bench_endpoint(const std::string& base_url, uint64_t concurrency) {
  endpoint_config e;
  e.name = "bench";
  e.provider = provider_kind::openai;
  e.base_url = base_url;
  e.models = {"bench-model"};
  e.stream = true;
  e.max_concurrency = static_cast<uint32_t>(concurrency);
  return e;
}

net::http_client_config client_config(uint64_t concurrency) {
  net::http_client_config cfg;
  cfg.max_connections = std::max<size_t>(cfg.max_connections, concurrency + 64);
  return cfg;
}

caf::error gateway_phase(const endpoint_config& endpoint, const load_plan& plan,
                         phase_log& log) {
  auto http = net::http_client::start(client_config(plan.concurrency));
  if (!http)
    return std::move(http.error());
  auto pool = std::make_shared<endpoint_pool>(
    std::make_unique<model_transport>(std::move(*http)), health_config{});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  gateway_config gw;
  gw.route.name = "bench";
  gw.route.provider = "route";
  gw.route.route = {{endpoint.name, endpoint.models.front()}};
  gw.endpoints.emplace(endpoint.name, endpoint);
  gw.pool = pool;
  auto gateway = spawn_model_gateway(sys, std::move(gw));
  auto drv = sys.spawn(driver, gateway, plan, &log);
  log.idle_kib = memory_baseline();
  auto cpu0 = process_cpu_us();
  log.begin();
  caf::error failed;
  caf::scoped_actor self{sys};
  self->request(drv, caf::infinite, go_atom::value)
    .receive([](bool) {}, [&](caf::error& err) { failed = std::move(err); });
  log.cpu_us = process_cpu_us() - cpu0;
  log.peak_kib = status_kib("VmHWM:");
  self->send_exit(drv, caf::exit_reason::user_shutdown);
  self->send_exit(gateway, caf::exit_reason::user_shutdown);
  return failed;
}

// -- straight through the HTTP client -----------------------------------------------

// The request body with the number cut out: prefix + number + suffix.
struct raw_request {
  net::http_request base;
  std::string prefix, suffix;
};

raw_request raw_request_for(const endpoint_config& e, uint64_t concurrency) {
  const std::string hole = "#N#";
  auto wire = providers::build_request(e, e.models.front(), bench_call(hole), {}, true);
  raw_request r;
  auto at = wire.body.find(hole);
  r.prefix = wire.body.substr(0, at);
  r.suffix = wire.body.substr(at + hole.size());
  r.base.method = "POST";
  r.base.url = e.base_url + wire.path;
  r.base.headers = std::move(wire.headers);
  r.base.timeouts = {e.timeouts.connect_ms, e.timeouts.first_byte_ms, e.timeouts.idle_ms,
                     e.timeouts.total_ms};
  r.base.pool = e.name;
  r.base.max_concurrency = static_cast<uint32_t>(concurrency);
  return r;
}

class raw_driver {
public:
  raw_driver(net::http_client& http, raw_request req, const load_plan& plan, phase_log& log)
    : http_(http), req_(std::move(req)), plan_(plan), log_(log) {}

  // Starts a slot (any thread; the I/O thread keeps it going).
  void launch() { send_next(); }

  void wait() {
    std::unique_lock<std::mutex> guard(mtx_);
    done_.wait(guard, [&] { return ended_ == plan_.total(); });
  }

private:
  void send_next() {
    auto i = next_.fetch_add(1);
    if (i >= plan_.total())
      return;
    auto req = req_.base;
    req.body = req_.prefix + std::to_string(plan_.first_id + i) + req_.suffix;
    net::http_callbacks cb;
    cb.on_data = [](std::string_view) { return net::http_action::proceed; };
    cb.on_done = [this, i](net::http_outcome o) {
      log_.ended(i, o.ok() && o.status == 200 && o.body_bytes > 0);
      bool last;
      {
        std::lock_guard<std::mutex> guard(mtx_);
        last = ++ended_ == plan_.total();
      }
      if (last)
        done_.notify_all();
      else
        send_next();
    };
    log_.started(i);
    http_.submit(std::move(req), std::move(cb));
  }

  net::http_client& http_;
  raw_request req_;
  load_plan plan_;
  phase_log& log_;
  std::atomic<uint64_t> next_{0};
  std::mutex mtx_;
  std::condition_variable done_;
  uint64_t ended_ = 0;
};

caf::error raw_phase(const endpoint_config& endpoint, const load_plan& plan, phase_log& log) {
  auto http = net::http_client::start(client_config(plan.concurrency));
  if (!http)
    return std::move(http.error());
  raw_driver drv{**http, raw_request_for(endpoint, plan.concurrency), plan, log};
  log.idle_kib = memory_baseline();
  auto cpu0 = process_cpu_us();
  log.begin();
  auto slots = std::min(plan.concurrency, plan.total());
  for (uint64_t k = 0; k < slots; ++k) {
    std::this_thread::sleep_until(log.t0 + plan.stagger * k);
    drv.launch();
  }
  drv.wait();
  log.cpu_us = process_cpu_us() - cpu0;
  log.peak_kib = status_kib("VmHWM:");
  return {};
}

// -- the report ------------------------------------------------------------------

double ms(int64_t us) {
  return static_cast<double>(us) / 1000.0;
}

void print_phase(const char* label, const phase_figures& f, double ideal_rps) {
  std::printf("%-8s %9.0f requests/s (%.2f of ideal)  added p50 %.2f ms  p99 %.2f ms  "
              "(end to end p50 %.2f ms, server p50 %.2f ms)\n",
              label, f.requests_per_s, f.requests_per_s / ideal_rps, ms(f.added_p50_us),
              ms(f.added_p99_us), ms(f.e2e_p50_us), ms(f.server_p50_us));
  std::printf("%-8s %.0f us of CPU per request (the server's included)\n", "",
              f.cpu_us_per_request);
  std::printf("%-8s peak RSS %llu KiB, idle %llu KiB: %.1f KiB per request in flight\n", "",
              static_cast<unsigned long long>(f.peak_kib),
              static_cast<unsigned long long>(f.idle_kib), f.kib_per_in_flight);
}

} // namespace

int bench_gateway(const bench_gateway_options& opts) {
  auto say = [&](const std::string& s) {
    if (!opts.json)
      std::fprintf(stderr, "%s\n", s.c_str());
  };
  raise_fd_limit(opts.concurrency);
  stream_shape shape{opts.first_chunk_ms, opts.chunks, opts.chunk_gap_ms};
  load_plan plan;
  plan.concurrency = opts.concurrency;
  plan.warmup = opts.concurrency;
  plan.measured = opts.requests != 0 ? opts.requests : 20 * opts.concurrency;
  plan.stagger = std::chrono::microseconds{
    static_cast<int64_t>(shape.nominal_ms() * 1000.0 / static_cast<double>(plan.concurrency))};
  bench_stream_server server{shape, opts.server_threads, 2 * plan.total()};
  auto endpoint = bench_endpoint(server.base_url(), plan.concurrency);

  say("1/2 " + std::to_string(plan.measured) + " requests through the gateway, "
      + std::to_string(plan.concurrency) + " in flight...");
  phase_log gw_log{plan.total()};
  if (auto err = gateway_phase(endpoint, plan, gw_log))
    return report(err);
  server.wait_for_replies(plan.total(), std::chrono::seconds{30});
  server.wait_for_no_connections(std::chrono::seconds{30});

  say("2/2 the same straight through the HTTP client...");
  auto raw_plan = plan;
  raw_plan.first_id = plan.total();
  phase_log raw_log{plan.total()};
  if (auto err = raw_phase(endpoint, raw_plan, raw_log))
    return report(err);
  server.wait_for_replies(2 * plan.total(), std::chrono::seconds{30});

  auto gw = summarize(gw_log, plan, server);
  auto raw = summarize(raw_log, raw_plan, server);
  double ideal_rps = static_cast<double>(plan.concurrency) * 1000.0
                     / std::max(shape.nominal_ms(), 1e-3);
  uint64_t failed = gw.failed + raw.failed;
  if (opts.json) {
    nlohmann::ordered_json out{
      {"bench", "gateway"},
      {"concurrency", plan.concurrency},
      {"requests", plan.measured},
      {"warmup_requests", plan.warmup},
      {"first_chunk_ms", shape.first_chunk_ms},
      {"chunks", shape.chunks},
      {"chunk_gap_ms", shape.chunk_gap_ms},
      {"server_threads", opts.server_threads},
      {"server_latency_ms", shape.nominal_ms()},
      {"ideal_requests_per_s", ideal_rps},
      {"requests_per_s", gw.requests_per_s},
      {"throughput_ratio", gw.requests_per_s / ideal_rps},
      {"added_p50_ms", ms(gw.added_p50_us)},
      {"added_p99_ms", ms(gw.added_p99_us)},
      {"e2e_p50_ms", ms(gw.e2e_p50_us)},
      {"e2e_p99_ms", ms(gw.e2e_p99_us)},
      {"server_p50_ms", ms(gw.server_p50_us)},
      {"server_p99_ms", ms(gw.server_p99_us)},
      {"cpu_us_per_request", gw.cpu_us_per_request},
      {"idle_rss_kib", gw.idle_kib},
      {"peak_rss_kib", gw.peak_kib},
      {"rss_kib_per_request_in_flight", gw.kib_per_in_flight},
      {"raw_requests_per_s", raw.requests_per_s},
      {"raw_throughput_ratio", raw.requests_per_s / ideal_rps},
      {"raw_added_p50_ms", ms(raw.added_p50_us)},
      {"raw_added_p99_ms", ms(raw.added_p99_us)},
      {"raw_server_p50_ms", ms(raw.server_p50_us)},
      {"raw_cpu_us_per_request", raw.cpu_us_per_request},
      {"raw_idle_rss_kib", raw.idle_kib},
      {"raw_peak_rss_kib", raw.peak_kib},
      {"raw_rss_kib_per_request_in_flight", raw.kib_per_in_flight},
      {"gateway_vs_raw_ratio", gw.requests_per_s / std::max(raw.requests_per_s, 1e-9)},
      {"target_throughput_ratio", 0.9},
      {"target_added_p50_ms", 1.0},
      {"target_rss_kib_per_request_in_flight", 64},
      {"failed_requests", failed}};
    std::cout << to_json_text(out) << std::endl;
  } else {
    std::printf("%llu requests, %llu in flight, server %.0f ms (%u chunks): ideal %.0f "
                "requests/s\n",
                static_cast<unsigned long long>(plan.measured),
                static_cast<unsigned long long>(plan.concurrency), shape.nominal_ms(),
                shape.chunks, ideal_rps);
    print_phase("gateway", gw, ideal_rps);
    print_phase("raw", raw, ideal_rps);
    std::printf("gateway / raw throughput: %.2f (targets: >= 0.9 of ideal, added p50 <= 1 "
                "ms, <= 64 KiB per request in flight)\n",
                gw.requests_per_s / std::max(raw.requests_per_s, 1e-9));
    if (failed != 0)
      std::printf("WARNING: %llu requests failed\n", static_cast<unsigned long long>(failed));
  }
  return failed == 0 ? exit_ok : exit_failure;
}

} // namespace troupe::cli
