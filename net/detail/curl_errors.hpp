#pragma once
// How a libcurl result code reads as troupe's transport error
// (net/http_types.hpp). Pure: the same code always gives the same answer.

#include <curl/curl.h>

#include "net/http_types.hpp"

namespace troupe::net::detail {

struct curl_failure {
  transport_error error = transport_error::none;
  connection_error connection = connection_error::none;
};

/// The classification of `code`. `CURLE_OPERATION_TIMEDOUT` gives
/// `timeout`; which timeout is the caller's to tell (libcurl uses the one
/// code for both the connect and the total limit). `CURLE_WRITE_ERROR`
/// gives `internal`: the transfer knows whether a callback asked for it.
/// `os_errno` is CURLINFO_OS_ERRNO (0 when unknown): it tells a refused
/// connection from an unreachable network.
[[nodiscard]] curl_failure classify(CURLcode code, long os_errno);

} // namespace troupe::net::detail
