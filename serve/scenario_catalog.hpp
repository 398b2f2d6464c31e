#pragma once
// The scenarios `troupe serve` offers: every `*.toml` in one directory,
// named by file stem (`examples/hello.toml` is "hello"). Each file is parsed
// and validated before it is served; `reload` (SIGHUP) parses them all again
// and swaps in the ones that parse, keeps the previous version of each one
// that does not (and reports it), adds new files and drops deleted ones.
// Thread-safe: readers get an immutable snapshot.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/scenario.hpp"

namespace troupe::serve {

using scenario_loader = std::function<caf::expected<scenario>(const std::string& path)>;

struct catalog_problem {
  std::string file;
  std::string error;
};

class scenario_catalog {
public:
  scenario_catalog(std::string dir, scenario_loader load);

  /// Parses every file again. Returns the files that failed (their previous
  /// version, if any, stays served). Errors: the directory cannot be read.
  [[nodiscard]] caf::expected<std::vector<catalog_problem>> reload();

  [[nodiscard]] std::shared_ptr<const scenario> find(const std::string& name) const;
  [[nodiscard]] std::vector<std::string> names() const;
  [[nodiscard]] const std::string& dir() const { return dir_; }

private:
  std::string dir_;
  scenario_loader load_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const scenario>> by_name_;
};

} // namespace troupe::serve
