#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/model_provider.hpp"
#include "core/scenario.hpp"

namespace troupe {

/// The deterministic provider: replies come from the scenario's
/// `[[script.<agent>]]` tables, in order, per run. A run that asks for more
/// replies than its script has gets the failure "exhausted", as an endpoint
/// that stopped answering would give.
class script_provider final : public model_provider {
public:
  explicit script_provider(std::map<std::string, std::vector<scripted_reply>> scripts);

  [[nodiscard]] model_response complete(const model_call& call) override;

private:
  std::map<std::string, std::vector<scripted_reply>> scripts_;
};

} // namespace troupe
