// GET /metrics: the Prometheus exposition of serve/metrics_hub.hpp, for the
// service's operator rather than its tenants. Off unless `troupe serve
// --metrics-token-file FILE` gave a token; then answered only to
// `Authorization: Bearer <the file's content>`.

#include <boost/asio/post.hpp>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include "core/metrics/exposition.hpp"
#include "schemas/errors.hpp"
#include "serve/detail/api_impl.hpp"
#include "serve/detail/wall_clock.hpp"
#include "serve/job_dispatcher.hpp"
#include "serve/metrics_hub.hpp"
#include "troupe/runtime.hpp"

namespace troupe::serve::detail {

namespace {

// Both sides hashed first, so the comparison takes the same time whatever
// the presented token's length or how much of it matches.
bool same_token(const std::string& presented, const std::string& expected) {
  unsigned char a[SHA256_DIGEST_LENGTH];
  unsigned char b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(presented.data()), presented.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

scrape_inputs gather(api::impl& a) {
  scrape_inputs in;
  in.queue = a.d.dispatcher.view();
  in.queue_capacity = a.d.max_queued;
  in.run_concurrency = a.d.run_concurrency;
  in.runtime = a.d.rt.stats();
  in.now_us = now_us();
  if (auto pending = a.d.rt.pending_approvals()) {
    in.approvals_pending = pending->size();
    for (auto& p : *pending)
      if (in.oldest_approval_us == 0 || p.requested_us < in.oldest_approval_us)
        in.oldest_approval_us = p.requested_us;
  } else {
    spdlog::warn("metrics: pending approvals unread: {}", render(pending.error()));
  }
  return in;
}

} // namespace

void serve_metrics(api::impl& a, const net::server_request& req, net::responder& res) {
  if (a.d.metrics == nullptr || a.d.metrics_token.empty()) {
    res.reply(net::problem(404, "not-found", "Not found",
                           "metrics are off: start `troupe serve` with --metrics-token-file "
                           "FILE, and scrape with `Authorization: Bearer <the file's content>`"));
    return;
  }
  auto token = bearer(req);
  if (!token || !same_token(*token, a.d.metrics_token)) {
    auto r = net::problem(401, "unauthorized", "Unauthorized",
                          "send the metrics token (--metrics-token-file) as "
                          "`Authorization: Bearer <token>`");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"troupe-metrics\"");
    res.reply(std::move(r));
    return;
  }
  // Reading the approvals touches SQLite: the workers do it, not the I/O thread.
  boost::asio::post(a.pool, [&a, res = std::move(res)]() mutable {
    net::server_response r;
    r.content_type = std::string(metrics::exposition_content_type);
    r.body = a.d.metrics->render(gather(a));
    res.reply(std::move(r));
  });
}

} // namespace troupe::serve::detail
