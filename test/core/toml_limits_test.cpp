// TOML input is bounded before toml++ parses it: nesting deep enough to
// overflow the parser's stack, and oversized files, are errors naming the
// file, the line and the limit, for scenarios and for policies alike.

#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>

#include "core/policy.hpp"
#include "core/scenario.hpp"
#include "core/toml_limits.hpp"
#include "schemas/errors.hpp"

namespace {

using troupe::check_toml_limits;
using troupe::max_toml_depth;

std::string repeat(const std::string& s, size_t n, const std::string& sep = "") {
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += (i ? sep : "") + s;
  return out;
}

/// Hostile shapes, each `levels` deep, after a harmless first line (so the
/// error's line number is checked too).
std::vector<std::pair<std::string, std::string>> deep_files(size_t levels) {
  auto header = "[" + repeat("a", levels, ".") + "]\nx = 1\n";
  auto array_header = "[[" + repeat("a", levels, ".") + "]]\nx = 1\n";
  auto dotted = repeat("a", levels, ".") + " = 1\n";
  auto inline_tables = "x = " + repeat("{a=", levels) + "1" + repeat("}", levels) + "\n";
  auto arrays = "x = " + repeat("[", levels) + "1" + repeat("]", levels) + "\n";
  auto mixed = "x = " + repeat("{a.a.a = [", (levels + 3) / 4) + "1" + repeat("]}", (levels + 3) / 4) + "\n";
  std::string first = "# a comment\n";
  return {{"header", first + header},       {"array header", first + array_header},
          {"dotted key", first + dotted},   {"inline tables", first + inline_tables},
          {"arrays", first + arrays},       {"mixed", first + mixed}};
}

using parse_fn = std::function<caf::error(const std::string&)>;

caf::error as_scenario(const std::string& text) {
  auto sc = troupe::parse_scenario(text, "deep.toml", "/tmp", {"echo"});
  return sc ? caf::error{} : sc.error();
}

caf::error as_policy(const std::string& text) {
  auto p = troupe::parse_policy(text, "deep.toml");
  return p ? caf::error{} : p.error();
}

} // namespace

BOOST_AUTO_TEST_SUITE(toml_limits)

BOOST_AUTO_TEST_CASE(deep_nesting_is_an_error_not_a_crash) {
  for (auto& [kind, parse] : {std::pair<const char*, parse_fn>{"scenario", as_scenario},
                              std::pair<const char*, parse_fn>{"policy", as_policy}}) {
    for (auto& [shape, text] : deep_files(50000)) {
      BOOST_TEST_CONTEXT(kind << ", " << shape) {
        auto err = parse(text);
        BOOST_REQUIRE(static_cast<bool>(err));
        auto msg = troupe::render(err);
        BOOST_TEST(msg.rfind("deep.toml:2:", 0) == 0u, msg);
        BOOST_TEST(msg.find("nested more than 64 levels") != std::string::npos, msg);
        BOOST_TEST(msg.size() < 400u, msg);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(nesting_up_to_the_limit_passes_the_scan) {
  // Each shape nests about `levels` deep, give or take one.
  for (auto& [shape, text] : deep_files(max_toml_depth - 2))
    BOOST_TEST(!static_cast<bool>(check_toml_limits(text, "ok.toml")), shape);
  for (auto& [shape, text] : deep_files(max_toml_depth + 2))
    BOOST_TEST(static_cast<bool>(check_toml_limits(text, "deep.toml")), shape);
}

BOOST_AUTO_TEST_CASE(brackets_and_dots_in_strings_and_comments_do_not_count) {
  auto many = repeat("[{a.", 200);
  std::string text = "# " + many + "\n"
                     "a = \"" + many + "\\\"" + many + "\"\n"
                     "b = '" + many + "'\n"
                     "c = \"\"\"\n" + many + "\n\"" + many + "\"\"\"\"\"\n"
                     "d = '''\n" + many + "\n'''\n"
                     "\"" + many + "\" = 1.5\n"
                     "e = [1.5, 2024-01-01T00:00:00.5Z, \"" + many + "\"]\n"
                     "f = { \"x.y\" = 1, g = { h = 2 } }\n";
  auto err = check_toml_limits(text, "strings.toml");
  BOOST_TEST(!static_cast<bool>(err), troupe::render(err));
}

BOOST_AUTO_TEST_CASE(oversized_files_are_refused_naming_the_limit) {
  std::string text = "# " + std::string(troupe::max_toml_bytes, 'x') + "\n";
  for (auto& [kind, parse] : {std::pair<const char*, parse_fn>{"scenario", as_scenario},
                              std::pair<const char*, parse_fn>{"policy", as_policy}}) {
    BOOST_TEST_CONTEXT(kind) {
      auto err = parse(text);
      BOOST_REQUIRE(static_cast<bool>(err));
      auto msg = troupe::render(err);
      BOOST_TEST(msg.rfind("deep.toml: ", 0) == 0u, msg);
      BOOST_TEST(msg.find("4 MiB") != std::string::npos, msg);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
