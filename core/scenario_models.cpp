// [endpoints.X] and [models.X] of a scenario (docs/scenario-format.md): the
// servers that answer model requests, and the routes agents use over them.

#include "core/detail/scenario_models.hpp"

#include <cmath>

#include "schemas/errors.hpp"

namespace troupe::detail {

namespace {

const key_vector endpoint_keys = {
  "provider",       "base_url",        "command",        "api_key_env",
  "api_key_secret", "models",          "stream",         "input_usd_per_mtok",
  "output_usd_per_mtok", "max_concurrency", "quality",   "context_window",
  "max_output_tokens", "anthropic_version", "connect_timeout_ms", "first_byte_timeout_ms",
  "idle_timeout_ms", "total_timeout_ms", "breaker_failures", "breaker_cool_down_ms"};

const key_vector route_keys = {"provider", "route", "strategy", "tiers", "hedge_quantile",
                                 "max_attempts"};

const key_vector strategies = {"fallback", "latency_first", "cost_first", "quality_first",
                                 "tiers"};

const key_vector tier_names = {"trivial", "standard", "complex"};

constexpr const char* providers = "script, openai, anthropic, ollama or command";

bool is_plain_name(std::string_view s) {
  constexpr std::string_view plain = "abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";
  return !s.empty() && s.find_first_not_of(plain) == s.npos;
}

class model_tables_parser : toml_reader {
public:
  model_tables_parser(const std::string& source, scenario& out)
    : toml_reader(source), out_(out) {}

  caf::error parse(const toml::table& root) {
    TROUPE_TRY(each_table(root, "endpoints", [&](const std::string& name, const toml::table& t) {
      const std::string where = "[endpoints." + name + "]";
      TROUPE_TRY(check_keys(t, where, endpoint_keys));
      return parse_endpoint(name, t, where);
    }));
    return each_table(root, "models", [&](const std::string& name, const toml::table& t) {
      return parse_model(name, t);
    });
  }

private:
  template <class Fn>
  caf::error each_table(const toml::table& root, const char* kind, Fn&& fn) {
    const auto* node = root.get(kind);
    if (!node)
      return {};
    const auto* section = node->as_table();
    if (!section)
      return wrong_type(*node, kind, "the top level", "a table [" + std::string{kind} + "]");
    for (auto&& [key, value] : *section) {
      std::string name{key.str()};
      const auto* t = value.as_table();
      if (!t)
        return wrong_type(value, name, "[" + std::string{kind} + "]",
                          "a table [" + std::string{kind} + "." + name + "]");
      if (!is_plain_name(name))
        return fail(key.source(), "name " + in_quotes(name) + " in [" + kind
                                    + "] is not plain; expected letters, digits, '_' or '-'");
      TROUPE_TRY(fn(name, *t));
    }
    return {};
  }

  caf::error read_timeout(const toml::table& t, const std::string& where, std::string_view key,
                          uint64_t& out) const {
    return read_int(t, where, key, 1, out);
  }

  // An endpoint from [endpoints.NAME], or from the short form of [models.NAME];
  // the caller has checked the keys.
  caf::error parse_endpoint(const std::string& name, const toml::table& t,
                            const std::string& where) {
    endpoint_config e;
    e.name = name;
    std::string provider;
    TROUPE_TRY(read_string(t, where, "provider", provider, "a provider: openai, anthropic, "
                                                           "ollama or command"));
    if (!from_string(provider, e.provider))
      return fail(t.get("provider")->source(),
                  "unknown provider " + in_quotes(provider) + " in " + where
                    + "; expected openai, anthropic, ollama or command");
    TROUPE_TRY(read_string(t, where, "base_url", e.base_url));
    TROUPE_TRY(read_strings(t, where, "command", e.command));
    if (e.provider == provider_kind::command) {
      if (e.command.empty())
        return missing(t, "command", where, "the program and its arguments, e.g. "
                                            "[\"./my-model\", \"--json\"]");
      if (t.get("base_url"))
        return fail(t.get("base_url")->source(), "'base_url' in " + where
                                                   + " is for HTTP providers; expected "
                                                     "'command' only for provider command");
    } else {
      if (e.base_url.empty())
        return t.get("base_url")
                 ? fail(t.get("base_url")->source(), "'base_url' in " + where + " is empty")
                 : missing(t, "base_url", where, "the server's URL, e.g. "
                                                 "\"http://127.0.0.1:8080/v1\"");
      if (e.base_url.rfind("http://", 0) != 0 && e.base_url.rfind("https://", 0) != 0)
        return fail(t.get("base_url")->source(),
                    "'base_url' in " + where + " is " + in_quotes(e.base_url)
                      + "; expected an http:// or https:// URL");
      while (!e.base_url.empty() && e.base_url.back() == '/')
        e.base_url.pop_back();
      if (t.get("command"))
        return fail(t.get("command")->source(), "'command' in " + where
                                                  + " is for provider command only");
    }
    TROUPE_TRY(read_string(t, where, "api_key_env", e.api_key_env));
    TROUPE_TRY(read_string(t, where, "api_key_secret", e.api_key_secret));
    if (!e.api_key_env.empty() && !e.api_key_secret.empty())
      return fail(t.get("api_key_secret")->source(),
                  where + " has both 'api_key_env' and 'api_key_secret'; expected one");
    TROUPE_TRY(read_strings(t, where, "models", e.models));
    TROUPE_TRY(read_bool(t, where, "stream", e.stream));
    TROUPE_TRY(read_double(t, where, "input_usd_per_mtok", 0, 1e6, e.input_usd_per_mtok));
    TROUPE_TRY(read_double(t, where, "output_usd_per_mtok", 0, 1e6, e.output_usd_per_mtok));
    TROUPE_TRY(read_int(t, where, "max_concurrency", 1, e.max_concurrency));
    TROUPE_TRY(read_double(t, where, "quality", 0, 1e6, e.quality));
    TROUPE_TRY(read_int(t, where, "context_window", 0, e.context_window));
    TROUPE_TRY(read_int(t, where, "max_output_tokens", 1, e.max_output_tokens));
    TROUPE_TRY(read_string(t, where, "anthropic_version", e.anthropic_version));
    TROUPE_TRY(read_timeout(t, where, "connect_timeout_ms", e.timeouts.connect_ms));
    TROUPE_TRY(read_timeout(t, where, "first_byte_timeout_ms", e.timeouts.first_byte_ms));
    TROUPE_TRY(read_timeout(t, where, "idle_timeout_ms", e.timeouts.idle_ms));
    TROUPE_TRY(read_timeout(t, where, "total_timeout_ms", e.timeouts.total_ms));
    TROUPE_TRY(read_int(t, where, "breaker_failures", 1, e.breaker_failures));
    TROUPE_TRY(read_timeout(t, where, "breaker_cool_down_ms", e.breaker_cool_down_ms));
    if (!out_.endpoints.emplace(name, std::move(e)).second)
      return fail(t.source(), "endpoint " + in_quotes(name) + " in " + where
                                + " is declared twice (a short-form model declares an "
                                  "endpoint of its own name); expected distinct names");
    return {};
  }

  caf::error parse_model(const std::string& name, const toml::table& t) {
    const std::string where = "[models." + name + "]";
    model_config cfg;
    cfg.name = name;
    if (t.get("route") || t.get("tiers")) {
      if (t.get("provider"))
        return fail(t.get("provider")->source(),
                    where + " has both 'provider' and a route; expected 'provider' with "
                            "'base_url' and 'model' (one endpoint), or 'route' over "
                            "[endpoints] (no 'provider')");
      cfg.provider = "route";
      TROUPE_TRY(check_keys(t, where, route_keys));
      TROUPE_TRY(parse_route(t, where, cfg));
      out_.models.emplace(name, std::move(cfg));
      return {};
    }
    std::string provider;
    TROUPE_TRY(read_string(t, where, "provider", provider, providers));
    provider_kind kind;
    if (provider != "script" && !from_string(provider, kind))
      return fail(t.get("provider")->source(), "unknown provider " + in_quotes(provider)
                                                 + " in " + where + "; expected " + providers
                                                 + ", or 'route' over [endpoints]");
    if (provider == "script") {
      TROUPE_TRY(check_keys(t, where, {"provider"}));
    } else {
      cfg.provider = "route";
      TROUPE_TRY(parse_short_form(name, t, where, cfg));
    }
    out_.models.emplace(name, std::move(cfg));
    return {};
  }

  // [models.m] provider = "openai", base_url = ..., model = "...": an
  // endpoint named like the model and a route of one target.
  caf::error parse_short_form(const std::string& name, const toml::table& t,
                              const std::string& where, model_config& cfg) {
    key_vector allowed = endpoint_keys;
    allowed.insert(allowed.end(), {"model", "hedge_quantile", "max_attempts"});
    for (auto&& [key, value] : t)
      if (!contains(allowed, key.str()))
        return fail(key.source(), "unknown key " + in_quotes(key.str()) + " in " + where
                                    + "; expected one of " + join(allowed)
                                    + ", or 'route' over [endpoints]");
    std::string model;
    TROUPE_TRY(read_string(t, where, "model", model,
                           "the model name the server knows, e.g. \"qwen2.5-7b\""));
    if (model.empty())
      return fail(t.get("model")->source(), "'model' in " + where + " is empty");
    TROUPE_TRY(parse_endpoint(name, t, where));
    cfg.route.push_back({name, model});
    TROUPE_TRY(read_double(t, where, "hedge_quantile", 0, 0.999, cfg.hedge_quantile));
    return read_int(t, where, "max_attempts", 1, cfg.max_attempts);
  }

  caf::error parse_route(const toml::table& t, const std::string& where, model_config& cfg) {
    TROUPE_TRY(read_string(t, where, "strategy", cfg.strategy));
    if (!contains(strategies, cfg.strategy))
      return fail(t.get("strategy")->source(),
                  "unknown strategy " + in_quotes(cfg.strategy) + " in " + where
                    + "; expected one of " + join(strategies));
    TROUPE_TRY(read_double(t, where, "hedge_quantile", 0, 0.999, cfg.hedge_quantile));
    TROUPE_TRY(read_int(t, where, "max_attempts", 1, cfg.max_attempts));
    if (cfg.strategy != "tiers") {
      if (t.get("tiers"))
        return fail(t.get("tiers")->source(), "'tiers' in " + where
                                                + " needs strategy = \"tiers\"");
      if (!t.get("route"))
        return missing(t, "route", where, "a list of \"endpoint:model\" targets");
      return parse_targets(*t.get("route"), "'route' of " + where, cfg.route);
    }
    if (t.get("route"))
      return fail(t.get("route")->source(),
                  "'route' in " + where + " with strategy \"tiers\"; expected one route per "
                                          "tier in [models.NAME.tiers]");
    const auto* node = t.get("tiers");
    if (!node)
      return missing(t, "tiers", where, "a table [models.NAME.tiers] with standard = [...]");
    const auto* tiers = node->as_table();
    if (!tiers)
      return wrong_type(*node, "tiers", where, "a table of tier = [\"endpoint:model\", ...]");
    const std::string tiers_where = "[models." + cfg.name + ".tiers]";
    TROUPE_TRY(check_keys(*tiers, tiers_where, tier_names));
    for (auto&& [key, value] : *tiers)
      TROUPE_TRY(parse_targets(value, "'" + std::string{key.str()} + "' of " + tiers_where,
                               cfg.tiers[std::string{key.str()}]));
    if (cfg.tiers.count("standard") == 0)
      return missing(*tiers, "standard", tiers_where,
                     "the route of standard requests (other tiers default to it)");
    return {};
  }

  caf::error parse_targets(const toml::node& node, const std::string& where,
                           std::vector<route_target>& out) const {
    const auto* list = node.as_array();
    if (!list || list->empty())
      return fail(node.source(), where + " is " + (list ? "empty" : describe(node.type()))
                                   + "; expected a non-empty list of \"endpoint:model\"");
    for (const auto& item : *list) {
      const auto* str = item.as_string();
      if (!str)
        return fail(item.source(), where + " holds " + describe(item.type())
                                     + "; expected \"endpoint:model\" strings");
      const std::string& s = str->get();
      auto colon = s.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
        return fail(item.source(), in_quotes(s) + " in " + where
                                     + " is not \"endpoint:model\"; expected e.g. "
                                       "\"local:qwen2.5-7b\"");
      route_target target{s.substr(0, colon), s.substr(colon + 1)};
      auto e = out_.endpoints.find(target.endpoint);
      if (e == out_.endpoints.end())
        return fail(item.source(), in_quotes(s) + " in " + where + " names unknown endpoint "
                                     + in_quotes(target.endpoint)
                                     + "; expected one of [endpoints]: " + endpoint_names());
      auto& models = e->second.models;
      if (!models.empty() && !contains(models, target.model))
        return fail(item.source(), in_quotes(s) + " in " + where + ": endpoint "
                                     + in_quotes(target.endpoint) + " lists no model "
                                     + in_quotes(target.model) + "; expected one of "
                                     + join(models));
      for (auto& seen : out)
        if (seen.endpoint == target.endpoint && seen.model == target.model)
          return fail(item.source(), in_quotes(s) + " is listed twice in " + where);
      out.push_back(std::move(target));
    }
    return {};
  }

  std::string endpoint_names() const {
    std::string s;
    for (auto& [name, e] : out_.endpoints)
      s += (s.empty() ? "" : ", ") + name;
    return s.empty() ? "(none)" : s;
  }

  scenario& out_;
};

} // namespace

caf::error parse_model_tables(const toml::table& root, const std::string& source,
                              scenario& out) {
  return model_tables_parser{source, out}.parse(root);
}

} // namespace troupe::detail
