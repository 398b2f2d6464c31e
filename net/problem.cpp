#include "net/problem.hpp"

namespace troupe::net {

std::string problem_type(std::string_view slug) {
  std::string out = "https://troupe.dev/problems/";
  out.append(slug);
  return out;
}

server_response problem(int status, std::string_view slug, std::string_view title,
                        std::string detail, nlohmann::json extra) {
  nlohmann::json body = {{"type", problem_type(slug)},
                         {"title", std::string{title}},
                         {"status", status},
                         {"detail", std::move(detail)}};
  if (extra.is_object())
    for (auto& [key, value] : extra.items())
      if (!body.contains(key))
        body[key] = value;
  server_response r;
  r.status = status;
  r.content_type = "application/problem+json";
  // Invalid UTF-8 in a detail (it may quote client input) is replaced, not thrown.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

} // namespace troupe::net
