#include "serve/tenant_scenario.hpp"

#include "core/policy.hpp"
#include "core/runtime_errc.hpp"
#include "schemas/errors.hpp"
#include "serve/scenario_catalog.hpp"
#include "troupe/runtime.hpp"

namespace troupe::serve {

caf::expected<std::shared_ptr<const scenario>>
scenario_for_tenant(const scenario_catalog& catalog, runtime& rt, const std::string& name,
                    const jobs::tenant& t) {
  auto base = catalog.find(name);
  if (base == nullptr)
    return caf::make_error(runtime_errc::invalid_scenario,
                           "scenario '" + name + "' is no longer served");
  if (t.policy_file.empty())
    return base;
  auto governance = load_policy(t.policy_file);
  if (!governance)
    return caf::make_error(runtime_errc::invalid_scenario,
                           "tenant " + t.name + "'s policy: " + render(governance.error()));
  auto variant = std::make_shared<scenario>(*base);
  variant->governance = std::move(*governance);
  variant->source = base->source + "#tenant=" + t.name;
  rt.register_scenario(*variant);
  return std::shared_ptr<const scenario>(std::move(variant));
}

} // namespace troupe::serve
