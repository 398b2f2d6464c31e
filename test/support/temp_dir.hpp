#pragma once
// A unique directory under /tmp for one test, removed with everything in it
// when the test ends.

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/test/unit_test.hpp>

namespace troupe::test {

struct temp_dir {
  /// Creates /tmp/<prefix>-XXXXXX.
  explicit temp_dir(std::string_view prefix = "troupe-test") {
    std::string tmpl = "/tmp/" + std::string{prefix} + "-XXXXXX";
    auto* p = ::mkdtemp(tmpl.data());
    BOOST_REQUIRE_MESSAGE(p != nullptr, tmpl << ": " << std::strerror(errno));
    path = p;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// The path of `name` inside the directory, as a string.
  std::string file(std::string_view name) const { return (path / name).string(); }

  std::filesystem::path path;
};

} // namespace troupe::test
