#include "core/run_snapshot.hpp"

#include <algorithm>
#include <cstring>

#include "core/runtime_errc.hpp"

namespace troupe {

namespace {

// The snapshot format: a version byte, then the fields below in order;
// integers are LEB128 varints (int64 as its two's complement), strings a
// varint length and the bytes. Written after every tool result and turn end;
// snapshots are read only by restore().
//
// Version 1 copied every call of the current reply (id, name, arguments,
// status) into every checkpoint, so a reply with n calls wrote n checkpoints
// of O(n) bytes: 1,000 calls gave 29 MB. Version 2 writes only what the
// checkpoint cannot find elsewhere: the statuses, run-length encoded, and the
// arguments of calls between vetting and result (normalized by their
// tool_call). Ids, names and the model's arguments are in the reply's
// model_reply event, which restore() takes. Version 1 is still read.
constexpr uint8_t format_v1 = 1;
constexpr uint8_t format_version = 2;

class writer {
public:
  void u(uint64_t x) {
    do {
      uint8_t b = x & 0x7f;
      x >>= 7;
      out_.push_back(static_cast<char>(x ? b | 0x80 : b));
    } while (x);
  }
  void i(int64_t x) { u(static_cast<uint64_t>(x)); }
  void s(const std::string& x) {
    u(x.size());
    out_ += x;
  }
  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

class reader {
public:
  explicit reader(std::string_view in) : in_(in) {}
  bool u(uint64_t& x) {
    x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size())
        return false;
      auto b = static_cast<uint8_t>(in_[pos_++]);
      x |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80))
        return true;
    }
    return false;
  }
  template <class T>
  bool num(T& x) {
    uint64_t v;
    if (!u(v))
      return false;
    x = static_cast<T>(v);
    return true;
  }
  bool s(std::string& x) {
    uint64_t n;
    if (!u(n) || n > in_.size() - pos_)
      return false;
    x.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

private:
  std::string_view in_;
  size_t pos_ = 0;
};

using call_status = call_slot::state;

// Whether a call's arguments belong in the snapshot: a pending call still has
// the model's arguments (the reply has them), and a finished call's are no
// longer read; the others may have been normalized by their tool_call.
bool carries_args(call_status s) {
  return s != call_status::pending && s != call_status::done;
}

void encode_calls(writer& w, const std::vector<call_slot>& calls) {
  w.u(calls.size());
  // Calls are handled in order, so the statuses are a few long runs
  // (done..., in_flight, pending...).
  std::vector<std::pair<call_status, uint64_t>> runs;
  for (auto& c : calls)
    if (!runs.empty() && runs.back().first == c.status)
      ++runs.back().second;
    else
      runs.emplace_back(c.status, 1);
  w.u(runs.size());
  for (auto& [status, length] : runs) {
    w.u(static_cast<uint64_t>(status));
    w.u(length);
  }
  uint64_t with_args = 0;
  for (auto& c : calls)
    with_args += carries_args(c.status) ? 1 : 0;
  w.u(with_args);
  for (size_t i = 0; i < calls.size(); ++i)
    if (carries_args(calls[i].status)) {
      w.u(i);
      w.s(calls[i].call.args_json);
    }
}

std::string encode_control(const run_state& st) {
  writer w;
  w.u(format_version);
  w.u(static_cast<uint64_t>(st.phase));
  w.u(st.turn);
  w.u(static_cast<uint64_t>(st.mode));
  w.u(static_cast<uint64_t>(st.next_mode));
  w.i(st.last_ts_us);
  encode_calls(w, st.calls);
  w.u((st.reply_had_calls ? 1u : 0u) | (st.reply_failed ? 2u : 0u)
      | (st.turn_had_parse_failure ? 4u : 0u) | (st.cancel_requested ? 8u : 0u));
  w.u(st.consecutive_errors);
  w.u(st.consecutive_provider_failures);
  w.s(st.recovery_reason);
  w.s(st.out_of_scope);
  w.u(st.complete_call ? 1 : 0);
  if (st.complete_call) {
    w.s(st.complete_call->first);
    w.s(st.complete_call->second);
  }
  w.u(st.pending_approvals.size());
  for (auto& a : st.pending_approvals) {
    w.s(a.call_id);
    w.s(a.tool);
    w.s(a.args_json);
    w.s(a.rule);
    w.i(a.deadline_us);
  }
  return w.take();
}

// Version 1: every call in full.
bool decode_calls_v1(reader& r, std::vector<call_slot>& calls) {
  uint64_t n;
  if (!r.u(n))
    return false;
  calls.clear();
  for (uint64_t k = 0; k < n; ++k) {
    call_slot c;
    if (!r.s(c.call.call_id) || !r.s(c.call.name) || !r.s(c.call.args_json)
        || !r.num(c.status))
      return false;
    calls.push_back(std::move(c));
  }
  return true;
}

// Version 2: the calls of `reply` (the run's last model_reply), with the
// statuses and arguments the snapshot carries.
bool decode_calls_v2(reader& r, const model_reply* reply, std::vector<call_slot>& calls) {
  uint64_t n, runs, with_args;
  if (!r.u(n))
    return false;
  calls.clear();
  if (n != 0) {
    if (reply == nullptr || reply->tool_calls.size() != n)
      return false;
    for (auto& c : reply->tool_calls)
      calls.push_back({c, call_status::pending});
  }
  if (!r.u(runs))
    return false;
  uint64_t next = 0;
  for (uint64_t k = 0; k < runs; ++k) {
    uint64_t status, length;
    if (!r.u(status) || status > static_cast<uint64_t>(call_status::done) || !r.u(length)
        || length > n - next)
      return false;
    for (uint64_t i = 0; i < length; ++i)
      calls[next++].status = static_cast<call_status>(status);
  }
  if (next != n || !r.u(with_args))
    return false;
  for (uint64_t k = 0; k < with_args; ++k) {
    uint64_t index;
    if (!r.u(index) || index >= n || !r.s(calls[index].call.args_json))
      return false;
  }
  return true;
}

bool decode_control(std::string_view bytes, const model_reply* reply, run_state& st) {
  reader r(bytes);
  uint64_t version, n, flags, has_complete;
  if (!r.u(version) || (version != format_v1 && version != format_version))
    return false;
  if (!r.num(st.phase) || !r.num(st.turn) || !r.num(st.mode) || !r.num(st.next_mode)
      || !r.num(st.last_ts_us))
    return false;
  if (!(version == format_v1 ? decode_calls_v1(r, st.calls)
                             : decode_calls_v2(r, reply, st.calls)))
    return false;
  if (!r.u(flags) || !r.num(st.consecutive_errors)
      || !r.num(st.consecutive_provider_failures) || !r.s(st.recovery_reason)
      || !r.s(st.out_of_scope) || !r.u(has_complete))
    return false;
  st.reply_had_calls = flags & 1;
  st.reply_failed = flags & 2;
  st.turn_had_parse_failure = flags & 4;
  st.cancel_requested = flags & 8;
  if (has_complete) {
    std::pair<std::string, std::string> cc;
    if (!r.s(cc.first) || !r.s(cc.second))
      return false;
    st.complete_call = std::move(cc);
  }
  if (!r.u(n))
    return false;
  st.pending_approvals.clear();
  for (uint64_t k = 0; k < n; ++k) {
    approval_request a;
    if (!r.s(a.call_id) || !r.s(a.tool) || !r.s(a.args_json) || !r.s(a.rule)
        || !r.num(a.deadline_us))
      return false;
    st.pending_approvals.push_back(std::move(a));
  }
  return r.done();
}

bool same_kpis(const kpis& a, const kpis& b) {
  return a.turns == b.turns && a.tool_calls == b.tool_calls
         && a.model_calls == b.model_calls && a.parse_failures == b.parse_failures
         && a.retries == b.retries && a.input_tokens == b.input_tokens
         && a.output_tokens == b.output_tokens && a.wall_ms == b.wall_ms
         && a.tool_errors == b.tool_errors && a.model_errors == b.model_errors
         && a.denials == b.denials;
}

} // namespace

std::string snapshot_of(const run_state& st) {
  return encode_control(st);
}

caf::expected<run_state> restore(const event& start, const event* reply, const event& cp) {
  if (!std::holds_alternative<run_start>(start.body))
    return caf::make_error(runtime_errc::invalid_arguments,
                           "restore: the first event of run " + start.run_id
                             + " is not run_start");
  auto* body = std::get_if<checkpoint>(&cp.body);
  if (body == nullptr)
    return caf::make_error(runtime_errc::invalid_arguments,
                           "restore: run " + start.run_id + " seq "
                             + std::to_string(cp.seq) + " is not a checkpoint");
  auto* replied = reply != nullptr ? std::get_if<model_reply>(&reply->body) : nullptr;
  if (reply != nullptr && replied == nullptr)
    return caf::make_error(runtime_errc::invalid_arguments,
                           "restore: run " + start.run_id + " seq "
                             + std::to_string(reply->seq) + " is not a model_reply");
  run_state st;
  apply(st, start);
  if (!decode_control(body->state, replied, st))
    return caf::make_error(runtime_errc::invalid_arguments,
                           "restore: the snapshot in run " + start.run_id + " seq "
                             + std::to_string(cp.seq) + " is malformed");
  st.totals = body->totals; // KPIs travel in the checkpoint itself
  apply(st, cp);            // the checkpoint's own timestamp moves the run's clock
  return st;
}

namespace {

// The calls as far as the control state goes: what the snapshot encodes plus
// the ids and names it takes from the reply.
bool same_calls(const std::vector<call_slot>& a, const std::vector<call_slot>& b) {
  auto same = [](const call_slot& x, const call_slot& y) {
    return x.status == y.status && x.call.call_id == y.call.call_id
           && x.call.name == y.call.name
           && (x.status == call_status::done || x.call.args_json == y.call.args_json);
  };
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), same);
}

} // namespace

bool same_control_state(const run_state& a, const run_state& b) {
  return encode_control(a) == encode_control(b) && same_calls(a.calls, b.calls)
         && same_kpis(a.totals, b.totals)
         && a.run_id == b.run_id && a.agent == b.agent && a.tools == b.tools
         && a.started_us == b.started_us;
}

} // namespace troupe
