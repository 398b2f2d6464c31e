#pragma once
// One `troupe serve` per test: a fresh journal, the test scenarios copied
// into a directory the test may change, tenants `alpha` and `beta` with a
// key of every role each, and a client that records every exchange for the
// OpenAPI contract check.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test/serve/serve_client.hpp"
#include "test/serve/serve_process.hpp"
#include "test/support/temp_dir.hpp"

namespace troupe::test {

struct serve_fixture {
  explicit serve_fixture(std::vector<std::string> extra = {},
                         jobs::tenant_quota alpha_quota = {},
                         jobs::tenant_quota beta_quota = {})
    : dir("troupe-serve") {
    std::filesystem::create_directories(dir.path / "scenarios");
    for (auto& e : std::filesystem::directory_iterator(TROUPE_SERVE_SCENARIOS))
      std::filesystem::copy_file(e.path(), dir.path / "scenarios" / e.path().filename());
    db = dir.file("serve.db");
    alpha = add_tenant(db, "alpha", alpha_quota);
    beta = add_tenant(db, "beta", beta_quota);
    // Scenario workspaces are relative to the server's working directory:
    // the tests run it from their own.
    server = std::make_unique<serve_process>(db, dir.file("scenarios"), std::move(extra));
    client = std::make_unique<serve_client>(server->base(), TROUPE_CONTRACT_LOG);
  }

  /// Submits and returns the 202's body (checked).
  nlohmann::json submit(const std::string& key, const std::string& scenario,
                        nlohmann::json extra = nlohmann::json::object(),
                        const std::vector<std::string>& headers = {}) {
    extra["scenario"] = scenario;
    if (!extra.contains("task"))
      extra["task"] = "a task for " + scenario;
    auto r = client->post("/v1/runs", key, extra.dump(), headers);
    BOOST_REQUIRE_MESSAGE(r.status == 202, "submit " << scenario << ": " << r.status << " "
                                                     << r.body << r.error);
    return nlohmann::json::parse(r.body);
  }

  nlohmann::json get_json(const std::string& path, const std::string& key, int want = 200) {
    auto r = client->get(path, key);
    BOOST_REQUIRE_MESSAGE(r.status == want, "GET " << path << ": " << r.status << " " << r.body);
    return nlohmann::json::parse(r.body);
  }

  /// The job once it is final.
  nlohmann::json final_job(const std::string& key, const std::string& id) {
    auto body = nlohmann::json::parse(wait_final(*client, key, id), nullptr, false);
    BOOST_REQUIRE_MESSAGE(!body.is_discarded() && body["job"].is_object(),
                          "no job " << id << ": " << body.dump());
    return body;
  }

  temp_dir dir;
  std::string db;
  std::map<std::string, std::string> alpha, beta; ///< keys by role
  std::unique_ptr<serve_process> server;
  std::unique_ptr<serve_client> client;
};

} // namespace troupe::test
