#include "persistence/detail/job_rows.hpp"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "persistence/detail/job_codes.hpp"
#include "persistence/store_errc.hpp"

namespace troupe::persistence::detail {

namespace {

caf::error bad_row(const std::string& path, const std::string& job_id,
                   const std::string& what) {
  return caf::make_error(store_errc::corrupted,
                         path + ": job " + job_id + " has " + what
                           + "; run `troupe doctor --db " + path + "`");
}

caf::expected<std::vector<std::string>> parse_labels(const std::string& text,
                                                     const std::string& path,
                                                     const std::string& job_id) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array())
    return bad_row(path, job_id, "labels that are not a JSON array: " + text.substr(0, 80));
  std::vector<std::string> out;
  for (auto& x : j) {
    if (!x.is_string())
      return bad_row(path, job_id, "a label that is not a string: " + text.substr(0, 80));
    out.push_back(x.get<std::string>());
  }
  return out;
}

} // namespace

caf::expected<jobs::job> read_job(const statement& st, const std::string& path) {
  jobs::job j;
  j.seq = static_cast<uint64_t>(st.int_at(0));
  j.job_id = st.text_at(1);
  j.run_id = st.text_at(2);
  j.tenant = st.text_at(3);
  j.key_id = st.text_at(4);
  j.scenario = st.text_at(5);
  j.task = st.text_at(6);
  auto priority = priority_from_ordinal(st.int_at(7));
  if (!priority)
    return bad_row(path, j.job_id, "priority " + std::to_string(st.int_at(7))
                                     + " (known: 0 high, 1 normal, 2 low)");
  j.priority = *priority;
  auto labels = parse_labels(st.text_at(8), path, j.job_id);
  if (!labels)
    return std::move(labels.error());
  j.labels = std::move(*labels);
  j.idempotency_key = st.text_at(9);
  auto status = status_from_text(st.text_at(10));
  if (!status)
    return bad_row(path, j.job_id, "status '" + st.text_at(10) + "', which this troupe does not know");
  j.status = *status;
  j.submitted_us = st.int_at(11);
  j.deadline_us = st.int_at(12);
  j.started_us = st.int_at(13);
  j.ended_us = st.int_at(14);
  j.not_before_us = st.int_at(15);
  j.attempts = static_cast<uint32_t>(st.int_at(16));
  j.sla_breached = st.int_at(17) != 0;
  j.error = st.text_at(18);
  j.starts = static_cast<uint32_t>(st.int_at(19));
  return j;
}

std::string labels_json(const std::vector<std::string>& labels) {
  // Labels come from HTTP clients: invalid UTF-8 is replaced rather than
  // allowed to make dump() throw.
  return nlohmann::json(labels).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string encode_cursor(uint64_t seq) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), hex[seq & 0xf]);
    seq >>= 4;
  } while (seq != 0);
  return "c" + digits;
}

caf::expected<uint64_t> decode_cursor(std::string_view cursor) {
  auto bad = [&] {
    std::string shown(cursor.substr(0, 40));
    for (auto& c : shown)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
        c = '?';
    return caf::make_error(store_errc::invalid_argument,
                           "cursor '" + shown
                             + "' is not one this server handed out; pass the "
                               "next_cursor of the previous page, or none for the first");
  };
  // Exactly what encode_cursor writes: 'c', 1-16 lowercase hex digits
  // without leading zeros, a seq above 0. One spelling per seq, so a
  // cursor cannot be forged into an equal-looking other one.
  if (cursor.size() < 2 || cursor.size() > 17 || cursor[0] != 'c' || cursor[1] == '0')
    return bad();
  uint64_t seq = 0;
  for (auto c : cursor.substr(1)) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0)
      return bad();
    seq = (seq << 4) | static_cast<uint64_t>(d);
  }
  if (seq > static_cast<uint64_t>(INT64_MAX)) // seqs are SQLite rowids
    return bad();
  return seq;
}

} // namespace troupe::persistence::detail
