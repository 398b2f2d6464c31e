#include "mcp/detail/stdio_text.hpp"

#include <cstring>
#include <vector>

#include <sys/wait.h>

#include "core/envelope.hpp"

namespace troupe::mcp::detail {

void tail_buffer::append(std::string_view bytes) {
  if (bytes.size() >= cap_) {
    text_.assign(bytes.substr(bytes.size() - cap_));
    return;
  }
  size_t keep = cap_ - bytes.size();
  if (text_.size() > keep)
    text_.erase(0, text_.size() - keep);
  text_.append(bytes);
}

std::string last_lines(std::string_view text, size_t count) {
  std::vector<std::string_view> lines;
  while (!text.empty() && lines.size() < count) {
    size_t nl = text.find_last_of('\n');
    std::string_view line = nl == std::string_view::npos ? text : text.substr(nl + 1);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(0, nl);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos)
      lines.push_back(line);
  }
  std::string out;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (!out.empty())
      out += " | ";
    out += escape_unprintable(*it, 300);
  }
  return out;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::string out = "was killed by signal " + std::to_string(sig);
    if (const char* name = sigabbrev_np(sig))
      out += std::string{" ("} + name + ")";
    return out;
  }
  return "ended with wait status " + std::to_string(status);
}

} // namespace troupe::mcp::detail
