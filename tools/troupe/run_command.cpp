// `troupe run SCENARIO`: one agent run through the embedding API, with live
// progress on a terminal and a JSON result line for scripts.

#include <cstdio>
#include <iostream>
#include <mutex>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/event_summary.hpp"
#include "troupe/runtime.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

// One line per turn and per tool call; other events stay in the journal.
void print_progress(const event& ev) {
  switch (ev.kind()) {
    case event_kind::run_start:
      std::fprintf(stderr, "run %s started\n", ev.run_id.c_str());
      break;
    case event_kind::turn_start:
    case event_kind::tool_call:
    case event_kind::tool_result:
    case event_kind::parse_failure:
    case event_kind::recovery:
    case event_kind::error:
      std::fprintf(stderr, "  %-13s %s\n",
                   std::string(to_string(ev.kind())).c_str(),
                   summarize(ev).c_str());
      break;
    case event_kind::policy_decision:
      if (std::get<policy_decision>(ev.body).decision != decision_kind::allow)
        std::fprintf(stderr, "  %-13s %s\n", "policy", summarize(ev).c_str());
      break;
    case event_kind::approval_request:
    case event_kind::approval_decision:
    case event_kind::retry:
    case event_kind::delegation:
    case event_kind::delegation_result:
      std::fprintf(stderr, "  %-13s %s\n", std::string(to_string(ev.kind())).c_str(),
                   summarize(ev).c_str());
      break;
    case event_kind::route_attempt:
      // A fallback or a retry is worth a line; the attempt that answered is not.
      if (std::get<route_attempt>(ev.body).outcome != "answered")
        std::fprintf(stderr, "  %-13s %s\n", "route", summarize(ev).c_str());
      break;
    case event_kind::model_reply:
      if (!std::get<model_reply>(ev.body).failure.empty())
        std::fprintf(stderr, "  %-13s %s\n", "model", summarize(ev).c_str());
      break;
    default:
      break;
  }
}

// The live view on stderr: progress lines, and each model reply's text as it
// streams. Events come on the run's thread, text on an I/O thread.
class live_view {
public:
  void on_event(const event& ev) {
    std::lock_guard<std::mutex> guard(mtx_);
    end_stream();
    print_progress(ev);
  }

  void on_text(std::string_view text) {
    std::lock_guard<std::mutex> guard(mtx_);
    if (!streaming_) {
      std::fprintf(stderr, "  %-13s ", "model");
      streaming_ = true;
    }
    std::string out;
    for (char c : text) {
      auto u = static_cast<unsigned char>(c);
      if (c == '\n')
        out += "\n                ";
      else if (c == '\t' || (u >= 0x20 && u != 0x7f))
        out += c;
      else
        out += '?'; // an escape sequence would command the terminal
    }
    std::fwrite(out.data(), 1, out.size(), stderr);
    std::fflush(stderr);
  }

private:
  void end_stream() {
    if (streaming_)
      std::fputc('\n', stderr);
    streaming_ = false;
  }

  std::mutex mtx_;
  bool streaming_ = false;
};

int exit_code_of(run_status s) {
  switch (s) {
    case run_status::completed:
      return exit_ok;
    case run_status::limit_reached:
      return 2;
    default:
      return exit_failure;
  }
}

} // namespace

int run(const run_options& opts) {
  // A bad scenario must not create or touch the journal: validate it against
  // the built-in tools before the runtime opens the database.
  auto sc = load_console_scenario(opts.scenario);
  if (!sc)
    return report(sc.error());
  if (auto err = check_db_path(opts.common.db))
    return report(err);
  bool progress = !opts.common.json && (opts.progress || ::isatty(2));
  auto view = std::make_shared<live_view>();
  runtime_options ro;
  ro.db_path = opts.common.db;
  ro.secrets_file = opts.secrets_file;
  if (progress)
    ro.on_model_delta = [view](const std::string&, std::string_view text) {
      view->on_text(text);
    };
  ro.resume_on_first_start = false; // resumed explicitly, to wait for them
  auto rt = runtime::create(ro);
  if (!rt)
    return report(rt.error());
  std::vector<caf::expected<run_handle>> resumed;
  if (opts.resume)
    resumed = (*rt)->resume();
  run_request req;
  req.task = opts.task;
  if (progress)
    req.on_event = [view](const event& ev) { view->on_event(ev); };
  auto handle = (*rt)->start(*sc, std::move(req));
  if (!handle)
    return report(handle.error());
  auto r = handle->result().get();
  for (auto& h : resumed) {
    if (!h) {
      std::fprintf(stderr, "troupe: resume: %s\n", render(h.error()).c_str());
      continue;
    }
    auto rr = h->result().get();
    if (!opts.common.json)
      std::printf("resumed run %s %s\n", rr.run_id.c_str(),
                  std::string(to_string(rr.status)).c_str());
  }
  if (opts.common.json) {
    auto& k = r.totals;
    nlohmann::ordered_json out{
      {"run_id", r.run_id},       {"status", to_string(r.status)},
      {"answer", r.answer},       {"summary", r.summary},
      {"reason", r.reason},       {"turns", k.turns},
      {"tool_calls", k.tool_calls}, {"model_calls", k.model_calls},
      {"parse_failures", k.parse_failures},
      {"input_tokens", k.input_tokens}, {"output_tokens", k.output_tokens},
      {"cost_micro_usd", k.cost_micro_usd},
      {"wall_ms", k.wall_ms},     {"db", opts.common.db}};
    std::cout << to_json_text(out) << std::endl;
  } else {
    std::printf("run %s %s after %u turns, %u tool calls\n", r.run_id.c_str(),
                std::string(to_string(r.status)).c_str(), r.totals.turns,
                r.totals.tool_calls);
    if (!r.reason.empty())
      std::printf("reason: %s\n", r.reason.c_str());
    if (!r.answer.empty())
      std::printf("answer: %s\n", r.answer.c_str());
    else if (!r.summary.empty())
      std::printf("summary: %s\n", r.summary.c_str());
    std::printf("inspect: troupe show %s --db %s\n", r.run_id.c_str(),
                opts.common.db.c_str());
  }
  return exit_code_of(r.status);
}

int resume(const common_options& opts, const std::string& secrets_file) {
  if (auto err = check_db_path(opts.db))
    return report(err);
  runtime_options ro;
  ro.db_path = opts.db;
  ro.secrets_file = secrets_file;
  ro.resume_on_first_start = false;
  auto rt = runtime::create(ro);
  if (!rt)
    return report(rt.error());
  auto handles = (*rt)->resume();
  int code = exit_ok;
  auto out = nlohmann::ordered_json::array();
  for (auto& h : handles) {
    if (!h) {
      code = report(h.error()) == exit_ok ? exit_ok : exit_failure;
      continue;
    }
    auto r = h->result().get();
    if (opts.json)
      out.push_back({{"run_id", r.run_id}, {"status", to_string(r.status)},
                     {"reason", r.reason}, {"turns", r.totals.turns},
                     {"tool_calls", r.totals.tool_calls}});
    else
      std::printf("run %s %s after %u turns, %u tool calls\n", r.run_id.c_str(),
                  std::string(to_string(r.status)).c_str(), r.totals.turns,
                  r.totals.tool_calls);
  }
  if (opts.json)
    std::cout << to_json_text(out) << std::endl;
  else if (handles.empty())
    std::printf("no unfinished runs in %s\n", opts.db.c_str());
  return code;
}

} // namespace troupe::cli
