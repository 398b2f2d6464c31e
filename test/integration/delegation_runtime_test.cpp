// Delegation through the embedding API: canceling a root reaches every
// descendant. (Crashes anywhere in a tree: kill_resume_test.)

#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "troupe/runtime.hpp"

using namespace troupe;

namespace {

// The lead delegates to two mids, each mid to one leaf; leaves wait in the
// provider until released, so the tree can be caught with all five runs
// alive. (A blocking provider's route answers one request at a time: the
// second leaf's request waits behind the first.)
class tree_provider final : public model_provider {
public:
  model_response complete(const model_call& call) override {
    model_response r;
    if (call.agent == "leaf") {
      std::unique_lock<std::mutex> guard(mtx_);
      ++leaves_waiting_;
      cv_.notify_all();
      cv_.wait(guard, [&] { return released_; });
    }
    if (call.request_index == 0 && call.agent == "lead") {
      r.tool_calls.push_back({"a", "delegate", R"({"agent":"mid","task":"left"})"});
      r.tool_calls.push_back({"b", "delegate", R"({"agent":"mid","task":"right"})"});
    } else if (call.request_index == 0 && call.agent == "mid") {
      r.tool_calls.push_back({"c", "delegate", R"({"agent":"leaf","task":"work"})"});
    } else {
      r.tool_calls.push_back({"z", "complete", R"({"status":"success","answer":"ok"})"});
    }
    return r;
  }
  bool blocking() const override { return true; }

  void wait_for_leaves(int n) {
    std::unique_lock<std::mutex> guard(mtx_);
    cv_.wait(guard, [&] { return leaves_waiting_ >= n; });
  }
  void release() {
    std::lock_guard<std::mutex> guard(mtx_);
    released_ = true;
    cv_.notify_all();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  int leaves_waiting_ = 0;
  bool released_ = false;
};

scenario tree_scenario(const std::filesystem::path& dir) {
  scenario sc;
  sc.source = (dir / "tree.toml").string();
  sc.agent = "lead";
  sc.task = "fan out twice";
  sc.limits.max_turns = 40;
  sc.limits.max_tool_calls = 40;
  sc.workspace_root = dir / "work";
  sc.models["tree-model"] = {"tree-model", "tree"};
  sc.agents["lead"] = {"lead", "tree-model", "", {"delegate", "complete"}, {"mid"}};
  sc.agents["mid"] = {"mid", "tree-model", "", {"delegate", "complete"}, {"leaf"}};
  sc.agents["leaf"] = {"leaf", "tree-model", "", {"complete"}, {}};
  return sc;
}

std::map<std::string, run_status> statuses(const std::string& db_path) {
  auto db = persistence::store::open(db_path, persistence::open_mode::read_only);
  BOOST_REQUIRE(db);
  auto runs = db->list_runs();
  BOOST_REQUIRE(runs);
  std::map<std::string, run_status> out;
  for (auto& r : *runs)
    out[r.run_id] = r.status;
  return out;
}

// Runs whose journal holds the `canceled` error a cancel request writes.
size_t cancels_journaled(const std::string& db_path) {
  auto db = persistence::store::open(db_path, persistence::open_mode::read_only);
  BOOST_REQUIRE(db);
  auto errors = db->events("", event_kind::error);
  BOOST_REQUIRE(errors);
  std::set<std::string> runs;
  for (auto& row : *errors) {
    auto ev = decode(row.bytes);
    BOOST_REQUIRE(ev);
    if (auto* err = std::get_if<error_event>(&ev->body); err && err->code == error_kind::canceled)
      runs.insert(row.run_id);
  }
  return runs.size();
}

struct tree_fixture {
  std::filesystem::path dir = std::filesystem::temp_directory_path()
                              / ("troupe-delegation-" + std::to_string(::getpid()));
  std::string db = (dir / "journal.db").string();
  std::shared_ptr<tree_provider> provider = std::make_shared<tree_provider>();

  tree_fixture() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~tree_fixture() { std::filesystem::remove_all(dir); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(delegation_runtime)

BOOST_FIXTURE_TEST_CASE(canceling_the_root_cancels_every_descendant, tree_fixture) {
  {
    auto rt = runtime::create({db});
    BOOST_REQUIRE(rt);
    BOOST_REQUIRE(!(*rt)->register_provider("tree-model", provider));
    auto handle = (*rt)->start(tree_scenario(dir), {});
    BOOST_REQUIRE(handle);
    provider->wait_for_leaves(1);
    // Lead, two mids, two leaves: all journaled (the second leaf's
    // run_start is committed shortly after the first leaf asked; 30 s for a
    // loaded sanitizer build, where 5 s was seen to fall short).
    for (int i = 0; i < 3000 && statuses(db).size() < 5; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_TEST(statuses(db).size() == 5u);
    BOOST_TEST((*rt)->cancel(handle->id()));
    // The cancel travels root -> mids -> leaves; each run journals it when
    // it arrives. Only then are the leaves' replies released: a reply that
    // overtook the cancel would rightly complete its leaf.
    for (int i = 0; i < 3000 && cancels_journaled(db) < 5; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_TEST(cancels_journaled(db) == 5u);
    provider->release(); // the leaves' replies arrive after the cancel
    auto result = handle->result().get();
    BOOST_TEST((result.status == run_status::canceled));
  }
  auto all = statuses(db);
  BOOST_REQUIRE_EQUAL(all.size(), 5u);
  for (auto& [id, status] : all)
    BOOST_TEST((status == run_status::canceled), id << " ended " << to_string(status));
}

BOOST_AUTO_TEST_SUITE_END()
