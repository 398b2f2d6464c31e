#include "core/providers/discovery.hpp"

#include <nlohmann/json.hpp>

#include "core/runtime_errc.hpp"

namespace troupe::providers {

std::string models_path(provider_kind provider) {
  switch (provider) {
    case provider_kind::openai:
      return "/models";
    case provider_kind::ollama:
      return "/api/tags";
    default:
      return {};
  }
}

caf::expected<std::vector<std::string>> parse_model_list(provider_kind provider,
                                                         std::string_view body) {
  auto fail = [&](const std::string& what) {
    return caf::make_error(runtime_errc::invalid_arguments,
                           std::string{to_string(provider)} + " model listing: " + what);
  };
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail("the body is not a JSON object");
  const char* list = provider == provider_kind::ollama ? "models" : "data";
  const char* field = provider == provider_kind::ollama ? "name" : "id";
  auto items = j.find(list);
  if (items == j.end() || !items->is_array())
    return fail(std::string{"no array '"} + list + "'");
  std::vector<std::string> out;
  for (auto& item : *items) {
    auto name = item.is_object() ? item.find(field) : item.end();
    if (!item.is_object() || name == item.end() || !name->is_string())
      return fail(std::string{"an entry of '"} + list + "' has no string '" + field + "'");
    out.push_back(name->get<std::string>());
  }
  return out;
}

} // namespace troupe::providers
