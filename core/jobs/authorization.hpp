#pragma once
// What each role may do through the API. Pure; the service asks
// `allows(key's role, action)` for every request, after it has found the
// key, and scopes every run, approval and listing to the key's tenant
// (another tenant's run is answered 404 whatever the role; that check is the
// service's, not this table's).
//
//                  read  submit  cancel  approve  requeue  manage_tenants
//   viewer          ✓
//   submitter       ✓      ✓
//   operator        ✓      ✓       ✓        ✓        ✓
//   admin           ✓      ✓       ✓        ✓        ✓          ✓
//
// Each role includes the ones below it. A submitter does not cancel: the
// tenant, not the key, owns a run, so "its own runs" would be every run of
// the tenant, and stopping other people's work is an operator's call (as
// the role list has it). A service whose submitting key must cancel
// what it submitted gets an operator key. manage_tenants covers tenants and
// their keys (create, revoke) and the audit listing.

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/jobs/job.hpp"

namespace troupe::jobs {

enum class api_action : uint8_t { read, submit, cancel, approve, requeue, manage_tenants };

[[nodiscard]] std::string_view to_string(api_action a);
[[nodiscard]] std::optional<api_action> api_action_from(std::string_view s);

/// Whether a key with role `r` may do `a` (table above).
[[nodiscard]] bool allows(role r, api_action a);

/// The least role that may do `a`: what a 403 names.
[[nodiscard]] role least_role_for(api_action a);

} // namespace troupe::jobs
