#include "schemas/json_import.hpp"

#include <cmath>
#include <string>

#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "journal.capnp.h"
#include "schemas/json_unescape.hpp"
#include "schemas/utf8.hpp"

namespace troupe {

namespace {

using capnp::JsonValue;

caf::error malformed(std::string_view where, const std::string& what) {
  return caf::make_error(schema_errc::malformed_event,
                         "malformed journal event at " + std::string(where)
                           + ": " + what);
}

std::string str(capnp::Text::Reader r) {
  return std::string(r.cStr(), r.size());
}

// The member `name` of a JSON object, if it has one.
kj::Maybe<JsonValue::Reader> member(JsonValue::Reader object,
                                    kj::StringPtr name) {
  for (auto field : object.getObject())
    if (field.getName() == name)
      return field.getValue();
  return nullptr;
}

// Whether a run id can be named on a command line and printed: valid UTF-8
// without control characters. A NUL made runs that no command could address.
bool addressable(const std::string& id) {
  if (valid_utf8(id) != id)
    return false;
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f)
      return false;
  return true;
}

// What the codec would fill in with defaults when it is missing. The kind
// is checked here because the codec accepts any string as a discriminator.
caf::error check_envelope(JsonValue::Reader line, std::string_view where) {
  if (!line.isObject())
    return malformed(where, "not a JSON object");
  for (auto name : {"run_id", "seq", "kind"})
    if (member(line, name) == nullptr)
      return malformed(where, std::string("no \"") + name + "\" field");
  auto run = KJ_ASSERT_NONNULL(member(line, "run_id"));
  if (!run.isString() || run.getString().size() == 0)
    return malformed(where, "\"run_id\" is not a non-empty string");
  for (auto name : {"run_id", "parent_run_id", "root_run_id"}) {
    auto field = member(line, name);
    KJ_IF_MAYBE (id, field) {
      if (id->isString() && !addressable(str(id->getString())))
        return malformed(where, std::string("\"") + name
                                  + "\" holds a control character or bytes that are "
                                    "not UTF-8; expected a printable run id");
    }
  }
  // The codec would also take "7" or 7.5 for a seq; an export writes an
  // integer, and the first event of a run is seq 1.
  auto seq = KJ_ASSERT_NONNULL(member(line, "seq"));
  if (!seq.isNumber() || seq.getNumber() < 1 || seq.getNumber() > 4294967295.0
      || seq.getNumber() != std::floor(seq.getNumber()))
    return malformed(where, "\"seq\" is not an integer from 1 to 4294967295");
  auto kind = KJ_ASSERT_NONNULL(member(line, "kind"));
  if (!kind.isString())
    return malformed(where, "\"kind\" is not a string");
  event_kind known;
  if (!from_string(kind.getString().cStr(), known))
    return caf::make_error(schema_errc::unknown_kind,
                           "journal event at " + std::string(where)
                             + " has kind \"" + str(kind.getString())
                             + "\", unknown to this build of troupe");
  if (member(line, kind.getString()) == nullptr)
    return malformed(where, "kind \"" + str(kind.getString())
                              + "\" but no \"" + str(kind.getString())
                              + "\" member");
  // A run_start's workspace is the directory the run's tools work in; a NUL
  // would cut the path short when the run resumes.
  if (kind.getString() == "run_start") {
    auto body = KJ_ASSERT_NONNULL(member(line, "run_start"));
    kj::Maybe<JsonValue::Reader> workspace = nullptr;
    if (body.isObject())
      workspace = member(body, "workspace");
    KJ_IF_MAYBE (ws, workspace) {
      if (ws->isString() && str(ws->getString()).find('\0') != std::string::npos)
        return malformed(where, "\"run_start.workspace\" contains a NUL character; "
                                "expected a directory path");
    }
  }
  // The codec would let the last member win over `kind`.
  for (auto field : line.getObject()) {
    event_kind other;
    if (field.getName() != kind.getString()
        && from_string(field.getName().cStr(), other))
      return malformed(where, "kind \"" + str(kind.getString())
                                + "\" but also a \"" + str(field.getName())
                                + "\" member; an event has one kind");
  }
  return caf::none;
}

// Compares the input with the JSON of what was decoded from it: every field
// of `in` must be in `out` once. The export writes every field, so a field
// missing from `out` is one the codec ignored (a typo, or a newer troupe's
// field) and would be lost. Leaf values are not compared: the codec already
// refused values of the wrong type or range.
caf::error check_nothing_dropped(JsonValue::Reader in, JsonValue::Reader out,
                                 const std::string& path,
                                 std::string_view where) {
  if (in.isObject() && out.isObject()) {
    auto fields = in.getObject();
    for (unsigned i = 0; i < fields.size(); ++i) {
      auto name = fields[i].getName();
      auto field_path = path.empty() ? str(name) : path + "." + str(name);
      for (unsigned j = 0; j < i; ++j)
        if (fields[j].getName() == name)
          return malformed(where, "field \"" + field_path + "\" appears twice");
      KJ_IF_MAYBE (decoded, member(out, name)) {
        if (auto err = check_nothing_dropped(fields[i].getValue(), *decoded,
                                             field_path, where))
          return err;
      } else {
        return malformed(where, "unknown field \"" + field_path
                                  + "\" (from a newer troupe?)");
      }
    }
  } else if (in.isArray() && out.isArray()) {
    auto xs = in.getArray();
    auto ys = out.getArray();
    for (unsigned i = 0; i < xs.size() && i < ys.size(); ++i)
      if (auto err = check_nothing_dropped(
            xs[i], ys[i], path + "[" + std::to_string(i) + "]", where))
        return err;
  }
  return caf::none;
}

} // namespace

caf::expected<event_bytes> from_json(std::string_view line,
                                     std::string_view where) {
  try {
    capnp::JsonCodec codec;
    codec.handleByAnnotation<schema::Event>();
    capnp::MallocMessageBuilder input_tree;
    auto input = input_tree.initRoot<JsonValue>();
    auto plain = unescape_unicode_escapes(line, where);
    if (!plain)
      return std::move(plain.error());
    codec.decodeRaw(kj::ArrayPtr<const char>(plain->data(), plain->size()),
                    input);
    if (auto err = check_envelope(input.asReader(), where))
      return err;
    capnp::MallocMessageBuilder mb;
    codec.decode(input.asReader(), mb.initRoot<schema::Event>());
    auto flat = capnp::messageToFlatArray(mb);
    auto chars = flat.asChars();
    // The codec lays the message out in its own allocation order (lists of
    // structs, segment sizes), so its bytes differ from `encode`'s for the
    // same event. Going through the plain struct gives `encode`'s bytes, which
    // is what the journal holds and what its hash chain covers.
    auto ev = decode(chars.begin(), chars.size(), where);
    if (!ev)
      return std::move(ev.error());
    auto bytes = encode(*ev);
    auto json = to_json(bytes.data(), bytes.size(), where);
    if (!json)
      return std::move(json.error());
    capnp::MallocMessageBuilder output_tree;
    auto output = output_tree.initRoot<JsonValue>();
    codec.decodeRaw(kj::ArrayPtr<const char>(json->data(), json->size()),
                    output);
    if (auto err = check_nothing_dropped(input.asReader(), output.asReader(),
                                         "", where))
      return err;
    return bytes;
  } catch (const kj::Exception& e) {
    return malformed(where, e.getDescription().cStr());
  }
}

} // namespace troupe
