#pragma once
// A policy rule's globs compiled for matching: what `policy_rule::compiled`
// points to. Internal to core/ (the embedding API sees only the pointer), so
// the glob engine stays out of the public headers.

#include <vector>

#include "core/glob.hpp"

namespace troupe::detail {

struct rule_globs {
  compiled_glob tool;
  std::vector<compiled_glob> paths;
  std::vector<compiled_glob> hosts;
};

} // namespace troupe::detail
