#include "sandbox/verify_tool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "core/json_schema.hpp"
#include "core/verification.hpp"
#include "core/workspace.hpp"
#include "core/workspace_fd.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

constexpr size_t max_file_bytes = 64 * 1024 * 1024;
constexpr size_t output_excerpt = 2000;

struct file_read {
  std::string content;
  std::string error; ///< empty: read
};

// Reads a regular file beneath the workspace root, as the file tools do.
file_read read_beneath(const std::filesystem::path& root, const std::string& rel) {
  if (auto err = check_workspace_spelling(root, rel))
    return {"", render(err)};
  auto dir = open_workspace_root(root);
  if (!dir)
    return {"", render(dir.error())};
  int fd = open_beneath(dir->get(), rel, O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    return {"", "no file '" + rel + "' in the workspace (" + std::strerror(-fd) + ")"};
  struct stat st {};
  std::string content;
  std::string error;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = "'" + rel + "' is a " + file_type_name(st.st_mode) + ", not a regular file";
  } else if (static_cast<size_t>(st.st_size) > max_file_bytes) {
    error = "'" + rel + "' is larger than 64 MiB";
  } else {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
      content.append(buf, static_cast<size_t>(n));
    if (n < 0)
      error = "reading '" + rel + "': " + std::strerror(errno);
  }
  ::close(fd);
  return {std::move(content), std::move(error)};
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string tail(const std::string& s) {
  return s.size() <= output_excerpt ? s : "..." + s.substr(s.size() - output_excerpt);
}

json run_check(const json& c, const tool_definition& shell, const tool_context& ctx) {
  auto get = [&](const char* key) {
    auto i = c.find(key);
    return i != c.end() && i->is_string() ? i->get<std::string>() : std::string{};
  };
  json r = {{"name", get("name")}, {"kind", get("kind")}, {"ok", false}};
  auto kind = get("kind");
  if (auto denied = get("denied"); !denied.empty()) {
    r["output"] = denied;
    return r;
  }
  if (kind == "file_exists" || kind == "json_matches") {
    auto file = read_beneath(ctx.workspace_root, get("path"));
    if (!file.error.empty()) {
      r["output"] = file.error;
      return r;
    }
    if (kind == "file_exists") {
      r["ok"] = true;
      r["sha256"] = sha256_hex(file.content);
      r["bytes"] = file.content.size();
      r["lines"] = static_cast<uint64_t>(std::count(file.content.begin(), file.content.end(), '\n'))
                   + (file.content.empty() || file.content.back() == '\n' ? 0 : 1);
      return r;
    }
    auto doc = json::parse(file.content, nullptr, false);
    auto schema = json::parse(get("schema"), nullptr, false);
    if (doc.is_discarded()) {
      r["output"] = "'" + get("path") + "' is not JSON";
    } else if (auto err = validate_json(schema, doc)) {
      r["output"] = "'" + get("path") + "' does not match the schema: " + render(err);
    } else {
      r["ok"] = true;
    }
    return r;
  }
  if (kind == "command_succeeds" || kind == "test_passes") {
    auto out = shell.handler(json{{"argv", c.value("argv", json::array())}}, ctx);
    r["ok"] = out.ok;
    r["output"] = tail(out.output);
    return r;
  }
  r["output"] = "unknown check kind '" + kind + "'";
  return r;
}

} // namespace

tool_definition make_verify_tool(tool_definition shell) {
  auto run = [shell = std::move(shell)](const json& args, const tool_context& ctx) {
    json results = json::array();
    for (auto& c : args.value("checks", json::array()))
      results.push_back(run_check(c, shell, ctx));
    return tool_outcome{true, json{{"results", std::move(results)}}.dump(), false};
  };
  return {std::string(verify_tool),
          "Runs a task's checks (internal; never offered to a model).",
          json{{"type", "object"}}, tool_effect::pure, std::move(run)};
}

} // namespace troupe
