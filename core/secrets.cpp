#include "core/secrets.hpp"

#include <cctype>
#include <cstdlib>
#include <sstream>

#include "core/model_endpoint.hpp"
#include "core/runtime_errc.hpp"
#include "core/text_file.hpp"

namespace troupe {

caf::expected<secret_store> secret_store::load(const std::string& path) {
  // A directory or a FIFO is refused (a FIFO would block the open).
  auto text = read_text_file(path, "secrets file", "a regular file of NAME=value lines");
  if (!text)
    return std::move(text.error());
  std::istringstream in(std::move(*text));
  secret_store out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#')
      continue;
    auto eq = line.find('=');
    auto name = eq == std::string::npos ? std::string{} : line.substr(first, eq - first);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
      name.pop_back();
    bool valid = !name.empty();
    for (char c : name)
      valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    // The line itself is never quoted back: it holds a secret.
    if (!valid)
      return caf::make_error(runtime_errc::invalid_scenario,
                             path + ":" + std::to_string(number)
                               + ": expected NAME=value with NAME made of letters, "
                                 "digits and '_'");
    out.values_[name] = line.substr(eq + 1);
  }
  return out;
}

std::optional<std::string> secret_store::get(const std::string& name) const {
  if (auto i = values_.find(name); i != values_.end())
    return i->second;
  if (const char* v = std::getenv(name.c_str()))
    return std::string(v);
  return std::nullopt;
}

std::map<std::string, std::string>
secret_store::resolve(const std::vector<std::string>& names) const {
  std::map<std::string, std::string> out;
  for (auto& n : names)
    if (auto v = get(n))
      out[n] = *v;
  return out;
}

caf::expected<std::string> api_key_of(const endpoint_config& e, const secret_store& secrets) {
  if (!e.api_key_env.empty()) {
    const char* value = std::getenv(e.api_key_env.c_str());
    if (value == nullptr || *value == '\0')
      return caf::make_error(runtime_errc::invalid_scenario,
                             "endpoint '" + e.name + "' reads its key from environment "
                               "variable " + e.api_key_env + ", which is not set");
    return std::string{value};
  }
  if (!e.api_key_secret.empty()) {
    auto value = secrets.get(e.api_key_secret);
    if (!value || value->empty())
      return caf::make_error(runtime_errc::invalid_scenario,
                             "endpoint '" + e.name + "' reads its key from secret "
                               + e.api_key_secret + ", which neither the secrets file nor "
                               "the environment defines");
    return std::move(*value);
  }
  return std::string{};
}

} // namespace troupe
