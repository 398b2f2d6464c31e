#include "core/logging.hpp"

#include <chrono>
#include <ctime>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/runtime_errc.hpp"
#include "schemas/json_text.hpp"

namespace troupe {

namespace {

// spdlog's `%v` is not escaped, so a message with a quote breaks a JSON
// pattern. This formatter builds each line with nlohmann::json instead.
class json_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto us = duration_cast<microseconds>(msg.time.time_since_epoch()).count();
    nlohmann::ordered_json line;
    line["ts_us"] = us;
    line["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                                spdlog::level::to_string_view(msg.level).size());
    line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    line["thread"] = msg.thread_id;
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    auto text = to_json_text(line);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

} // namespace

caf::error setup_logging(std::string_view format, std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off")
    return caf::make_error(runtime_errc::invalid_arguments,
                           "--log-level: unknown level '" + std::string(level)
                             + "'; expected trace, debug, info, warn, error, "
                               "critical or off");
  if (format != "text" && format != "json")
    return caf::make_error(runtime_errc::invalid_arguments,
                           "--log-format: unknown format '"
                             + std::string(format)
                             + "'; expected text or json");
  auto logger = std::make_shared<spdlog::logger>(
    "troupe", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == "json")
    logger->set_formatter(std::make_unique<json_formatter>());
  else
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return {};
}

} // namespace troupe
