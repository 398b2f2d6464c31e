// GET /v1/kpis: the caller's tenant's KPIs, the JSON of `troupe report
// --json` (core/report/), read by the same reader (persistence/kpi_reader).
// Without `since`, the last 24 hours: a dashboard polling it must not fold
// the whole journal on every call.

#include <chrono>

#include "core/report/kpi_render.hpp"
#include "core/report/time_arg.hpp"
#include "persistence/kpi_reader.hpp"
#include "schemas/errors.hpp"
#include "serve/detail/api_impl.hpp"

namespace troupe::serve::detail {

namespace {

constexpr int64_t default_window_us = 24LL * 3600 * 1'000'000;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

void get_kpis(api::impl& a, call& c) {
  persistence::kpi_selection sel;
  sel.tenant = c.who.tenant;
  auto now = now_us();
  sel.since_us = now - default_window_us;
  if (auto s = c.req.query_param("since")) {
    auto since = report::parse_since(*s, now);
    if (!since)
      return c.res.reply(net::problem(400, "invalid-request", "Invalid since", render(since.error())));
    sel.since_us = *since;
  }
  std::optional<report::bucket_size> bucket;
  if (auto b = c.req.query_param("bucket")) {
    if (*b == "hour")
      bucket = report::bucket_size::hour;
    else if (*b == "day")
      bucket = report::bucket_size::day;
    else
      return c.res.reply(net::problem(400, "invalid-request", "Invalid bucket",
                                      "bucket must be hour or day, not '" + *b + "'"));
  }
  auto r = a.readers.take();
  if (!r)
    return c.res.reply(internal_error(r.error()));
  auto facts = persistence::read_run_facts((*r)->journal, sel);
  if (!facts)
    return c.res.reply(internal_error(facts.error()));
  c.res.reply(json_reply(200, report::to_json(report::make_report(*facts, sel.since_us,
                                                                  sel.tenant, bucket))));
}

} // namespace troupe::serve::detail
