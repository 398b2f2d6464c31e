#include "net/detail/sse_format.hpp"

namespace troupe::net::detail {

namespace {

void append_field(std::string& out, std::string_view name, std::string_view value,
                  bool drop_nul) {
  out.append(name);
  out.append(": ");
  for (char c : value)
    if (c != '\r' && c != '\n' && !(drop_nul && c == '\0'))
      out.push_back(c);
  out.push_back('\n');
}

} // namespace

void append_sse_event(std::string& out, std::string_view id, std::string_view event,
                      std::string_view data) {
  if (!id.empty())
    append_field(out, "id", id, true);
  if (!event.empty())
    append_field(out, "event", event, false);
  size_t start = 0;
  for (;;) {
    auto end = data.find_first_of("\r\n", start);
    out.append("data: ");
    out.append(data.substr(start, end == std::string_view::npos ? end : end - start));
    out.push_back('\n');
    if (end == std::string_view::npos)
      break;
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n')
      ++start;
  }
  out.push_back('\n');
}

void append_sse_comment(std::string& out, std::string_view text) {
  out.append(": ");
  for (char c : text)
    if (c != '\r' && c != '\n')
      out.push_back(c);
  out.append("\n\n");
}

} // namespace troupe::net::detail
