// [endpoints] and [models] of a scenario: routes over declared endpoints, the
// one-endpoint short form, tiers, and the errors that name where.

#include <boost/test/unit_test.hpp>

#include "core/scenario.hpp"
#include "schemas/errors.hpp"

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> known_tools{"echo"};

caf::expected<troupe::scenario> parse(const std::string& models) {
  std::string text = "[run]\nagent = \"lead\"\n" + models
                     + "[agents.lead]\nmodel = \"smart\"\ntools = [\"complete\"]\n";
  return troupe::parse_scenario(text, "m.toml", "/tmp", known_tools);
}

void check_rejected(const std::string& models, const std::string& where,
                    const std::string& needle) {
  auto scn = parse(models);
  BOOST_REQUIRE_MESSAGE(!scn, "accepted: " << models);
  auto msg = troupe::render(scn);
  BOOST_TEST(msg.rfind("m.toml:" + where + ": ", 0) == 0, msg);
  BOOST_TEST(msg.find(needle) != std::string::npos, msg);
}

const std::string two_endpoints = R"([endpoints.local]
provider = "ollama"
base_url = "http://127.0.0.1:11434/"
models = ["qwen2.5-7b", "llama3"]
max_concurrency = 8
[endpoints.cloud]
provider = "anthropic"
base_url = "https://api.anthropic.com"
api_key_env = "ANTHROPIC_API_KEY"
input_usd_per_mtok = 3.0
output_usd_per_mtok = 15
quality = 9
stream = false
idle_timeout_ms = 5000
)";

} // namespace

BOOST_AUTO_TEST_SUITE(scenario_models)

BOOST_AUTO_TEST_CASE(a_route_names_declared_endpoints_in_order) {
  auto scn = parse(two_endpoints + R"([models.smart]
route = ["local:qwen2.5-7b", "cloud:claude-sonnet"]
strategy = "cost_first"
hedge_quantile = 0.9
max_attempts = 4
)");
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  auto& m = scn->models.at("smart");
  BOOST_TEST(m.provider == "route");
  BOOST_TEST(m.strategy == "cost_first");
  BOOST_REQUIRE_EQUAL(m.route.size(), 2u);
  BOOST_TEST(m.route[0].endpoint == "local");
  BOOST_TEST(m.route[1].model == "claude-sonnet");
  BOOST_TEST(m.hedge_quantile == 0.9);
  BOOST_TEST(m.max_attempts == 4u);
  auto& local = scn->endpoints.at("local");
  BOOST_TEST((local.provider == troupe::provider_kind::ollama));
  BOOST_TEST(local.base_url == "http://127.0.0.1:11434"); // trailing slash dropped
  BOOST_TEST(local.max_concurrency == 8u);
  BOOST_TEST(local.stream);
  auto& cloud = scn->endpoints.at("cloud");
  BOOST_TEST(cloud.input_usd_per_mtok == 3.0);
  BOOST_TEST(cloud.output_usd_per_mtok == 15.0);
  BOOST_TEST(!cloud.stream);
  BOOST_TEST(cloud.timeouts.idle_ms == 5000u);
  BOOST_TEST(troupe::reply_cost_micro_usd(cloud, 1000, 100) == 4500u);
}

BOOST_AUTO_TEST_CASE(the_short_form_declares_one_endpoint_of_the_models_name) {
  auto scn = parse(R"([models.smart]
provider = "openai"
base_url = "http://127.0.0.1:8080/v1"
model = "qwen2.5-7b"
api_key_env = "OPENAI_API_KEY"
)");
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  auto& m = scn->models.at("smart");
  BOOST_REQUIRE_EQUAL(m.route.size(), 1u);
  BOOST_TEST(m.route[0].endpoint == "smart");
  BOOST_TEST(m.route[0].model == "qwen2.5-7b");
  BOOST_TEST(m.strategy == "fallback");
  BOOST_TEST(scn->endpoints.at("smart").api_key_env == "OPENAI_API_KEY");
}

BOOST_AUTO_TEST_CASE(tiers_route_each_tier_and_the_run_may_declare_one) {
  auto scn = parse(two_endpoints + R"([models.smart]
strategy = "tiers"
[models.smart.tiers]
trivial = ["local:llama3"]
standard = ["local:qwen2.5-7b", "cloud:claude-sonnet"]
complex = ["cloud:claude-opus"]
)");
  BOOST_REQUIRE_MESSAGE(scn, troupe::render(scn));
  auto& tiers = scn->models.at("smart").tiers;
  BOOST_TEST(tiers.size() == 3u);
  BOOST_TEST(tiers.at("complex")[0].model == "claude-opus");

  auto declared = troupe::parse_scenario(
    "[run]\nagent = \"lead\"\ntier = \"complex\"\n[models.m]\nprovider = \"script\"\n"
    "[agents.lead]\nmodel = \"m\"\ntools = [\"complete\"]\n[limits]\nmax_cost_usd = 0.25\n",
    "m.toml", "/tmp", known_tools);
  BOOST_REQUIRE_MESSAGE(declared, troupe::render(declared));
  BOOST_TEST(declared->tier == "complex");
  BOOST_TEST(declared->limits.max_cost_micro_usd == 250000u);
}

BOOST_AUTO_TEST_CASE(bad_endpoints_and_routes_are_errors_naming_where) {
  check_rejected("[endpoints.x]\nprovider = \"grpc\"\n", "4:12", "'grpc'");
  check_rejected("[endpoints.x]\nprovider = \"openai\"\n", "3:1", "'base_url'");
  check_rejected("[endpoints.x]\nprovider = \"openai\"\nbase_url = \"ftp://h\"\n", "5:12",
                 "http://");
  check_rejected("[endpoints.x]\nprovider = \"command\"\n", "3:1", "'command'");
  check_rejected("[endpoints.x]\nprovider = \"openai\"\nbase_url = \"http://h\"\nspeed = 1\n",
                 "6:1", "'speed'");
  check_rejected("[endpoints.x]\nprovider = \"openai\"\nbase_url = \"http://h\"\n"
                 "max_concurrency = 0\n",
                 "6:19", "'max_concurrency'");
  check_rejected(two_endpoints + "[models.smart]\nroute = [\"nowhere:m\"]\n", "18:10",
                 "unknown endpoint 'nowhere'");
  check_rejected(two_endpoints + "[models.smart]\nroute = [\"local:gpt-5\"]\n", "18:10",
                 "lists no model 'gpt-5'");
  check_rejected(two_endpoints + "[models.smart]\nroute = [\"local\"]\n", "18:10",
                 "endpoint:model");
  check_rejected(two_endpoints + "[models.smart]\nroute = []\n", "18:9", "non-empty");
  check_rejected(two_endpoints + "[models.smart]\nroute = [\"cloud:a\"]\nstrategy = \"random\"\n",
                 "19:12", "'random'");
  check_rejected(two_endpoints + "[models.smart]\nstrategy = \"tiers\"\n"
                                 "[models.smart.tiers]\ntrivial = [\"local:llama3\"]\n",
                 "19:1", "'standard'");
  check_rejected(two_endpoints + "[models.smart]\nstrategy = \"tiers\"\n"
                                 "[models.smart.tiers]\nhard = [\"local:llama3\"]\n",
                 "20:1", "'hard'");
  check_rejected("[models.smart]\nprovider = \"openai\"\nbase_url = \"http://h/v1\"\n", "3:1",
                 "'model'");
  auto bad_tier = troupe::parse_scenario(
    "[run]\nagent = \"lead\"\ntier = \"epic\"\n[models.m]\nprovider = \"script\"\n"
    "[agents.lead]\nmodel = \"m\"\ntools = [\"complete\"]\n",
    "m.toml", "/tmp", known_tools);
  BOOST_TEST(troupe::render(bad_tier).find("m.toml:3:8: unknown tier 'epic'") != std::string::npos,
             troupe::render(bad_tier));
}

BOOST_AUTO_TEST_CASE(the_real_model_examples_parse) {
  size_t parsed = 0;
  for (auto& entry : fs::directory_iterator(TROUPE_EXAMPLE_MODELS)) {
    BOOST_TEST_CONTEXT(entry.path().filename()) {
      auto scn = troupe::load_scenario(entry.path(), {"read_file", "write_file", "list_dir"});
      BOOST_TEST(static_cast<bool>(scn), troupe::render(scn));
      ++parsed;
    }
  }
  BOOST_TEST(parsed == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
