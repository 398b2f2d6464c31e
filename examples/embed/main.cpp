// A service-style program embedding troupe: it registers a C++ tool and a C++
// model provider, starts several runs at once and reports the
// results through callbacks and futures. Everything is journaled to the
// database named on the command line (default: embed.db).
//
//   build/bin/troupe_embed_example [DB]   then   build/bin/troupe runs --db DB

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "troupe/runtime.hpp"

namespace {

// A stand-in for an order database the agent may query.
troupe::tool_definition order_lookup_tool() {
  troupe::tool_definition def;
  def.name = "lookup_order";
  def.description = "Looks up an order's shipping status by its id.";
  def.parameters = nlohmann::json::parse(R"({
    "type": "object",
    "properties": {"order_id": {"type": "string", "minLength": 1}},
    "required": ["order_id"],
    "additionalProperties": false
  })");
  def.effect = troupe::tool_effect::pure;
  def.handler = [](const nlohmann::json& args, const troupe::tool_context&) {
    auto id = args.at("order_id").get<std::string>();
    if (id == "A-1")
      return troupe::tool_outcome{true, "A-1: shipped on 2026-11-19", false};
    return troupe::tool_outcome{false, "no order " + id, false};
  };
  return def;
}

// A rule-based "model": asks for the order named in the task, then completes
// with what the tool said. Real services register an HTTP provider here.
class support_desk_model final : public troupe::model_provider {
public:
  troupe::model_response complete(const troupe::model_call& call) override {
    troupe::model_response r;
    r.tokens = {50, 20};
    const auto& last = call.messages.back();
    if (last.role == troupe::chat_role::user) {
      auto pos = last.content.find("order ");
      auto id = pos == std::string::npos ? "unknown" : last.content.substr(pos + 6);
      r.tool_calls.push_back({"look-1", "lookup_order",
                              nlohmann::json{{"order_id", id}}.dump()});
      return r;
    }
    nlohmann::json args{{"status", "success"}, {"answer", last.content}};
    r.tool_calls.push_back({"done-1", "complete", args.dump()});
    return r;
  }
};

troupe::scenario support_scenario() {
  troupe::scenario sc;
  sc.source = "embed-example";
  sc.agent = "desk";
  sc.workspace_root = std::filesystem::temp_directory_path() / "troupe-embed-work";
  sc.models["desk-model"] = {"desk-model", "custom"};
  sc.agents["desk"] = {"desk", "desk-model", "Answer order questions.",
                       {"lookup_order", "complete"}};
  // No tool runs without a policy decision: allow exactly what the desk needs.
  auto rules = troupe::parse_policy(R"(
    version = 1
    [[rule]]
    id = "orders-read-only"
    tool = "lookup_order"
    decision = "allow"
    [[rule]]
    id = "finish"
    tool = "complete"
    decision = "allow"
  )", "embed-example-policy");
  if (rules)
    sc.governance = *rules;
  return sc;
}

} // namespace

int main(int argc, char** argv) {
  std::string db = argc > 1 ? argv[1] : "embed.db";
  auto rt = troupe::runtime::create({db});
  if (!rt) {
    std::fprintf(stderr, "embed: %s\n", troupe::render(rt.error()).c_str());
    return 1;
  }
  if (auto err = (*rt)->register_tool(order_lookup_tool())) {
    std::fprintf(stderr, "embed: %s\n", troupe::render(err).c_str());
    return 1;
  }
  if (auto err = (*rt)->register_provider(
        "desk-model", std::make_shared<support_desk_model>())) {
    std::fprintf(stderr, "embed: %s\n", troupe::render(err).c_str());
    return 1;
  }
  auto sc = support_scenario();
  std::vector<troupe::run_handle> runs;
  for (auto task : {"Where is order A-1", "Where is order B-7"}) {
    troupe::run_request req;
    req.task = task;
    req.on_done = [](const troupe::run_result& r) {
      std::printf("callback: %s ended %s\n", r.run_id.c_str(),
                  std::string(troupe::to_string(r.status)).c_str());
    };
    auto h = (*rt)->start(sc, std::move(req));
    if (!h) {
      std::fprintf(stderr, "embed: %s\n", troupe::render(h.error()).c_str());
      return 1;
    }
    runs.push_back(*h);
  }
  int failures = 0;
  for (auto& h : runs) {
    auto r = h.result().get();
    std::printf("%s: %s: %s (%u turns, %u tool calls)\n", r.run_id.c_str(),
                std::string(troupe::to_string(r.status)).c_str(),
                r.answer.c_str(), r.totals.turns, r.totals.tool_calls);
    if (r.status != troupe::run_status::completed)
      ++failures;
  }
  auto again = (*rt)->result(runs.front().id());
  if (!again || again->answer.find("shipped") == std::string::npos) {
    std::fprintf(stderr, "embed: expected run A-1 to report the shipment\n");
    return 1;
  }
  std::printf("journal: %s\n", db.c_str());
  return failures == 0 ? 0 : 1;
}
