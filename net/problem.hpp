#pragma once
// Problem details (RFC 9457) as troupe's HTTP server and service answer
// errors: `application/problem+json` with a stable `type` URI per kind of
// problem, `https://troupe.dev/problems/<slug>`. The slug is the contract
// clients branch on; the title is its fixed human name, the detail says what
// happened this time.
//
// Slugs the server itself uses (net/http_server.hpp): malformed-request
// (400), headers-too-large (431), body-too-large (413), expectation-failed
// (417), unsupported-transfer-encoding (501), overloaded (503),
// internal-error (500: the handler threw or dropped its responder).

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "net/server_types.hpp"

namespace troupe::net {

/// The `type` URI of `slug`.
[[nodiscard]] std::string problem_type(std::string_view slug);

/// A response with `status` and the body `{"type", "title", "status",
/// "detail", ...extra}`; `extra` must be an object or null (members of
/// `extra` named like the standard ones are ignored).
[[nodiscard]] server_response problem(int status, std::string_view slug, std::string_view title,
                                      std::string detail, nlohmann::json extra = {});

} // namespace troupe::net
