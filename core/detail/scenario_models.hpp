#pragma once
// The [endpoints] and [models] tables of a scenario; called by
// parse_scenario (core/scenario.cpp) before [agents], which name models.

#include <string>

#include <caf/error.hpp>
#include <toml++/toml.h>

#include "core/detail/toml_reader.hpp"
#include "core/scenario.hpp"

namespace troupe::detail {

/// Fills `out.endpoints` and `out.models`. Errors as parse_scenario's.
[[nodiscard]] caf::error parse_model_tables(const toml::table& root, const std::string& source,
                                            scenario& out);

} // namespace troupe::detail
