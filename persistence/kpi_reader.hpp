#pragma once
// Reads what a KPI report needs from a journal: the facts of every top-level
// run started at or after a time, optionally of one tenant, each folded with
// its delegation tree (core/report/run_facts.hpp). Shared by `troupe report`
// and `GET /v1/kpis`, so both give the same figures.
//
// A top-level run is a runs-table row without a parent. Its start and tenant
// are its row's (created_us is the run_start's time, tenant its tenant), so
// runs outside the window or of another tenant are never decoded. Each run
// of a selected tree is read verified (store::load_run): a damaged run makes
// the whole read fail naming it, as every other reader of the journal does.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/report/run_facts.hpp"
#include "persistence/store.hpp"

namespace troupe::persistence {

struct kpi_selection {
  std::optional<int64_t> since_us;
  std::optional<std::string> tenant;
};

/// The facts of the selected top-level runs, oldest first (then by run id).
[[nodiscard]] caf::expected<std::vector<report::run_facts>>
read_run_facts(store& journal, const kpi_selection& sel);

} // namespace troupe::persistence
