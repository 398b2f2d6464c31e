#pragma once
// A health check of one endpoint: its model listing (`GET /models` on
// OpenAI-compatible servers and Anthropic, `/api/tags` then `/api/ps` on
// Ollama), timed. `troupe models` runs one per endpoint and waits; the gateway
// pool runs them periodically (endpoint_pool.hpp) so that `troupe models`
// shows whether an idle endpoint is still there and which models are warm.
// A check never changes routing: a listing that answers says nothing about
// whether a chat request would.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/gateway/health_json.hpp"
#include "core/model_endpoint.hpp"

namespace troupe {

namespace net {
class http_client;
}

/// Starts a check of `e`; `done` runs once on an I/O thread. `command`
/// endpoints have nothing to check: `done` runs at once with ok.
void check_endpoint(net::http_client& http, const endpoint_config& e, const std::string& api_key,
                    std::function<void(endpoint_check)> done);

} // namespace troupe
