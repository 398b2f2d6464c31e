#include "tools/troupe/bench_serve_streams.hpp"

#include <algorithm>
#include <cstdlib>

namespace troupe::cli {

// One subscriber; written only on the client's I/O thread until it ended.
struct sse_fanout::stream {
  std::string pending; ///< bytes not yet split into events
  std::vector<uint32_t> ids;
  std::vector<std::string> kinds;
  bool saw_watched = false;
  bool ended = false;
  int status = 0;
  std::string error;
};

namespace {

// Splits the complete events ("\n\n"-terminated) off `s.pending`; calls
// `f(id, kind)` for each (comments, such as keep-alives, are skipped).
template <class F>
void split_events(std::string& pending, F f) {
  size_t end;
  while ((end = pending.find("\n\n")) != std::string::npos) {
    std::string id, kind;
    size_t i = 0;
    while (i < end) {
      auto j = std::min(pending.find('\n', i), end);
      auto line = std::string_view(pending).substr(i, j - i);
      if (line.rfind("id: ", 0) == 0)
        id = line.substr(4);
      else if (line.rfind("event: ", 0) == 0)
        kind = line.substr(7);
      i = j + 1;
    }
    pending.erase(0, end + 2);
    if (!id.empty() || !kind.empty())
      f(id, kind);
  }
}

} // namespace

sse_fanout::sse_fanout(net::http_client& http, std::string base_url, std::string path,
                       std::string key)
  : http_(http), url_(std::move(base_url) + std::move(path)), key_(std::move(key)) {}

sse_fanout::~sse_fanout() {
  cancel_all();
  wait_all_ended(std::chrono::seconds{10});
}

void sse_fanout::open(uint64_t count, std::string watch) {
  watch_ = std::move(watch);
  for (uint64_t k = 0; k < count; ++k)
    streams_.push_back(std::make_unique<stream>());
  for (auto& sp : streams_) {
    auto* s = sp.get();
    net::http_request req;
    req.url = url_;
    req.headers.emplace_back("Authorization", "Bearer " + key_);
    req.headers.emplace_back("Accept", "text/event-stream");
    // A stream is idle while its run waits for the approval: no idle limit
    // of ours (the server's keep-alive comments would renew one anyway).
    req.timeouts = {10000, 60000, 0, 300000};
    req.pool = "bench-sse";
    req.max_concurrency = static_cast<uint32_t>(count);
    net::http_callbacks cb;
    cb.on_headers = [s](int status, const net::http_headers&) {
      s->status = status;
      return net::http_action::proceed;
    };
    cb.on_data = [this, s](std::string_view chunk) {
      s->pending.append(chunk);
      split_events(s->pending,
                   [&](const std::string& id, const std::string& kind) { on_event(*s, id, kind); });
      return net::http_action::proceed;
    };
    cb.on_done = [this, s](net::http_outcome o) { on_end(*s, o); };
    handles_.push_back(http_.submit(std::move(req), std::move(cb)));
  }
}

void sse_fanout::on_event(stream& s, const std::string& id, const std::string& kind) {
  char* end = nullptr;
  auto n = std::strtoul(id.c_str(), &end, 10);
  s.ids.push_back(id.empty() || *end != '\0' ? 0 : static_cast<uint32_t>(n));
  s.kinds.push_back(kind);
  bool watched = kind == watch_ && !s.saw_watched;
  if (!watched && kind != "completion")
    return;
  std::lock_guard<std::mutex> guard(mtx_);
  if (watched) {
    s.saw_watched = true;
    ++saw_watched_;
  }
  if (kind == "completion")
    last_completion_ = std::max(last_completion_, std::chrono::steady_clock::now());
  cv_.notify_all();
}

void sse_fanout::on_end(stream& s, const net::http_outcome& o) {
  std::lock_guard<std::mutex> guard(mtx_);
  s.ended = true;
  if (!o.ok())
    s.error = o.message;
  ++ended_;
  cv_.notify_all();
}

bool sse_fanout::wait_all_saw(std::chrono::milliseconds timeout, uint64_t& reached) {
  std::unique_lock<std::mutex> guard(mtx_);
  bool all = cv_.wait_for(guard, timeout, [&] {
    uint64_t waiting_ended = 0;
    for (auto& s : streams_)
      waiting_ended += s->ended && !s->saw_watched ? 1 : 0;
    return saw_watched_ + waiting_ended == streams_.size();
  });
  reached = saw_watched_;
  return all;
}

void sse_fanout::mark() {
  std::lock_guard<std::mutex> guard(mtx_);
  mark_ = std::chrono::steady_clock::now();
}

bool sse_fanout::wait_all_ended(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard(mtx_);
  return cv_.wait_for(guard, timeout, [&] { return ended_ == handles_.size(); });
}

void sse_fanout::cancel_all() {
  for (auto& h : handles_)
    http_.cancel(h);
}

fanout_figures sse_fanout::summarize() {
  std::lock_guard<std::mutex> guard(mtx_);
  fanout_figures f;
  auto fail = [&](size_t k, const std::string& why) {
    ++f.failed;
    if (f.first_failure.empty())
      f.first_failure = "stream " + std::to_string(k) + ": " + why;
  };
  for (size_t k = 0; k < streams_.size(); ++k) {
    auto& s = *streams_[k];
    if (!s.ended || s.status != 200 || !s.error.empty()) {
      fail(k, "status " + std::to_string(s.status) + " " + s.error);
      continue;
    }
    bool in_order = true;
    for (size_t i = 0; i < s.ids.size(); ++i)
      in_order = in_order && s.ids[i] == i + 1;
    if (!in_order || s.kinds.empty() || s.kinds.back() != "completion") {
      fail(k, std::to_string(s.ids.size()) + " events, not 1..n in order ending with completion");
      continue;
    }
    if (f.events_per_stream == 0)
      f.events_per_stream = s.ids.size();
    if (s.ids.size() != f.events_per_stream) {
      fail(k, std::to_string(s.ids.size()) + " events, others got "
                + std::to_string(f.events_per_stream));
      continue;
    }
    ++f.complete;
  }
  if (last_completion_ > mark_ && mark_.time_since_epoch().count() != 0)
    f.mark_to_last_completion_ms =
      std::chrono::duration<double, std::milli>(last_completion_ - mark_).count();
  return f;
}

} // namespace troupe::cli
