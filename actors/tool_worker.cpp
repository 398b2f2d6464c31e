#include "actors/tool_worker.hpp"

#include <chrono>
#include <cstdint>

#include <caf/actor_pool.hpp>
#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/messages.hpp"

namespace troupe {

namespace {

tool_outcome execute(const tool_registry& registry, const tool_request& req) {
  auto* def = registry.find(req.name);
  if (def == nullptr)
    return {false, "unknown tool '" + req.name + "'", false};
  auto args = nlohmann::json::parse(req.args_json, nullptr, false);
  if (args.is_discarded())
    return {false, req.name + ": arguments are not JSON", false};
  tool_context ctx{req.workspace_root, req.run_id, req.call_id, req.granted_secrets,
                   req.network, req.unsandboxed};
  return invoke_tool(*def, args, ctx);
}

caf::behavior tool_worker(caf::event_based_actor*,
                          std::shared_ptr<const tool_registry> registry) {
  return {
    [=](execute_atom, const tool_request& req) -> tool_outcome {
      return execute(*registry, req);
    },
    [=](execute_atom, const tool_request& req, int64_t give_up_ns) -> tool_outcome {
      // The requester journaled this call as timed out and went on; running
      // it now, behind a slow call on this worker, would be an effect no
      // journal records.
      auto now = std::chrono::steady_clock::now().time_since_epoch();
      if (std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() >= give_up_ns)
        return {false, req.name + ": not run: its caller stopped waiting before a worker "
                                  "was free", false};
      return execute(*registry, req);
    },
  };
}

} // namespace

caf::actor spawn_tool_pool(caf::actor_system& sys,
                           std::shared_ptr<const tool_registry> registry,
                           size_t workers, bool detached) {
  auto factory = [=, &sys] {
    return detached ? sys.spawn<caf::detached>(tool_worker, registry)
                    : sys.spawn(tool_worker, registry);
  };
  return caf::actor_pool::make(sys.dummy_execution_unit(), workers, factory,
                               caf::actor_pool::round_robin());
}

} // namespace troupe
