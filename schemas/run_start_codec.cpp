// RunStart <-> run_start (see schemas/detail/run_start_codec.hpp).

#include "schemas/detail/run_start_codec.hpp"

#include "schemas/detail/capnp_helpers.hpp"
#include "schemas/detail/delegation_codec.hpp"
#include "schemas/detail/team_codec.hpp"

namespace troupe::detail {

using namespace troupe::schema;

void put(RunStart::Builder b, const run_start& x) {
  b.setAgent(text(x.agent));
  b.setTenant(text(x.tenant));
  b.setTask(text(x.task));
  b.setModel(text(x.model));
  b.setInstructions(text(x.instructions));
  put(b.initTools(x.tools.size()), x.tools);
  put(b.initLimits(), x.limits);
  b.setScenario(text(x.scenario));
  b.setWorkspace(text(x.workspace));
  if (!x.external_tools.empty()) {
    auto tools = b.initExternalTools(static_cast<unsigned>(x.external_tools.size()));
    for (unsigned i = 0; i < x.external_tools.size(); ++i) {
      auto& t = x.external_tools[i];
      tools[i].setName(text(t.name));
      tools[i].setDescription(text(t.description));
      tools[i].setParametersJson(text(t.parameters_json));
      tools[i].setEffect(text(t.effect));
    }
  }
  b.setDepth(x.depth);
  if (!x.delegates.empty())
    put(b.initDelegates(x.delegates.size()), x.delegates);
  if (!x.children_on_end.empty())
    b.setChildrenOnEnd(text(x.children_on_end));
  if (!x.parent_call_id.empty())
    b.setParentCallId(text(x.parent_call_id));
  if (!x.verification.empty())
    put(b.initVerification(static_cast<unsigned>(x.verification.size())), x.verification);
  b.setMaxFixAttempts(x.max_fix_attempts);
  if (!x.artifact.empty())
    b.setArtifact(text(x.artifact));
  if (!x.role.empty())
    b.setRole(text(x.role));
  if (!x.phase.empty())
    b.setPhase(text(x.phase));
  if (!x.team.empty())
    b.setTeam(text(x.team));
  if (!x.phases.empty())
    put(b.initPhases(static_cast<unsigned>(x.phases.size())), x.phases);
  if (!x.checkpoints.empty())
    b.setCheckpoints(text(x.checkpoints));
}

run_start get(RunStart::Reader b) {
  run_start start{str(b.getAgent()), str(b.getTenant()), str(b.getTask()),
                  str(b.getModel()), str(b.getInstructions()),
                  get(b.getTools()), get(b.getLimits()),
                  str(b.getScenario()), str(b.getWorkspace()), {}};
  start.depth = b.getDepth();
  start.delegates = get(b.getDelegates());
  start.children_on_end = str(b.getChildrenOnEnd());
  start.parent_call_id = str(b.getParentCallId());
  start.verification = get(b.getVerification());
  start.max_fix_attempts = b.getMaxFixAttempts();
  start.artifact = str(b.getArtifact());
  start.role = str(b.getRole());
  start.phase = str(b.getPhase());
  start.team = str(b.getTeam());
  start.phases = get(b.getPhases());
  start.checkpoints = str(b.getCheckpoints());
  for (auto t : detail::backed(b.getExternalTools(), "external_tools"))
    start.external_tools.push_back({str(t.getName()), str(t.getDescription()),
                                    str(t.getParametersJson()), str(t.getEffect())});
  return start;
}

} // namespace troupe::detail
