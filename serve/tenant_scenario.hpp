#pragma once
// The scenario a tenant's job runs: the served one, or, for a tenant with its
// own policy file, a copy under that policy. The copy is registered with the
// runtime under its own name (`<file>#tenant=<name>`), which its runs
// journal, so a resume after a restart finds the same policy (the
// dispatcher's recovery registers them again).

#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "core/jobs/job.hpp"
#include "core/scenario.hpp"

namespace troupe {
class runtime;
}

namespace troupe::serve {

class scenario_catalog;

/// Errors (runtime_errc::invalid_scenario): the scenario is no longer
/// served, or the tenant's policy file does not load (named).
[[nodiscard]] caf::expected<std::shared_ptr<const scenario>>
scenario_for_tenant(const scenario_catalog& catalog, runtime& rt, const std::string& name,
                    const jobs::tenant& t);

} // namespace troupe::serve
