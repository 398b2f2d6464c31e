#include <iostream>

#include "persistence/store_errc.hpp"
#include "core/runtime_errc.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

int report(const caf::error& err) {
  std::cerr << "troupe: " << render(err) << std::endl;
  using persistence::store_errc;
  if (err.category() == caf::atom("store")) {
    switch (static_cast<store_errc>(err.code())) {
      case store_errc::not_found:
        return exit_no_input;
      case store_errc::not_a_journal:
      case store_errc::newer_schema:
      case store_errc::needs_migration:
      case store_errc::corrupted:
        return exit_data;
      case store_errc::invalid_argument:
        return exit_usage;
      default:
        return exit_failure;
    }
  }
  if (err.category() == caf::atom("schema"))
    return exit_data;
  if (err.category() == caf::atom("runtime")
      && static_cast<runtime_errc>(err.code()) == runtime_errc::invalid_scenario)
    return exit_usage;
  return exit_failure;
}

} // namespace troupe::cli
