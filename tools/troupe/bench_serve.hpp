#pragma once
// `troupe bench serve`: `troupe serve` measured through its real HTTP API
// with the scripted provider, in one run (docs/cli.md, "bench serve"):
// accepted submissions/s and their latency at C clients, finished jobs/s,
// read latency, the server's own /healthz ceiling at the same C clients, and
// the server's RSS with S SSE subscribers on one live run.

#include <cstdint>

namespace troupe::cli {

struct bench_serve_options {
  uint64_t jobs = 2000;             ///< submissions (and reads, and /healthz calls)
  uint64_t clients = 64;            ///< concurrent keep-alive clients
  uint64_t subscribers = 1000;      ///< SSE streams on the gated run
  uint32_t server_concurrency = 64; ///< the server's --concurrency
  bool json = false;                ///< one JSON object on stdout, no progress lines
};

/// Exit codes: 0 measured with every request, job and stream as expected;
/// 1 when one was not (the report says which) or the server could not start.
int bench_serve(const bench_serve_options& opts);

} // namespace troupe::cli
