#include "schemas/errors.hpp"

#include <caf/message.hpp>

namespace troupe {

std::string render(const caf::error& err) {
  if (!err)
    return "no error";
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return to_string(err);
}

} // namespace troupe
