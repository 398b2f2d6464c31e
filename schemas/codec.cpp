#include "schemas/codec.hpp"

#include <cstring>

#include <capnp/any.h>
#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <zlib.h>

#include "journal.capnp.h"
#include "schemas/detail/capnp_helpers.hpp"
#include "schemas/detail/delegation_codec.hpp"
#include "schemas/detail/route_codec.hpp"
#include "schemas/detail/run_start_codec.hpp"
#include "schemas/detail/snapshot_codec.hpp"
#include "schemas/detail/team_codec.hpp"
#include "schemas/utf8.hpp"

namespace troupe {

namespace {

using namespace troupe::schema;
using detail::get;
using detail::in_range;
using detail::put;
using detail::str;
using detail::text;

// -- helpers -------------------------------------------------------------------

// FlatArrayMessageReader requires word-aligned input; SQLite and the network
// give no such promise, so copy when the pointer is misaligned.
class aligned_view {
public:
  aligned_view(const void* data, size_t size) {
    auto words = size / sizeof(capnp::word);
    if (reinterpret_cast<uintptr_t>(data) % alignof(capnp::word) == 0) {
      view_ = {static_cast<const capnp::word*>(data), words};
    } else {
      copy_ = kj::heapArray<capnp::word>(words);
      std::memcpy(copy_.begin(), data, words * sizeof(capnp::word));
      view_ = copy_.asPtr();
    }
  }
  kj::ArrayPtr<const capnp::word> words() const { return view_; }

private:
  kj::Array<capnp::word> copy_;
  kj::ArrayPtr<const capnp::word> view_;
};

event_bytes to_bytes(capnp::MessageBuilder& mb) {
  auto flat = capnp::messageToFlatArray(mb);
  auto bytes = flat.asChars();
  return event_bytes(bytes.begin(), bytes.end());
}

// For the readers that visit every field once (restamp's copy, the JSON
// export): a traversal budget of a few times the row's own size. Cap'n Proto
// charges a zero-sized list element one word, so a few bytes cannot expand
// into millions of exported records (decode refuses such lists outright).
capnp::ReaderOptions single_pass(const aligned_view& view) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = view.words().size() * 4 + 1024;
  return options;
}

caf::error malformed(std::string_view where, const std::string& what) {
  std::string msg = "malformed journal event";
  if (!where.empty())
    msg.append(" at ").append(where);
  msg.append(": ").append(what);
  return caf::make_error(schema_errc::malformed_event, std::move(msg));
}

caf::error check_size(const void* data, size_t size, std::string_view where) {
  if (data == nullptr || size == 0)
    return malformed(where, "empty payload");
  if (size % sizeof(capnp::word) != 0)
    return malformed(where, "payload of " + std::to_string(size)
                              + " bytes is not a whole number of 8-byte words");
  return caf::none;
}

// -- encode --------------------------------------------------------------------

struct body_encoder {
  Event::Builder ev;

  void operator()(const run_start& x) { put(ev.initRunStart(), x); }
  void operator()(const turn_start& x) {
    auto b = ev.initTurnStart();
    b.setTurn(x.turn);
    b.setMode(static_cast<TurnMode>(x.mode));
  }
  void operator()(const model_request& x) {
    auto b = ev.initModelRequest();
    b.setTurn(x.turn);
    b.setRoute(text(x.route));
    put(b.initTools(x.tools.size()), x.tools);
    b.setMessages(x.messages);
  }
  void operator()(const model_reply& x) {
    auto b = ev.initModelReply();
    b.setTurn(x.turn);
    b.setText(text(x.text));
    auto calls = b.initToolCalls(x.tool_calls.size());
    for (unsigned i = 0; i < x.tool_calls.size(); ++i) {
      calls[i].setCallId(text(x.tool_calls[i].call_id));
      calls[i].setName(text(x.tool_calls[i].name));
      calls[i].setArgsJson(text(x.tool_calls[i].args_json));
    }
    auto u = b.initUsage();
    u.setInput(x.tokens.input);
    u.setOutput(x.tokens.output);
    b.setFailure(text(x.failure));
    b.setLatencyUs(x.latency_us);
    b.setEndpoint(text(x.endpoint));
    b.setModel(text(x.model));
    b.setFirstTokenUs(x.first_token_us);
    b.setCostMicroUsd(x.cost_micro_usd);
    b.setFinishReason(text(x.finish_reason));
    b.setFailureDetail(text(x.failure_detail));
  }
  void operator()(const tool_call& x) {
    auto b = ev.initToolCall();
    b.setCallId(text(x.call_id));
    b.setName(text(x.name));
    b.setArgsJson(text(x.args_json));
  }
  void operator()(const policy_decision& x) {
    auto b = ev.initPolicyDecision();
    b.setCallId(text(x.call_id));
    b.setDecision(text(std::string(to_string(x.decision))));
    b.setRule(text(x.rule));
    b.setPolicyVersion(text(x.policy_version));
    b.setReason(text(x.reason));
    put(b.initSecrets(x.grants.secrets.size()), x.grants.secrets);
    b.setNetwork(x.grants.network);
    b.setUnsandboxed(x.grants.unsandboxed);
    b.setApprovalTimeoutMs(x.grants.approval_timeout_ms);
  }
  void operator()(const tool_result& x) {
    auto b = ev.initToolResult();
    b.setCallId(text(x.call_id));
    b.setName(text(x.name));
    b.setOk(x.ok);
    b.setOutput(text(x.output));
  }
  void operator()(const turn_end& x) {
    ev.initTurnEnd().setTurn(x.turn);
  }
  void operator()(const recovery& x) {
    auto b = ev.initRecovery();
    b.setReason(text(x.reason));
    b.setDetail(text(x.detail));
  }
  void operator()(const completion& x) {
    auto b = ev.initCompletion();
    b.setStatus(static_cast<RunStatus>(x.status));
    b.setAnswer(text(x.answer));
    b.setSummary(text(x.summary));
    b.setReason(text(x.reason));
    put(b.initKpis(), x.totals);
  }
  void operator()(const error_event& x) {
    auto b = ev.initError();
    b.setCode(text(std::string(to_string(x.code))));
    b.setMessage(text(x.message));
    b.setCallId(text(x.call_id));
  }
  void operator()(const checkpoint& x) {
    auto b = ev.initCheckpoint();
    b.setTurn(x.turn);
    put(b.initKpis(), x.totals);
    // Only old events carry the hand-rolled record; they re-encode with it.
    if (!x.state.empty())
      b.setState(capnp::Data::Reader(
        reinterpret_cast<const kj::byte*>(x.state.data()), x.state.size()));
    if (x.snapshot)
      put(b.initSnapshot(), *x.snapshot);
  }
  void operator()(const approval_request& x) { put(ev.initApprovalRequest(), x); }
  void operator()(const approval_decision& x) {
    auto b = ev.initApprovalDecision();
    b.setCallId(text(x.call_id));
    b.setApproved(x.approved);
    b.setBy(text(x.by));
    b.setReason(text(x.reason));
  }
  void operator()(const retry& x) {
    auto b = ev.initRetry();
    b.setCallId(text(x.call_id));
    b.setAttempt(x.attempt);
    b.setDelayUs(x.delay_us);
    b.setJitter(x.jitter);
    b.setReason(text(x.reason));
  }
  void operator()(const route_attempt& x) { put(ev.initRouteAttempt(), x); }
  void operator()(const delegation& x) { put(ev.initDelegation(), x); }
  void operator()(const delegation_result& x) { put(ev.initDelegationResult(), x); }
  void operator()(const verification& x) { put(ev.initVerification(), x); }
  void operator()(const phase_start& x) { put(ev.initPhaseStart(), x); }
  void operator()(const gate_pass& x) { put(ev.initGatePass(), x); }
  void operator()(const gate_fail& x) { put(ev.initGateFail(), x); }
  void operator()(const artifact& x) { put(ev.initArtifact(), x); }
  void operator()(const parse_failure& x) {
    auto b = ev.initParseFailure();
    b.setCallId(text(x.call_id));
    b.setName(text(x.name));
    b.setArgsJson(text(x.args_json));
    b.setReason(text(x.reason));
  }
};

// -- decode --------------------------------------------------------------------

// Returns false for a union member this build does not know (a newer writer).
// False for a kind this build does not know, or (with `why` set) a field
// value outside its kind's string table.
bool decode_body(Event::Reader r, event_body& out, std::string& why) {
  switch (r.which()) {
    case Event::RUN_START:
      out = get(r.getRunStart());
      return true;
    case Event::TURN_START: {
      auto b = r.getTurnStart();
      if (!in_range(b.getMode(), TurnMode::FIX))
        return false;
      out = turn_start{b.getTurn(), static_cast<turn_mode>(b.getMode())};
      return true;
    }
    case Event::MODEL_REQUEST: {
      auto b = r.getModelRequest();
      out = model_request{b.getTurn(), str(b.getRoute()), get(b.getTools()),
                          b.getMessages()};
      return true;
    }
    case Event::MODEL_REPLY: {
      auto b = r.getModelReply();
      model_reply x;
      x.turn = b.getTurn();
      x.text = str(b.getText());
      for (auto c : detail::backed(b.getToolCalls(), "tool_calls"))
        x.tool_calls.push_back(
          {str(c.getCallId()), str(c.getName()), str(c.getArgsJson())});
      x.tokens = {b.getUsage().getInput(), b.getUsage().getOutput()};
      x.failure = str(b.getFailure());
      x.latency_us = b.getLatencyUs();
      x.endpoint = str(b.getEndpoint());
      x.model = str(b.getModel());
      x.first_token_us = b.getFirstTokenUs();
      x.cost_micro_usd = b.getCostMicroUsd();
      x.finish_reason = str(b.getFinishReason());
      x.failure_detail = str(b.getFailureDetail());
      out = std::move(x);
      return true;
    }
    case Event::TOOL_CALL: {
      auto b = r.getToolCall();
      out = tool_call{str(b.getCallId()), str(b.getName()),
                      str(b.getArgsJson())};
      return true;
    }
    case Event::POLICY_DECISION: {
      auto b = r.getPolicyDecision();
      policy_decision x;
      if (!from_string(str(b.getDecision()), x.decision)) {
        why = "policy_decision has an unknown decision '" + str(b.getDecision()) + "'";
        return false;
      }
      x.call_id = str(b.getCallId());
      x.rule = str(b.getRule());
      x.policy_version = str(b.getPolicyVersion());
      x.reason = str(b.getReason());
      x.grants = {get(b.getSecrets()), b.getNetwork(), b.getUnsandboxed(),
                  b.getApprovalTimeoutMs()};
      out = std::move(x);
      return true;
    }
    case Event::TOOL_RESULT: {
      auto b = r.getToolResult();
      out = tool_result{str(b.getCallId()), str(b.getName()), b.getOk(),
                        str(b.getOutput())};
      return true;
    }
    case Event::TURN_END:
      out = turn_end{r.getTurnEnd().getTurn()};
      return true;
    case Event::RECOVERY: {
      auto b = r.getRecovery();
      out = recovery{str(b.getReason()), str(b.getDetail())};
      return true;
    }
    case Event::COMPLETION: {
      auto b = r.getCompletion();
      if (!in_range(b.getStatus(), RunStatus::CANCELED)) {
        why = "completion has an unknown status #"
              + std::to_string(static_cast<int>(b.getStatus()));
        return false;
      }
      out = completion{static_cast<run_status>(b.getStatus()),
                       str(b.getAnswer()), str(b.getSummary()),
                       str(b.getReason()), get(b.getKpis())};
      return true;
    }
    case Event::ERROR: {
      auto b = r.getError();
      error_kind code;
      if (!from_string(str(b.getCode()), code)) {
        why = "error event has an unknown code '" + str(b.getCode()) + "'";
        return false;
      }
      out = error_event{code, str(b.getMessage()), str(b.getCallId())};
      return true;
    }
    case Event::CHECKPOINT: {
      auto b = r.getCheckpoint();
      auto d = b.getState();
      checkpoint x{b.getTurn(), get(b.getKpis()),
                   std::string(reinterpret_cast<const char*>(d.begin()), d.size()), {}};
      run_snapshot snap;
      if (b.hasSnapshot() && get(b.getSnapshot(), snap))
        x.snapshot = std::move(snap);
      out = std::move(x);
      return true;
    }
    case Event::APPROVAL_REQUEST:
      out = get(r.getApprovalRequest());
      return true;
    case Event::APPROVAL_DECISION: {
      auto b = r.getApprovalDecision();
      out = approval_decision{str(b.getCallId()), b.getApproved(),
                              str(b.getBy()), str(b.getReason())};
      return true;
    }
    case Event::RETRY: {
      auto b = r.getRetry();
      out = retry{str(b.getCallId()), b.getAttempt(), b.getDelayUs(), b.getJitter(),
                  str(b.getReason())};
      return true;
    }
    case Event::ROUTE_ATTEMPT:
      out = get(r.getRouteAttempt());
      return true;
    case Event::DELEGATION:
      out = get(r.getDelegation());
      return true;
    case Event::VERIFICATION:
      out = get(r.getVerification());
      return true;
    case Event::PHASE_START:
      out = get(r.getPhaseStart());
      return true;
    case Event::GATE_PASS:
      out = gate_pass{get(r.getGatePass())};
      return true;
    case Event::GATE_FAIL:
      out = gate_fail{get(r.getGateFail())};
      return true;
    case Event::ARTIFACT:
      out = get(r.getArtifact());
      return true;
    case Event::DELEGATION_RESULT: {
      delegation_result x;
      if (!get(r.getDelegationResult(), x)) {
        why = "delegation_result has an unknown status #"
              + std::to_string(static_cast<int>(r.getDelegationResult().getStatus()));
        return false;
      }
      out = std::move(x);
      return true;
    }
    case Event::PARSE_FAILURE: {
      auto b = r.getParseFailure();
      out = parse_failure{str(b.getCallId()), str(b.getName()),
                          str(b.getArgsJson()), str(b.getReason())};
      return true;
    }
  }
  return false;
}

} // namespace

// MallocMessageBuilder's default first segment is 1024 zeroed words: for the
// typical 200-byte event that calloc+memset was 15% of a turn's instructions.
// Start small; larger events get a second segment.
constexpr unsigned first_segment_words = 64;

event_bytes encode(const event& ev) {
  capnp::MallocMessageBuilder mb(first_segment_words);
  auto root = mb.initRoot<Event>();
  root.setRunId(text(ev.run_id));
  root.setSeq(ev.seq);
  root.setParentRunId(text(ev.parent_run_id));
  root.setRootRunId(text(ev.root_run_id));
  root.setTsUs(ev.ts_us);
  std::visit(body_encoder{root}, ev.body);
  return to_bytes(mb);
}

caf::expected<event> decode(const void* data, size_t size,
                            std::string_view where) {
  if (auto err = check_size(data, size, where))
    return err;
  try {
    aligned_view view(data, size);
    capnp::FlatArrayMessageReader msg(view.words());
    auto r = msg.getRoot<Event>();
    event ev;
    ev.run_id = str(r.getRunId());
    ev.seq = r.getSeq();
    ev.parent_run_id = str(r.getParentRunId());
    ev.root_run_id = str(r.getRootRunId());
    ev.ts_us = r.getTsUs();
    std::string why;
    bool known = decode_body(r, ev.body, why);
    if (!why.empty())
      return malformed(where, why);
    if (!known)
      return caf::make_error(
        schema_errc::unknown_kind,
        "journal event" + (where.empty() ? "" : " at " + std::string(where))
          + " has kind #" + std::to_string(static_cast<int>(r.which()))
          + ", unknown to this build of troupe (written by a newer version?)");
    return ev;
  } catch (const kj::Exception& e) {
    return malformed(where, e.getDescription().cStr());
  }
}

namespace {

caf::expected<event_header> read_header(Event::Reader r) {
  event_header h;
  h.run_id = str(r.getRunId());
  h.parent_run_id = str(r.getParentRunId());
  h.root_run_id = str(r.getRootRunId());
  h.seq = r.getSeq();
  h.ts_us = r.getTsUs();
  auto which = static_cast<size_t>(r.which());
  if (which >= event_kind_count)
    return caf::make_error(schema_errc::unknown_kind,
                           "event kind #" + std::to_string(which)
                             + " is unknown to this build of troupe");
  h.kind = static_cast<event_kind>(which);
  return h;
}

} // namespace

caf::expected<event_header> peek_header(const event_bytes& bytes) {
  if (auto err = check_size(bytes.data(), bytes.size(), {}))
    return err;
  try {
    aligned_view view(bytes.data(), bytes.size());
    capnp::FlatArrayMessageReader msg(view.words());
    return read_header(msg.getRoot<Event>());
  } catch (const kj::Exception& e) {
    return malformed({}, e.getDescription().cStr());
  }
}

namespace detail {

caf::expected<char*> locate_seq(event_bytes& bytes, event_header& h) {
  if (auto err = check_size(bytes.data(), bytes.size(), {}))
    return err;
  try {
    aligned_view view(bytes.data(), bytes.size());
    capnp::FlatArrayMessageReader msg(view.words());
    auto root = msg.getRoot<Event>();
    auto header = read_header(root);
    if (!header)
      return std::move(header.error());
    h = std::move(*header);
    // getSeq() reads data field 0: the seq is the first 4 bytes of the root's
    // data section, which points into `bytes` unless the view had to copy.
    auto data = capnp::AnyStruct::Reader(root).getDataSection();
    auto* p = reinterpret_cast<const char*>(data.begin());
    if (data.size() < sizeof(uint32_t) || p < bytes.data()
        || p + sizeof(uint32_t) > bytes.data() + bytes.size())
      return malformed({}, "the envelope's seq is not inside its buffer");
    return bytes.data() + (p - bytes.data());
  } catch (const kj::Exception& e) {
    return malformed({}, e.getDescription().cStr());
  }
}

} // namespace detail

caf::expected<event_bytes> restamp(const event_bytes& bytes, uint32_t seq) {
  if (auto err = check_size(bytes.data(), bytes.size(), {}))
    return err;
  try {
    aligned_view view(bytes.data(), bytes.size());
    capnp::FlatArrayMessageReader msg(view.words(), single_pass(view));
    capnp::MallocMessageBuilder mb(
      static_cast<unsigned>(bytes.size() / sizeof(capnp::word) + 8));
    mb.setRoot(msg.getRoot<Event>());
    mb.getRoot<Event>().setSeq(seq);
    return to_bytes(mb);
  } catch (const kj::Exception& e) {
    return malformed({}, e.getDescription().cStr());
  }
}

caf::expected<std::string> to_json(const void* data, size_t size,
                                   std::string_view where) {
  if (auto err = check_size(data, size, where))
    return err;
  try {
    aligned_view view(data, size);
    capnp::FlatArrayMessageReader msg(view.words(), single_pass(view));
    capnp::JsonCodec codec;
    codec.handleByAnnotation<Event>();
    auto json = codec.encode(msg.getRoot<Event>());
    // The codec copies text bytes as they are, and a damaged or imported
    // journal may hold bytes that are not UTF-8: the line must still be JSON.
    return valid_utf8(std::string_view(json.cStr(), json.size()));
  } catch (const kj::Exception& e) {
    return malformed(where, e.getDescription().cStr());
  }
}

uint32_t checksum(const void* data, size_t size) {
  return static_cast<uint32_t>(
    crc32(0L, static_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

} // namespace troupe
