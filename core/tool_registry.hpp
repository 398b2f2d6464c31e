#pragma once
// The set of tools a run may call, by name. Registration checks everything
// that can be checked before a call: the name, the handler, and the
// parameters schema (so an unsupported keyword fails here, at startup, and
// not silently at call time).

#include <caf/make_message.hpp> // before runtime_errc.hpp: its macro needs make_message
#include <caf/error.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/chat.hpp"
#include "core/runtime_errc.hpp"
#include "core/tool.hpp"

namespace troupe {

/// Holds tool definitions by name.
///
/// Thread safety: build the registry first, then share it read-only; the
/// const members may be called concurrently, `add` may not.
class tool_registry {
public:
  /// Adds `def`. Fails with `runtime_errc::invalid_arguments` when the name is
  /// empty, not `[A-Za-z0-9_-]{1,64}`, or already registered, when the handler
  /// is empty, or when `def.parameters` is not a supported schema whose top
  /// level is `"type": "object"`. The context names the tool and the problem.
  [[nodiscard]] caf::error add(tool_definition def);

  /// Returns the tool named `name`, or nullptr. The pointer stays valid until
  /// the registry is destroyed (`add` never moves existing entries).
  [[nodiscard]] const tool_definition* find(std::string_view name) const;

  /// The tool as a model is offered it: name, description and parameters as
  /// JSON text, written once by `add` (runs offer their tools every turn).
  /// nullptr for an unknown name.
  [[nodiscard]] const tool_spec* spec(std::string_view name) const;

  /// The registered names, sorted.
  [[nodiscard]] std::vector<std::string> names() const;

  [[nodiscard]] size_t size() const noexcept {
    return tools_.size();
  }

private:
  struct entry {
    tool_definition def;
    tool_spec spec;
  };
  // std::map: stable addresses for `find` and sorted order for `names`.
  std::map<std::string, entry, std::less<>> tools_;
};

} // namespace troupe
