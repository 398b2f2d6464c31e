#include "actors/endpoint_check.hpp"

#include <chrono>
#include <memory>

#include "core/providers/discovery.hpp"
#include "net/http_client.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

net::http_request listing_request(const endpoint_config& e, const std::string& path,
                                  const std::string& api_key) {
  net::http_request req;
  req.url = e.base_url + path;
  req.pool = e.name;
  req.max_concurrency = e.max_concurrency;
  req.timeouts = {e.timeouts.connect_ms, e.timeouts.first_byte_ms, e.timeouts.idle_ms, 10000};
  if (e.provider == provider_kind::anthropic) {
    if (!api_key.empty())
      req.headers.push_back({"x-api-key", api_key});
    req.headers.push_back({"anthropic-version", e.anthropic_version});
  } else if (!api_key.empty()) {
    req.headers.push_back({"Authorization", "Bearer " + api_key});
  }
  return req;
}

// GETs `path`; `then` gets the body of a 200, or the check fails.
void get(net::http_client& http, const endpoint_config& e, const std::string& path,
         const std::string& api_key, std::shared_ptr<endpoint_check> check,
         std::function<void(endpoint_check)> done,
         std::function<void(const std::string& body)> then) {
  auto body = std::make_shared<std::string>();
  net::http_callbacks cb;
  cb.on_data = [body](std::string_view chunk) {
    if (body->size() < (size_t{4} << 20))
      body->append(chunk);
    return net::http_action::proceed;
  };
  cb.on_done = [body, check, done, then, url = e.base_url + path](net::http_outcome o) {
    check->latency_us += o.total_us;
    if (!o.ok() || o.status != 200) {
      check->ok = false;
      check->error = url + ": " + (o.ok() ? "HTTP " + std::to_string(o.status) : o.message);
      check->at_us = now_us();
      done(std::move(*check));
      return;
    }
    then(*body);
  };
  http.submit(listing_request(e, path, api_key), std::move(cb));
}

} // namespace

void check_endpoint(net::http_client& http, const endpoint_config& e, const std::string& api_key,
                    std::function<void(endpoint_check)> done) {
  auto check = std::make_shared<endpoint_check>();
  auto path = e.provider == provider_kind::anthropic ? std::string{"/v1/models"}
                                                     : providers::models_path(e.provider);
  if (path.empty()) {
    check->ok = true;
    check->at_us = now_us();
    done(std::move(*check));
    return;
  }
  auto list_kind = e.provider == provider_kind::anthropic ? provider_kind::openai : e.provider;
  get(http, e, path, api_key, check, done, [&http, e, api_key, check, done, list_kind](
                                             const std::string& body) {
    auto names = providers::parse_model_list(list_kind, body);
    if (!names) {
      check->error = render(names.error());
      check->at_us = now_us();
      done(std::move(*check));
      return;
    }
    for (auto& n : *names)
      check->models[n] = e.provider == provider_kind::ollama ? "cold" : "listed";
    check->ok = true;
    if (e.provider != provider_kind::ollama) {
      check->at_us = now_us();
      done(std::move(*check));
      return;
    }
    get(http, e, "/api/ps", api_key, check, done, [check, done](const std::string& ps) {
      if (auto loaded = providers::parse_model_list(provider_kind::ollama, ps))
        for (auto& n : *loaded)
          check->models[n] = "warm";
      check->at_us = now_us();
      done(std::move(*check));
    });
  });
}

} // namespace troupe
