#include "net/http_client.hpp"

#include <functional>
#include <mutex>

#include <curl/curl.h>

#include "net/detail/io_loop.hpp"
#include "net/net_errc.hpp"

namespace troupe::net {

namespace {

// curl_global_init once per process, before any thread uses libcurl; never
// undone (other code of the process may use libcurl too).
CURLcode global_init() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

} // namespace

http_client::http_client(http_client_config cfg) : cfg_(std::move(cfg)) {
}

caf::expected<std::unique_ptr<http_client>> http_client::start(http_client_config cfg) {
  if (auto rc = global_init(); rc != CURLE_OK)
    return caf::make_error(net_errc::start_failed,
                           std::string{"curl_global_init: "} + curl_easy_strerror(rc));
  if (cfg.io_threads == 0)
    cfg.io_threads = 1;
  std::unique_ptr<http_client> client{new http_client(cfg)};
  client->loops_.reserve(cfg.io_threads);
  for (size_t i = 0; i < cfg.io_threads; ++i) {
    auto loop = detail::io_loop::start(client->cfg_);
    if (!loop)
      return std::move(loop.error()); // ~http_client stops the loops already started
    client->loops_.push_back(std::move(*loop));
  }
  return client;
}

http_client::~http_client() {
  // Stop every loop before joining any: a callback on one loop may submit
  // to another, which then answers it `canceled` instead of running it.
  for (auto& loop : loops_)
    loop->push_stop();
  for (auto& loop : loops_)
    loop->join();
  // Whatever reached a loop after it ended (submitted by callbacks of the
  // shutdown) ends here, `canceled`; their callbacks may submit again.
  for (bool any = true; any;) {
    any = false;
    for (auto& loop : loops_)
      any = loop->drain_after_join() || any;
  }
  loops_.clear();
}

request_handle http_client::submit(http_request req, http_callbacks cb) {
  auto submitted = detail::clock_type::now();
  auto id = next_id_.fetch_add(1, std::memory_order_relaxed);
  auto index = loops_.size() == 1
                 ? 0
                 : static_cast<uint32_t>(std::hash<std::string>{}(req.pool) % loops_.size());
  loops_[index]->push_submit(id, std::move(req), std::move(cb), submitted);
  return request_handle{id, index};
}

void http_client::cancel(request_handle h) {
  if (!h || h.loop >= loops_.size())
    return;
  loops_[h.loop]->push_cancel(h.id);
}

size_t http_client::pending() const {
  size_t n = 0;
  for (const auto& loop : loops_)
    n += loop->pending();
  return n;
}

} // namespace troupe::net
