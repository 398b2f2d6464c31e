// GET /v1/runs/{id}/events: Server-Sent Events of one run (serve/event_hub.hpp).

#include "core/jobs/job_json.hpp"
#include "schemas/errors.hpp"
#include "serve/detail/api_impl.hpp"
#include "serve/event_hub.hpp"
#include "serve/job_dispatcher.hpp"

namespace troupe::serve::detail {

namespace {

// Last-Event-ID (a reconnecting EventSource sends it) or ?after=: the seq
// after which to resume. Nothing when absent; an error text when malformed.
std::variant<uint32_t, std::string> resume_after(const net::server_request& req) {
  auto v = req.header("last-event-id");
  if (!v)
    v = req.query_param("after");
  if (!v || v->empty())
    return uint32_t{0};
  char* end = nullptr;
  errno = 0;
  auto n = std::strtoull(v->c_str(), &end, 10);
  if (*end != '\0' || errno != 0 || n > UINT32_MAX || (*v)[0] == '-')
    return "Last-Event-ID must be an event seq (a non-negative integer), not '"
           + v->substr(0, 40) + "'";
  return static_cast<uint32_t>(n);
}

} // namespace

void run_events(api::impl& a, call& c) {
  auto after = resume_after(c.req);
  if (auto* bad = std::get_if<std::string>(&after))
    return c.res.reply(net::problem(400, "invalid-request", "Invalid Last-Event-ID", *bad));
  std::string run_id;
  std::optional<jobs::job> job;
  {
    auto r = a.readers.take();
    if (!r)
      return c.res.reply(internal_error(r.error()));
    auto found = find_job(**r, c.who.tenant, c.parts[1]);
    if (!found)
      return c.res.reply(internal_error(found.error()));
    job = std::move(*found);
    // A job id follows its current attempt's run; a run id, that run.
    run_id = job && job->job_id == c.parts[1] ? attempt_run_id(*job) : c.parts[1];
    auto run = find_run(**r, c.who.tenant, run_id);
    if (!run)
      return c.res.reply(internal_error(run.error()));
    if (!job && !*run)
      return c.res.reply(not_found("run " + c.parts[1]));
  }
  auto stream = c.res.stream();
  // A job that ended without its run ever starting has no events to follow.
  if (job && !job->started_us && jobs::is_final(job->status)) {
    stream->send("", "end", nlohmann::json{{"reason", jobs::to_string(job->status)}}.dump());
    stream->close();
    return;
  }
  event_subscriber sub;
  sub.send = [stream](const std::string& id, const std::string& ev, const std::string& data) {
    return stream->send(id, ev, data);
  };
  sub.close = [stream] { stream->close(); };
  auto handle = a.d.hub.subscribe(run_id, std::get<uint32_t>(after), std::move(sub));
  auto* hub = &a.d.hub;
  stream->on_close([hub, handle] { hub->unsubscribe(handle); });
}

} // namespace troupe::serve::detail
