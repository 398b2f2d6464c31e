// GET /v1/kpis: the caller's tenant's KPIs, the JSON of `troupe report
// --json` (core/report/), read by the same reader (persistence/kpi_reader).
// Without `since`, the last 24 hours; at most 31 days back, since every
// call folds its window's runs on the API's few workers: one key asking for
// all of history in a loop would stall every tenant's calls. Whole history
// is `troupe report`'s job, on the operator's machine.

#include <chrono>

#include "core/report/kpi_render.hpp"
#include "core/report/time_arg.hpp"
#include "persistence/kpi_reader.hpp"
#include "schemas/errors.hpp"
#include "serve/detail/api_impl.hpp"
#include "serve/detail/wall_clock.hpp"

namespace troupe::serve::detail {

namespace {

constexpr int64_t default_window_us = 24LL * 3600 * 1'000'000;
constexpr int64_t longest_window_us = 31LL * 24 * 3600 * 1'000'000;

} // namespace

void get_kpis(api::impl& a, call& c) {
  persistence::kpi_selection sel;
  sel.tenant = c.who.tenant;
  auto now = now_us();
  sel.since_us = now - default_window_us;
  if (auto s = c.req.query_param("since")) {
    // A form decoder reads an offset's `+` as a space: put it back.
    if (auto sp = s->rfind(' '); sp != std::string::npos && sp > s->find('T'))
      (*s)[sp] = '+';
    auto since = report::parse_since(*s, now);
    if (!since)
      return c.res.reply(net::problem(400, "invalid-request", "Invalid since", render(since.error())));
    if (*since < now - longest_window_us)
      return c.res.reply(net::problem(400, "invalid-request", "Invalid since",
                                      "since reaches back more than 31 days ('" + *s
                                        + "'); use `troupe report` for longer windows"));
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
