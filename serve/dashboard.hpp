#pragma once
// The web dashboard's static files: `/` is its page, `/ui/<file>` the rest.
// They hold no data: the page asks the /v1 API with the key the user enters
// (docs/http-api.md, "Dashboard").
//
// Every answer carries a strict Content-Security-Policy (scripts, styles
// and connections to this origin only; no inline script or style, no
// frames), `X-Content-Type-Options: nosniff` and `Referrer-Policy:
// no-referrer`. Caching: `Cache-Control: no-cache` with the file's ETag, so
// a browser revalidates each time and gets `304` while the binary is the
// same, and a new build's files at once.

#include <optional>

#include "net/server_types.hpp"

namespace troupe::serve {

/// The answer to a dashboard path (`/`, `/ui/...`); nothing for any other
/// path. GET and HEAD only (405 otherwise).
[[nodiscard]] std::optional<net::server_response> dashboard_response(const net::server_request& req);

} // namespace troupe::serve
