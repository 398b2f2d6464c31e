#include "core/builtin_tools.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

caf::expected<scenario> load_console_scenario(const std::string& path) {
  tool_registry builtins;
  if (auto err = register_builtin_tools(builtins))
    return err;
  auto known = builtins.names();
  known.push_back("shell"); // registered by the runtime, with its sandbox pool
  return load_scenario(path, known);
}

} // namespace troupe::cli
