// Every endpoint x every role x own and other tenant: the server enforces
// the pure matrix (core/jobs/authorization.hpp), and another tenant's runs
// answer 404 exactly like runs that do not exist.

#include <algorithm>
#include <fstream>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "core/jobs/authorization.hpp"
#include "test/serve/serve_fixture.hpp"

using nlohmann::json;
using troupe::jobs::allows;
using troupe::jobs::api_action;
using troupe::test::serve_fixture;
using troupe::test::sse_event;

namespace {

const std::vector<std::pair<troupe::jobs::role, std::string>> roles = {
  {troupe::jobs::role::viewer, "viewer"},
  {troupe::jobs::role::submitter, "submitter"},
  {troupe::jobs::role::operator_, "operator"},
  {troupe::jobs::role::admin, "admin"}};

// A gated run of `keys`' tenant, waiting for approval: its run and call ids.
std::pair<std::string, std::string> waiting_run(serve_fixture& f,
                                                std::map<std::string, std::string>& keys) {
  auto run = f.submit(keys["submitter"], "gated")["run_id"].get<std::string>();
  std::vector<sse_event> evs;
  f.client->stream("/v1/runs/" + run + "/events", keys["viewer"], evs,
                   [](const std::vector<sse_event>& e) {
                     return std::any_of(e.begin(), e.end(), [](const sse_event& x) {
                       return x.event == "approval_request";
                     });
                   });
  for (int i = 0; i < 200; ++i) {
    auto pending = f.get_json("/v1/approvals", keys["operator"]);
    for (auto& p : pending["items"])
      if (p["run_id"] == run)
        return {run, p["call_id"].get<std::string>()};
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  BOOST_FAIL("run " << run << " never asked for approval");
  return {};
}

} // namespace

BOOST_AUTO_TEST_SUITE(authorization)

BOOST_AUTO_TEST_CASE(no_bad_or_revoked_key_gets_in) {
  serve_fixture f;
  for (auto path : {"/v1/runs", "/v1/approvals", "/v1/runs/x", "/v1/runs/x/tree", "/v1/kpis"}) {
    auto none = f.client->get(path, "");
    BOOST_TEST(none.status == 401);
    BOOST_TEST(none.headers.count("www-authenticate") == 1u);
    BOOST_TEST(f.client->get(path, "trp_k_0000000000000000_nope").status == 401);
    BOOST_TEST(f.client->get(path, "garbage").status == 401);
  }
  // Metrics are off unless the server was given a token file; the 404 says how.
  auto metrics = f.client->get("/metrics", "");
  BOOST_TEST(metrics.status == 404);
  BOOST_TEST(metrics.body.find("--metrics-token-file") != std::string::npos);
  // Liveness and readiness need no key.
  BOOST_TEST(f.client->get("/healthz", "").status == 200);
  BOOST_TEST(f.client->get("/readyz", "").status == 200);
  // A revoked key stops working within the server's cache time (2 s).
  auto store = troupe::persistence::tenant_store::open(f.db);
  BOOST_REQUIRE(store);
  auto key = store->create_key("alpha", troupe::jobs::role::viewer);
  BOOST_REQUIRE(key);
  BOOST_TEST(f.client->get("/v1/runs", key->token).status == 200);
  BOOST_REQUIRE(!store->revoke_key(key->key.key_id));
  int status = 200;
  for (int i = 0; i < 100 && status == 200; ++i) {
    status = f.client->get("/v1/runs", key->token).status;
    if (status == 200)
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  BOOST_TEST(status == 401);
}

BOOST_AUTO_TEST_CASE(every_endpoint_every_role_own_and_other_tenant) {
  serve_fixture f;
  auto [beta_run, beta_call] = waiting_run(f, f.beta);
  for (auto& [role, name] : roles) {
    BOOST_TEST_CONTEXT("role " << name) {
      auto key = f.alpha[name];
      auto [run, call] = waiting_run(f, f.alpha);
      auto read_own = allows(role, api_action::read) ? 200 : 403;
      BOOST_TEST(f.client->get("/v1/runs", key).status == read_own);
      BOOST_TEST(f.client->get("/v1/runs/" + run, key).status == read_own);
      BOOST_TEST(f.client->get("/v1/runs/" + run + "/tree", key).status == read_own);
      BOOST_TEST(f.client->get("/v1/approvals", key).status == read_own);
      BOOST_TEST(f.client->get("/v1/kpis", key).status == read_own);
      std::vector<sse_event> evs;
      auto s = f.client->stream("/v1/runs/" + run + "/events", key, evs,
                                [](const std::vector<sse_event>& e) { return !e.empty(); });
      BOOST_TEST(s.status == read_own);
      // Another tenant's run: as if it did not exist.
      auto read_other = allows(role, api_action::read) ? 404 : 403;
      BOOST_TEST(f.client->get("/v1/runs/" + beta_run, key).status == read_other);
      BOOST_TEST(f.client->get("/v1/runs/" + beta_run + "/tree", key).status == read_other);
      BOOST_TEST(f.client->stream("/v1/runs/" + beta_run + "/events", key, evs).status
                 == read_other);
      auto cancel_other = allows(role, api_action::cancel) ? 404 : 403;
      BOOST_TEST(f.client->post("/v1/runs/" + beta_run + "/cancel", key, "").status
                 == cancel_other);
      auto approve_other = allows(role, api_action::approve) ? 404 : 403;
      BOOST_TEST(f.client->post("/v1/approvals/" + beta_run + "/" + beta_call, key,
                                R"({"decision":"approve"})").status
                 == approve_other);
      // Submitting is always for the key's own tenant.
      auto sub = f.client->post("/v1/runs", key, R"({"scenario":"quick","task":"x"})");
      BOOST_TEST(sub.status == (allows(role, api_action::submit) ? 202 : 403));
      // Mutations of its own run.
      auto approve = f.client->post("/v1/approvals/" + run + "/" + call, key,
                                    R"({"decision":"deny","reason":"matrix"})");
      BOOST_TEST(approve.status == (allows(role, api_action::approve) ? 200 : 403));
      auto cancel = f.client->post("/v1/runs/" + run + "/cancel", key, "");
      if (allows(role, api_action::cancel))
        BOOST_TEST((cancel.status == 202 || cancel.status == 409)); // 409: the deny ended it
      else
        BOOST_TEST(cancel.status == 403);
      // Clean up what this role could not end, so the next role's slot is free.
      f.client->post("/v1/runs/" + run + "/cancel", f.alpha["admin"], "");
    }
  }
  // Beta's run was never touched by alpha's keys.
  auto beta_view = f.get_json("/v1/runs/" + beta_run, f.beta["viewer"]);
  BOOST_TEST(beta_view["job"]["status"] == "running");
  BOOST_TEST(f.get_json("/v1/approvals", f.beta["viewer"])["items"].size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_tenant_policy_governs_its_runs_only) {
  serve_fixture f;
  auto policy = f.dir.file("strict.toml");
  {
    std::ofstream out{policy};
    out << "version = 1\nmode = \"enforce\"\ndefault = \"deny\"\n"
           "[[rule]]\nid = \"strict-finish\"\ntool = \"complete\"\ndecision = \"allow\"\n";
  }
  auto added = troupe::test::run_command(
    {TROUPE_BIN, "tenants", "add", "strict", "--policy", policy, "--db", f.db});
  BOOST_REQUIRE_MESSAGE(added.exit_code == 0, added.err);
  auto key = troupe::test::run_command(
    {TROUPE_BIN, "tenants", "key-create", "strict", "--role", "submitter", "--db", f.db});
  BOOST_REQUIRE_MESSAGE(key.exit_code == 0, key.err);
  auto token = key.out.substr(0, key.out.find('\n'));
  // The quick scenario's echo is allowed by its own policy (the default
  // one); the strict tenant's policy denies it, by its rule set.
  auto decisions = [&](const std::string& k, const std::string& viewer) {
    auto run = f.submit(k, "quick")["run_id"].get<std::string>();
    std::vector<sse_event> evs;
    f.client->stream("/v1/runs/" + run + "/events", viewer, evs);
    std::vector<std::string> out;
    for (auto& e : evs)
      if (e.event == "policy_decision") {
        auto d = json::parse(e.data)["policy_decision"];
        out.push_back(d["decision"].get<std::string>() + ":" + d["rule"].get<std::string>());
      }
    return out;
  };
  auto strict = decisions(token, token);
  BOOST_REQUIRE_EQUAL(strict.size(), 2u);
  BOOST_TEST(strict[0].rfind("deny:", 0) == 0);
  BOOST_TEST(strict[1] == "allow:strict-finish");
  auto normal = decisions(f.alpha["submitter"], f.alpha["viewer"]);
  BOOST_REQUIRE_EQUAL(normal.size(), 2u);
  BOOST_TEST(normal[0].rfind("allow:", 0) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
