#include "test/serve/serve_client.hpp"

#include <fstream>
#include <mutex>
#include <thread>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

namespace troupe::test {

namespace {

struct transfer {
  http_reply* reply;
  std::vector<sse_event>* events = nullptr;
  const std::function<bool(const std::vector<sse_event>&)>* enough = nullptr;
  size_t parsed = 0; // bytes of the body already split into events
};

size_t on_body(char* p, size_t size, size_t n, void* user) {
  auto* t = static_cast<transfer*>(user);
  t->reply->body.append(p, size * n);
  if (t->events != nullptr) {
    auto& body = t->reply->body;
    size_t end;
    while ((end = body.find("\n\n", t->parsed)) != std::string::npos) {
      for (auto& e : parse_sse(body.substr(t->parsed, end + 2 - t->parsed)))
        t->events->push_back(e);
      t->parsed = end + 2;
    }
    if (t->enough != nullptr && *t->enough && (*t->enough)(*t->events))
      return 0; // enough: abort the transfer
  }
  return size * n;
}

size_t on_header(char* p, size_t size, size_t n, void* user) {
  auto* r = static_cast<http_reply*>(user);
  std::string line(p, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n'))
      value.pop_back();
    r->headers[name] = value;
  }
  return size * n;
}

http_reply perform(const std::string& method, const std::string& url, const std::string& key,
                   const std::string& body, const std::vector<std::string>& headers,
                   std::chrono::milliseconds timeout, transfer& t) {
  http_reply& r = *t.reply;
  CURL* h = curl_easy_init();
  curl_slist* list = nullptr;
  if (!key.empty())
    list = curl_slist_append(list, ("Authorization: Bearer " + key).c_str());
  if (!body.empty() || method == "POST")
    list = curl_slist_append(list, "Content-Type: application/json");
  for (auto& hd : headers)
    list = curl_slist_append(list, hd.c_str());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  auto rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  r.status = static_cast<int>(status);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.events != nullptr))
    r.error = curl_easy_strerror(rc);
  if (rc != CURLE_OK && status == 0)
    r.status = 0;
  char* ct = nullptr;
  curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
  if (ct != nullptr)
    r.content_type = ct;
  curl_slist_free_all(list);
  curl_easy_cleanup(h);
  return r;
}

std::string path_of(const std::string& target) {
  return target.substr(0, target.find('?'));
}

} // namespace

serve_client::serve_client(std::string base, std::string record)
  : base_(std::move(base)), record_(std::move(record)) {}

void serve_client::record(const std::string& method, const std::string& path,
                          const http_reply& r) {
  if (record_.empty() || r.status == 0 || !recording)
    return;
  static std::mutex mu;
  nlohmann::json headers = nlohmann::json::object();
  for (auto& [k, v] : r.headers)
    headers[k] = v;
  nlohmann::json line{{"method", method},        {"path", path_of(path)},
                      {"status", r.status},      {"content_type", r.content_type},
                      {"headers", headers},      {"body", r.body}};
  std::lock_guard<std::mutex> guard{mu};
  std::ofstream out{record_, std::ios::app};
  out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

http_reply serve_client::call(const std::string& method, const std::string& path,
                              const std::string& key, const std::string& body,
                              const std::vector<std::string>& headers,
                              std::chrono::milliseconds timeout) {
  http_reply r;
  transfer t{&r};
  perform(method, base_ + path, key, body, headers, timeout, t);
  record(method, path, r);
  return r;
}

http_reply serve_client::stream(const std::string& path, const std::string& key,
                                std::vector<sse_event>& events,
                                const std::function<bool(const std::vector<sse_event>&)>& enough,
                                const std::vector<std::string>& headers,
                                std::chrono::milliseconds timeout) {
  http_reply r;
  transfer t{&r, &events, &enough};
  perform("GET", base_ + path, key, {}, headers, timeout, t);
  // A stream cut short by `enough` ends mid-way: record only whole ones.
  if (r.error.empty() && r.body.size() == t.parsed)
    record("GET", path, r);
  return r;
}

std::vector<sse_event> parse_sse(const std::string& body) {
  std::vector<sse_event> out;
  sse_event cur;
  bool any = false;
  size_t i = 0;
  while (i <= body.size()) {
    auto j = body.find('\n', i);
    if (j == std::string::npos)
      j = body.size();
    auto line = body.substr(i, j - i);
    if (line.empty()) {
      if (any)
        out.push_back(cur);
      cur = {};
      any = false;
    } else if (line[0] != ':') {
      auto colon = line.find(':');
      auto field = line.substr(0, colon);
      auto value = colon == std::string::npos ? std::string{} : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ')
        value.erase(0, 1);
      if (field == "id")
        cur.id = value;
      else if (field == "event")
        cur.event = value;
      else if (field == "data")
        cur.data += (cur.data.empty() ? "" : "\n") + value;
      any = true;
    }
    i = j + 1;
  }
  return out;
}

std::string wait_final(serve_client& c, const std::string& key, const std::string& id,
                       std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (std::chrono::steady_clock::now() < until) {
    auto r = c.get("/v1/runs/" + id, key);
    last = r.body;
    if (r.status == 200) {
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (!j.is_discarded() && j["job"].is_object()) {
        auto s = j["job"]["status"].get<std::string>();
        if (s != "queued" && s != "running" && s != "accepted")
          return last;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return last;
}

} // namespace troupe::test
