#include "serve/scenario_catalog.hpp"

#include <algorithm>
#include <filesystem>

#include "core/runtime_errc.hpp"
#include "schemas/errors.hpp"

namespace troupe::serve {

namespace fs = std::filesystem;

scenario_catalog::scenario_catalog(std::string dir, scenario_loader load)
  : dir_(std::move(dir)), load_(std::move(load)) {}

caf::expected<std::vector<catalog_problem>> scenario_catalog::reload() {
  std::error_code ec;
  fs::directory_iterator it{dir_, ec};
  if (ec)
    return caf::make_error(runtime_errc::io_failed,
                           dir_ + ": cannot read the scenario directory: " + ec.message());
  std::vector<fs::path> files;
  for (auto& entry : it)
    if (entry.path().extension() == ".toml" && entry.is_regular_file(ec))
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<catalog_problem> problems;
  std::map<std::string, std::shared_ptr<const scenario>> fresh;
  // Parse outside the lock: readers keep the old snapshot meanwhile.
  std::map<std::string, std::shared_ptr<const scenario>> old;
  {
    std::lock_guard<std::mutex> guard{mu_};
    old = by_name_;
  }
  for (auto& file : files) {
    auto name = file.stem().string();
    auto sc = load_(file.string());
    if (sc) {
      fresh[name] = std::make_shared<const scenario>(std::move(*sc));
      continue;
    }
    problems.push_back({file.string(), render(sc.error())});
    if (auto i = old.find(name); i != old.end())
      fresh[name] = i->second;
  }
  std::lock_guard<std::mutex> guard{mu_};
  by_name_ = std::move(fresh);
  return problems;
}

std::shared_ptr<const scenario> scenario_catalog::find(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mu_};
  auto i = by_name_.find(name);
  return i == by_name_.end() ? nullptr : i->second;
}

std::vector<std::string> scenario_catalog::names() const {
  std::lock_guard<std::mutex> guard{mu_};
  std::vector<std::string> out;
  for (auto& [name, sc] : by_name_)
    out.push_back(name);
  return out;
}

} // namespace troupe::serve
