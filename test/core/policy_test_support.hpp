#pragma once
// What the policy tests share (policy_parse_test.cpp, policy_decide_test.cpp):
// an example policy using every key, parsing helpers, and a call to decide on.

#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "core/policy.hpp"
#include "schemas/errors.hpp"

namespace troupe::test::policy_support {

inline constexpr const char* example = R"(version = 1
mode = "enforce"
default = "ask"
approval_timeout_ms = 120000

[[rule]]
id = "read-anything"
tool = "read_file"
decision = "allow"
paths = ["**"]
agents = ["lead"]

[[rule]]
id = "shell-git-status"
tool = "shell"
command_prefix = ["git", "status"]
decision = "allow"
secrets = ["GITHUB_TOKEN"]
network = true
roles = ["dev", "ops"]
tenants = ["acme"]

[[rule]]
id = "fetch-internal"
tool = "http_get"
hosts = ["*.Internal.example", "api.example.com"]
decision = "ask"
timeout_ms = 60000

[[rule]]
id = "ls"
tool = "shell"
command = ["ls", "-la"]
decision = "allow"
paths = ["./src//", "docs/**/"]
)";

// One fixed line so a case appended below starts on line 2.
inline constexpr const char* header = "version = 1\n";

inline caf::expected<troupe::policy>
parse_text(const std::string& text, std::vector<troupe::policy_warning>* warnings = nullptr) {
  return troupe::parse_policy(text, "policy.toml", warnings);
}

inline troupe::policy must_parse(const std::string& text) {
  auto p = parse_text(text);
  BOOST_REQUIRE_MESSAGE(p, troupe::render(p));
  return std::move(*p);
}

inline troupe::call_context call(std::string tool, const std::string& args = "{}",
                                 std::string agent = "lead", std::string role = "",
                                 std::string tenant = "default") {
  return {std::move(tool), nlohmann::json::parse(args), std::move(agent), std::move(role),
          std::move(tenant)};
}

inline bool is_hex16(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace troupe::test::policy_support
