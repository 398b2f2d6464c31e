#pragma once
// The scripted loopback model server (test/peers/model_server.py) as a test
// fixture: started on a free port with a JSON script, killed at the end. Its
// request log (one JSON line per request) tells what troupe sent and whether
// a transfer was closed early.

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "test/support/run_command.hpp"

namespace troupe::test {

class model_server {
public:
  /// `script` as model_server.py documents it; `dir` holds the script and log.
  model_server(const nlohmann::json& script, const std::string& dir, const std::string& name)
    : log_path_(dir + "/" + name + ".log") {
    auto script_path = dir + "/" + name + ".json";
    std::ofstream(script_path) << script.dump();
    child_ = spawn_with_stdout({"/usr/bin/python3", TROUPE_MODEL_SERVER, "--script", script_path,
                                "--port", "0", "--log", log_path_});
    BOOST_REQUIRE_MESSAGE(child_.pid > 0, "cannot start " TROUPE_MODEL_SERVER);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (out.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline)
      read_until(child_, std::min(deadline, std::chrono::steady_clock::now()
                                              + std::chrono::milliseconds(100)),
                 out);
    auto at = out.find("LISTENING ");
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "model server did not start: " << out);
    port_ = std::stoi(out.substr(at + 10));
  }

  ~model_server() {
    if (child_.pid > 0) {
      ::kill(child_.pid, SIGKILL);
      wait_for(child_);
    }
  }

  model_server(const model_server&) = delete;
  model_server& operator=(const model_server&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  /// The requests logged so far (each one a JSON object).
  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_path_);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty())
        out.push_back(nlohmann::json::parse(line, nullptr, false));
    return out;
  }

  /// Waits until `n` requests are logged (or `timeout` passes).
  std::vector<nlohmann::json> wait_for_requests(size_t n, std::chrono::seconds timeout
                                                           = std::chrono::seconds(20)) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto got = requests();
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      got = requests();
    }
    return got;
  }

private:
  std::string log_path_;
  child_process child_;
  int port_ = 0;
};

} // namespace troupe::test
