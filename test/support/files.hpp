#pragma once
// Whole files as strings: read one back byte for byte, or write one.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace troupe::test {

/// The bytes of the file at `path` (empty when it cannot be read).
inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Creates or truncates the file at `path` and writes `text` into it.
inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

} // namespace troupe::test
