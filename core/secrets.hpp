#pragma once
// Scoped secrets: values come from a secrets file (`NAME=value` lines, `#`
// comments) or, for names the file does not define, from the process
// environment. A tool receives only the names its policy rule grants; values
// never enter messages, the journal, logs or exports, and tool output is
// redacted of every value the tool received.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace troupe {

class secret_store {
public:
  /// An empty store: every lookup goes to the environment.
  secret_store() = default;

  /// Reads a secrets file. Errors name file:line for a malformed line.
  [[nodiscard]] static caf::expected<secret_store> load(const std::string& path);

  /// The value of `name`, or nothing when neither the file nor the
  /// environment defines it.
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const;

  /// name -> value for each of `names` that is defined.
  [[nodiscard]] std::map<std::string, std::string>
  resolve(const std::vector<std::string>& names) const;

private:
  std::map<std::string, std::string> values_;
};

struct endpoint_config;

/// The key endpoint `e` authenticates with: its `api_key_env` variable, or
/// its `api_key_secret` from `secrets` (file, then environment); empty when
/// it declares neither. Error (invalid_scenario) when the one it declares is
/// not defined, naming the variable but never a value.
[[nodiscard]] caf::expected<std::string> api_key_of(const endpoint_config& e,
                                                    const secret_store& secrets);

} // namespace troupe
