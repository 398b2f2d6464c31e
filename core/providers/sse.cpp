#include "core/providers/sse.hpp"

#include <algorithm>

namespace troupe::providers {

namespace {

constexpr std::string_view bom = "\xEF\xBB\xBF";

} // namespace

sse_parser::sse_parser(size_t max_line) : max_(max_line), lines_(true, max_line) {}

bool sse_parser::feed(std::string_view bytes, std::vector<sse_event>& out) {
  if (!error_.empty())
    return false;
  if (!bom_done_) {
    // A UTF-8 byte order mark may open the stream; it can arrive split too.
    size_t take = std::min(bytes.size(), bom.size() - bom_.size());
    bom_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (bom_.size() < bom.size() && bom.substr(0, bom_.size()) == bom_)
      return true;
    bom_done_ = true;
    if (bom_ != bom) {
      std::string head = std::move(bom_);
      if (!check(lines_.feed(head, [&](std::string_view l) { on_line(l, out); })))
        return false;
    }
  }
  return check(lines_.feed(bytes, [&](std::string_view l) { on_line(l, out); }));
}

bool sse_parser::finish(std::vector<sse_event>& out) {
  if (!error_.empty())
    return false;
  if (!bom_done_) {
    // The body ended inside what could have been a BOM: those are bytes.
    bom_done_ = true;
    std::string head = std::move(bom_);
    if (!check(lines_.feed(head, [&](std::string_view l) { on_line(l, out); })))
      return false;
  }
  if (!check(lines_.finish([&](std::string_view l) { on_line(l, out); })))
    return false;
  if (error_.empty())
    dispatch(out);
  return error_.empty();
}

bool sse_parser::check(bool ok) {
  if (!ok && error_.empty())
    error_ = "line " + std::to_string(lines_.lines() + 1) + " is longer than "
             + std::to_string(max_) + " bytes";
  return error_.empty();
}

void sse_parser::on_line(std::string_view line, std::vector<sse_event>& out) {
  if (!error_.empty())
    return;
  if (line.empty()) {
    dispatch(out);
    return;
  }
  if (line[0] == ':')
    return;
  auto colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ')
      value.remove_prefix(1);
  }
  if (field == "event") {
    pending_.type.assign(value);
  } else if (field == "data") {
    if (!has_data_)
      pending_.line = lines_.lines();
    if (pending_.data.size() + value.size() + 1 > max_) {
      error_ = "the data of the event at line " + std::to_string(pending_.line)
               + " is longer than " + std::to_string(max_) + " bytes";
      return;
    }
    pending_.data.append(value);
    pending_.data.push_back('\n');
    has_data_ = true;
  }
  // id, retry and unknown fields mean nothing to a model stream.
}

void sse_parser::dispatch(std::vector<sse_event>& out) {
  if (has_data_) {
    pending_.data.pop_back(); // the "\n" after the last data line
    out.push_back(std::move(pending_));
  }
  pending_ = sse_event{};
  has_data_ = false;
}

} // namespace troupe::providers
