// The embedding API beyond the example: cancel, custom tools and providers,
// results by id, and refusing to change tools once runs started.

#define BOOST_TEST_MODULE embed_api
#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "core/builtin_tools.hpp"
#include "core/replay.hpp"
#include "schemas/codec.hpp"

#include <atomic>
#include <future>
#include "troupe/runtime.hpp"

using namespace troupe;

namespace {

// Holds every request until released, so a run can be caught mid-turn.
class held_provider final : public model_provider {
public:
  model_response complete(const model_call& call) override {
    std::unique_lock<std::mutex> guard(mtx_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(guard, [&] { return released_; });
    model_response r;
    r.tool_calls.push_back({"c" + std::to_string(call.request_index), "echo", "{}"});
    return r;
  }
  bool blocking() const override { return true; }
  void wait_for_request() {
    std::unique_lock<std::mutex> guard(mtx_);
    cv_.wait(guard, [&] { return waiting_ > 0; });
  }
  void release() {
    std::lock_guard<std::mutex> guard(mtx_);
    released_ = true;
    cv_.notify_all();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool released_ = false;
};

bool contains_text(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A policy allowing `tool` and `complete`, and nothing else.
policy allow_only(const std::string& tool) {
  auto rules = parse_policy("version = 1\n[[rule]]\nid = \"" + tool + "\"\ntool = \"" + tool
                              + "\"\ndecision = \"allow\"\n[[rule]]\nid = \"done\"\n"
                                "tool = \"complete\"\ndecision = \"allow\"\n",
                            "inline");
  BOOST_REQUIRE_MESSAGE(rules, render(rules));
  return *rules;
}

struct fixture {
  std::filesystem::path dir = std::filesystem::temp_directory_path()
                              / ("troupe-embed-api-" + std::to_string(::getpid()));
  fixture() { std::filesystem::create_directories(dir); }
  ~fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  scenario make_scenario(const std::string& model) const {
    scenario sc;
    sc.source = "embed-api-" + model;
    sc.agent = "a";
    sc.task = "work";
    sc.workspace_root = dir / "work";
    sc.models[model] = {model, "custom"};
    sc.agents["a"] = {"a", model, "", {"echo", "complete"}};
    return sc;
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(cancel_ends_a_run_in_flight_as_canceled, fixture) {
  auto db = (dir / "cancel.db").string();
  std::string run_id;
  {
    auto rt = runtime::create({db});
    BOOST_REQUIRE_MESSAGE(rt, render(rt));
    auto provider = std::make_shared<held_provider>();
    BOOST_REQUIRE(!(*rt)->register_provider("held", provider));
    auto h = (*rt)->start(make_scenario("held"), {});
    BOOST_REQUIRE_MESSAGE(h, render(h));
    run_id = h->id();
    provider->wait_for_request();
    BOOST_TEST((*rt)->cancel(run_id));
    provider->release();
    auto r = h->result().get();
    BOOST_TEST(to_string(r.status) == "canceled");
    BOOST_TEST(!(*rt)->cancel(run_id)); // no longer in flight
    auto again = (*rt)->result(run_id);
    BOOST_REQUIRE(again);
    BOOST_TEST(to_string(again->status) == "canceled");
  }
  auto store = persistence::store::open(db, persistence::open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(store, render(store));
  auto run = store->find_run(run_id);
  BOOST_REQUIRE_MESSAGE(run, render(run));
  BOOST_TEST(to_string(run->status) == "canceled");
  auto evs = store->events(run_id);
  BOOST_REQUIRE(evs);
  BOOST_TEST(evs->back().kind == "completion");
}

BOOST_FIXTURE_TEST_CASE(custom_tools_run_and_are_fixed_after_the_first_run,
                        fixture) {
  auto rt = runtime::create({(dir / "tools.db").string()});
  BOOST_REQUIRE(rt);
  tool_definition def;
  def.name = "double_it";
  def.description = "doubles n";
  def.parameters = nlohmann::json::parse(
    R"({"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]})");
  def.effect = tool_effect::pure;
  def.handler = [](const nlohmann::json& args, const tool_context&) {
    return tool_outcome{true, std::to_string(args.at("n").get<int>() * 2), false};
  };
  BOOST_REQUIRE(!(*rt)->register_tool(def));
  struct doubling_model final : model_provider {
    model_response complete(const model_call& call) override {
      model_response r;
      if (call.request_index == 0)
        r.tool_calls.push_back({"d1", "double_it", R"({"n":21})"});
      else
        r.tool_calls.push_back(
          {"done", "complete",
           nlohmann::json{{"status", "success"},
                          {"answer", call.messages.back().content}}.dump()});
      return r;
    }
  };
  BOOST_REQUIRE(!(*rt)->register_provider("dbl", std::make_shared<doubling_model>()));
  auto sc = make_scenario("dbl");
  sc.agents["a"].tools = {"double_it", "complete"};
  sc.governance = allow_only("double_it");
  auto h = (*rt)->start(sc, {});
  BOOST_REQUIRE(h);
  auto r = h->result().get();
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(r.answer == "42");
  def.name = "too_late";
  auto err = (*rt)->register_tool(def);
  BOOST_TEST(static_cast<bool>(err));
  BOOST_TEST(render(err).find("first run") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(starting_with_an_unregistered_tool_is_an_error, fixture) {
  auto rt = runtime::create({(dir / "bad.db").string()});
  BOOST_REQUIRE(rt);
  auto sc = make_scenario("nobody");
  sc.agents["a"].tools = {"nope", "complete"};
  auto h = (*rt)->start(sc, {});
  BOOST_REQUIRE(!h);
  BOOST_TEST(render(h.error()).find("nope") != std::string::npos);
}

// -- supervision --------------------------------------------------------------

namespace {

// Echo until turn `turns`, then complete.
struct counting_model final : model_provider {
  explicit counting_model(uint32_t turns) : turns(turns) {}
  uint32_t turns;
  model_response complete(const model_call& call) override {
    model_response r;
    if (call.request_index + 1 < turns)
      r.tool_calls.push_back({"c" + std::to_string(call.request_index), "echo", "{}"});
    else
      r.tool_calls.push_back({"done", "complete", R"({"status":"success","answer":"ok"})"});
    return r;
  }
};

// Throws on its `fail_at`-th request, once.
struct flaky_model final : model_provider {
  std::atomic<int> calls{0};
  model_response complete(const model_call& call) override {
    if (++calls == 2)
      throw std::runtime_error("provider blew up");
    return counting_model{4}.complete(call);
  }
};

std::vector<event> journal_events(const std::string& db, const std::string& run_id) {
  auto st = persistence::store::open(db, persistence::open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(st, render(st));
  auto rows = st->events(run_id);
  BOOST_REQUIRE(rows);
  std::vector<event> out;
  for (auto& r : *rows)
    out.push_back(*decode(r.bytes));
  return out;
}

} // namespace

BOOST_FIXTURE_TEST_CASE(a_crashed_run_restarts_from_its_journal, fixture) {
  auto db = (dir / "restart.db").string();
  std::string run_id;
  {
    auto rt = runtime::create({db});
    BOOST_REQUIRE(rt);
    BOOST_REQUIRE(!(*rt)->register_provider("count", std::make_shared<counting_model>(4)));
    auto crashed = std::make_shared<std::atomic<bool>>(false);
    run_request req;
    // An embedder callback that throws once, on the second turn: the run
    // actor crashes and its supervisor restarts it from the journal.
    req.on_event = [crashed](const event& ev) {
      if (auto* t = std::get_if<turn_start>(&ev.body); t && t->turn == 2 && !crashed->exchange(true))
        throw std::runtime_error("injected crash");
    };
    auto h = (*rt)->start(make_scenario("count"), std::move(req));
    BOOST_REQUIRE(h);
    auto r = h->result().get();
    run_id = r.run_id;
    BOOST_TEST(crashed->load());
    BOOST_TEST(to_string(r.status) == "completed");
    BOOST_TEST(r.totals.turns == 4u);
  }
  auto evs = journal_events(db, run_id);
  tool_registry reg;
  BOOST_REQUIRE(!register_builtin_tools(reg));
  auto replayed = replay_run(evs, reg, default_policy());
  BOOST_TEST(replayed.identical());
}

BOOST_FIXTURE_TEST_CASE(too_many_crashes_fail_the_run_and_tell_its_owner, fixture) {
  auto db = (dir / "intensity.db").string();
  runtime_options opts{db};
  opts.max_restarts = 2;
  auto rt = runtime::create(opts);
  BOOST_REQUIRE(rt);
  BOOST_REQUIRE(!(*rt)->register_provider("count", std::make_shared<counting_model>(4)));
  run_request req;
  req.on_event = [](const event& ev) {
    if (std::holds_alternative<turn_start>(ev.body))
      throw std::runtime_error("always crashes");
  };
  std::promise<run_result> told;
  req.on_done = [&told](const run_result& r) { told.set_value(r); };
  auto h = (*rt)->start(make_scenario("count"), std::move(req));
  BOOST_REQUIRE(h);
  auto r = h->result().get();
  BOOST_TEST(to_string(r.status) == "failed");
  BOOST_TEST(r.reason == "restart_intensity_exceeded");
  BOOST_TEST(contains_text(r.summary, "3 times"), r.summary);
  BOOST_TEST(told.get_future().get().reason == "restart_intensity_exceeded");
  auto evs = journal_events(db, r.run_id);
  BOOST_REQUIRE(std::holds_alternative<completion>(evs.back().body));
  BOOST_TEST(std::get<completion>(evs.back().body).reason == "restart_intensity_exceeded");
}

BOOST_FIXTURE_TEST_CASE(a_crashing_route_fails_one_request_not_the_run, fixture) {
  auto rt = runtime::create({(dir / "route.db").string()});
  BOOST_REQUIRE(rt);
  auto flaky = std::make_shared<flaky_model>();
  BOOST_REQUIRE(!(*rt)->register_provider("flaky", flaky));
  auto h = (*rt)->start(make_scenario("flaky"), {});
  BOOST_REQUIRE(h);
  auto r = h->result().get();
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(r.totals.model_errors == 1u);
  BOOST_TEST(r.totals.retries == 1u);
}

BOOST_FIXTURE_TEST_CASE(retryable_failures_back_off_with_journaled_jitter, fixture) {
  auto db = (dir / "retry.db").string();
  std::string run_id;
  {
    auto rt = runtime::create({db});
    BOOST_REQUIRE(rt);
    auto failures = std::make_shared<std::atomic<int>>(0);
    tool_definition def;
    def.name = "flaky_io";
    def.description = "fails twice with a retryable error, then works";
    def.parameters = nlohmann::json::parse(R"({"type":"object"})");
    def.effect = tool_effect::idempotent;
    def.handler = [failures](const nlohmann::json&, const tool_context&) {
      if (++*failures <= 2)
        return tool_outcome{false, "EAGAIN: try again", true};
      return tool_outcome{true, "worked", false};
    };
    BOOST_REQUIRE(!(*rt)->register_tool(def));
    struct io_model final : model_provider {
      model_response complete(const model_call& call) override {
        model_response r;
        if (call.request_index == 0)
          r.tool_calls.push_back({"io1", "flaky_io", "{}"});
        else
          r.tool_calls.push_back({"done", "complete", R"({"status":"success","answer":"ok"})"});
        return r;
      }
    };
    BOOST_REQUIRE(!(*rt)->register_provider("io", std::make_shared<io_model>()));
    auto sc = make_scenario("io");
    sc.agents["a"].tools = {"flaky_io", "complete"};
    sc.governance = allow_only("flaky_io");
    auto h = (*rt)->start(sc, {});
    BOOST_REQUIRE(h);
    auto r = h->result().get();
    run_id = r.run_id;
    BOOST_TEST(to_string(r.status) == "completed");
    BOOST_TEST(r.totals.retries == 2u);
    BOOST_TEST(failures->load() == 3);
  }
  auto evs = journal_events(db, run_id);
  std::vector<retry> retries;
  for (auto& ev : evs)
    if (auto* x = std::get_if<retry>(&ev.body))
      retries.push_back(*x);
  BOOST_REQUIRE_EQUAL(retries.size(), 2u);
  for (uint32_t i = 0; i < 2; ++i) {
    BOOST_TEST(retries[i].attempt == i + 1);
    BOOST_TEST(retries[i].jitter >= 0.0);
    BOOST_TEST(retries[i].jitter < 1.0);
    auto base = 100000.0 * (1u << i);
    BOOST_TEST(static_cast<double>(retries[i].delay_us) >= base * 0.5 - 1);
    BOOST_TEST(static_cast<double>(retries[i].delay_us) <= base * 1.5 + 1);
  }
  tool_registry reg;
  BOOST_REQUIRE(!register_builtin_tools(reg));
  tool_definition io;
  io.name = "flaky_io";
  io.parameters = nlohmann::json::parse(R"({"type":"object"})");
  io.effect = tool_effect::idempotent;
  io.handler = [](const nlohmann::json&, const tool_context&) { return tool_outcome{}; };
  BOOST_REQUIRE(!reg.add(io));
  auto replayed = replay_run(evs, reg, allow_only("flaky_io"));
  BOOST_TEST(replayed.identical());
}

BOOST_FIXTURE_TEST_CASE(without_isolation_shell_refuses_unless_a_rule_allows_it, fixture) {
  // A missing worker program stands in for a machine without isolation.
  runtime_options opts{(dir / "noiso.db").string()};
  opts.sandbox_worker_binary = (dir / "no-such-worker").string();
  auto rt = runtime::create(opts);
  BOOST_REQUIRE(rt);
  struct shell_model final : model_provider {
    model_response complete(const model_call& call) override {
      model_response r;
      if (call.request_index == 0)
        r.tool_calls.push_back({"sh1", "shell", R"({"argv":["echo","hi"]})"});
      else
        r.tool_calls.push_back(
          {"done", "complete",
           nlohmann::json{{"status", "success"},
                          {"answer", call.messages.back().content}}.dump()});
      return r;
    }
  };
  BOOST_REQUIRE(!(*rt)->register_provider("sh", std::make_shared<shell_model>()));
  auto run_with = [&](bool unsandboxed) {
    auto sc = make_scenario("sh");
    sc.source = unsandboxed ? "noiso-allowed" : "noiso-refused";
    sc.agents["a"].tools = {"shell", "complete"};
    auto rules = parse_policy(std::string("version = 1\n[[rule]]\nid = \"echo\"\ntool = \"shell\"\n"
                                          "command_prefix = [\"echo\"]\ndecision = \"allow\"\n")
                                + (unsandboxed ? "unsandboxed = true\n" : "")
                                + "[[rule]]\nid = \"done\"\ntool = \"complete\"\n"
                                  "decision = \"allow\"\n",
                              "inline");
    BOOST_REQUIRE_MESSAGE(rules, render(rules));
    sc.governance = *rules;
    auto h = (*rt)->start(sc, {});
    BOOST_REQUIRE(h);
    return h->result().get();
  };
  auto refused = run_with(false);
  BOOST_TEST(contains_text(refused.answer, "isolation is unavailable"), refused.answer);
  BOOST_TEST(contains_text(refused.answer, "unsandboxed = true"), refused.answer);
  auto allowed = run_with(true);
  BOOST_TEST(contains_text(allowed.answer, "hi"), allowed.answer);
  BOOST_TEST(contains_text(allowed.answer, "isolation: "), allowed.answer);
}

BOOST_FIXTURE_TEST_CASE(a_run_waiting_for_approval_cancels_at_once, fixture) {
  auto db = (dir / "cancel-approval.db").string();
  std::string run_id;
  {
    runtime_options opts{db};
    std::promise<void> asked;
    opts.on_approval_requested = [&asked](const pending_approval&) { asked.set_value(); };
    auto rt = runtime::create(opts);
    BOOST_REQUIRE(rt);
    BOOST_REQUIRE(!(*rt)->register_provider("count", std::make_shared<counting_model>(2)));
    auto sc = make_scenario("count");
    auto rules = parse_policy("version = 1\napproval_timeout_ms = 600000\n[[rule]]\nid = \"ask\"\n"
                              "tool = \"echo\"\ndecision = \"ask\"\n[[rule]]\nid = \"done\"\n"
                              "tool = \"complete\"\ndecision = \"allow\"\n",
                              "inline");
    BOOST_REQUIRE(rules);
    sc.governance = *rules;
    auto h = (*rt)->start(sc, {});
    BOOST_REQUIRE(h);
    run_id = h->id();
    asked.get_future().get();
    auto pending = (*rt)->pending_approvals();
    BOOST_REQUIRE(pending);
    BOOST_REQUIRE_EQUAL(pending->size(), 1u);
    BOOST_TEST((*rt)->cancel(run_id));
    auto status = h->result().wait_for(std::chrono::seconds(10));
    BOOST_REQUIRE(status == std::future_status::ready);
    BOOST_TEST(to_string(h->result().get().status) == "canceled");
  }
  auto evs = journal_events(db, run_id);
  BOOST_TEST(std::holds_alternative<completion>(evs.back().body));
}
