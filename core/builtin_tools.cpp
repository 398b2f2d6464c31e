#include "core/builtin_tools.hpp"

#include <string>

#include "core/delegation.hpp"
#include "core/tool_helpers.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;
using detail::failed;
using detail::string_arg;

// -- echo ---------------------------------------------------------------------

tool_outcome run_echo(const json& args, const tool_context&) {
  return {true, args.dump(-1, ' ', false, json::error_handler_t::replace), false};
}

// -- complete -----------------------------------------------------------------

tool_outcome run_complete(const json& args, const tool_context&) {
  auto answer = string_arg(args, "answer");
  if (!answer)
    return failed("complete", "argument 'answer' must be a string");
  return {true, std::move(*answer), false};
}

} // namespace

tool_definition make_echo_tool() {
  return {"echo",
          "Returns its arguments as compact JSON. Useful to test tool calling.",
          json{{"type", "object"}}, tool_effect::pure, run_echo};
}

tool_definition make_complete_tool() {
  return {"complete",
          "Ends the task. Call it exactly once, when done, with the final answer.",
          json{{"type", "object"},
               {"properties",
                {{"status", {{"type", "string"},
                             {"enum", {"success", "failure", "partial"}},
                             {"description", "How the task ended."}}},
                 {"answer", {{"type", "string"},
                             {"description", "The final answer for the user."}}}}},
               {"required", {"status", "answer"}},
               {"additionalProperties", false}},
          tool_effect::pure, run_complete};
}

caf::error register_builtin_tools(tool_registry& registry) {
  for (auto make : {make_echo_tool, make_read_file_tool, make_write_file_tool,
                    make_append_file_tool, make_list_dir_tool, make_complete_tool,
                    make_delegate_tool})
    if (auto err = registry.add(make()))
      return err;
  return caf::none;
}

} // namespace troupe
