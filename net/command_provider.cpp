#include "net/command_provider.hpp"

#include <chrono>
#include <utility>

#include "schemas/errors.hpp"

namespace troupe::net {

command_limits limits_for(const endpoint_config& e) {
  command_limits l;
  l.total_ms = e.timeouts.total_ms;
  l.first_output_ms = e.timeouts.first_byte_ms;
  l.idle_ms = e.timeouts.idle_ms;
  return l;
}

command_call_result run_command_model(const endpoint_config& e, const model_call& call,
                                      command_process& proc) {
  command_call_result out;
  auto& resp = out.response;
  auto request = command_request_json(call, e);
  if (!request) {
    resp.failure = std::string(to_string(model_failure::bad_request));
    resp.failure_detail = render(request.error());
  } else {
    // Ids of calls the program leaves unnamed: unique within the run, since
    // request indexes are.
    command_reply_parser parser{"call_" + std::to_string(call.request_index) + "_"};
    auto start = std::chrono::steady_clock::now();
    out.process = proc.run(e.command, {}, *request, limits_for(e), [&](std::string_view bytes) {
      parser.feed(bytes);
      if (resp.first_token_us == 0 && parser.any_delta())
        resp.first_token_us = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start)
            .count());
    });
    auto reply = parser.finish();
    out.stats = reply.stats;
    out.raw_stdout = std::move(reply.raw);
    auto first_token = resp.first_token_us;
    resp = command_response(std::move(reply), out.process.exit);
    resp.first_token_us = first_token;
  }
  resp.endpoint = e.name;
  resp.model = call.model;
  resp.latency_us = out.process.elapsed_us;
  resp.cost_micro_usd = reply_cost_micro_usd(e, resp.tokens.input, resp.tokens.output);
  return out;
}

command_provider::command_provider(endpoint_config e) : endpoint_(std::move(e)) {
}

model_response command_provider::complete(const model_call& call) {
  command_process proc;
  return run_command_model(endpoint_, call, proc).response;
}

} // namespace troupe::net
