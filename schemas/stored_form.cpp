#include "schemas/stored_form.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <kj/io.h>

#include "journal.capnp.h"

namespace troupe {

namespace {

using schema::Event;

caf::error malformed(std::string_view where, const std::string& what) {
  std::string msg = "malformed stored journal event";
  if (!where.empty())
    msg.append(" at ").append(where);
  msg.append(": ").append(what);
  return caf::make_error(schema_errc::malformed_event, std::move(msg));
}

// Zeroes a text's bytes where they lie in the (mutable) message.
void clear_text(capnp::Text::Reader t) {
  if (t.size() > 0)
    std::memset(const_cast<char*>(t.begin()), 0, t.size());
}

// The envelope's data fields: seq is bytes 0-3 of the root's data section
// (field @1, the first data field), ts_us bytes 8-15 (@4, the next free
// 64-bit slot after the union's tag). to_stored checks the result through
// the reader, so a schema change that moved them fails loudly, not silently.
constexpr size_t seq_offset = 0;
constexpr size_t ts_offset = 8;

} // namespace

caf::expected<event_bytes> to_stored(const void* data, size_t size) {
  if (data == nullptr || size == 0 || size % sizeof(capnp::word) != 0)
    return malformed({}, "an encoded event is a nonempty whole number of words, not "
                           + std::to_string(size) + " bytes");
  try {
    // A private, aligned copy: the envelope is cleared in place. The writer
    // calls this for every event; one buffer per thread saves a malloc.
    // (Of uint64_t: capnp::word cannot be copied or moved, which
    // vector::resize needs under clang's standard library checks.)
    thread_local std::vector<uint64_t> scratch;
    scratch.resize(size / sizeof(capnp::word));
    auto words = kj::arrayPtr(reinterpret_cast<capnp::word*>(scratch.data()), scratch.size());
    std::memcpy(words.begin(), data, size);
    capnp::FlatArrayMessageReader msg(words);
    auto root = msg.getRoot<Event>();
    // A top-level run's events say root "" (the run actor) or name the run
    // itself (failure completions of older builds, tests, imports); the runs
    // row cannot tell which, so a root naming the run itself stays in the body.
    auto self_root = root.getRootRunId().size() > 0 && root.getRootRunId() == root.getRunId();
    clear_text(root.getRunId());
    clear_text(root.getParentRunId());
    if (!self_root)
      clear_text(root.getRootRunId());
    auto any = capnp::AnyStruct::Reader(root);
    auto ds = any.getDataSection();
    auto* d = const_cast<kj::byte*>(ds.begin());
    if (ds.size() > seq_offset + 3)
      std::memset(d + seq_offset, 0, 4);
    if (ds.size() > ts_offset + 7)
      std::memset(d + ts_offset, 0, 8);
    // The pointer section follows the data section; the envelope's texts are
    // pointers 0 to 2 (@0, @2, @3). A null pointer is a zero word.
    auto pointers = std::min<size_t>(any.getPointerSection().size(), self_root ? 2 : 3);
    std::memset(d + ds.size(), 0, sizeof(capnp::word) * pointers);
    if (root.getSeq() != 0 || root.getTsUs() != 0 || root.hasRunId()
        || root.hasParentRunId() || root.hasRootRunId() != self_root)
      return malformed({}, "the envelope is not where this build expects it");
    // The segment table's first word: the number of segments less one.
    uint32_t count = 0;
    std::memcpy(&count, words.begin(), sizeof(count));
    KJ_STACK_ARRAY(kj::ArrayPtr<const capnp::word>, segs, count + 1, 4, 64);
    for (uint32_t i = 0; i <= count; ++i)
      segs[i] = msg.getSegment(i);
    // Packed, a word takes at most a tag, its 8 bytes and a run count.
    event_bytes out(size / sizeof(capnp::word) * 10 + 16);
    kj::ArrayOutputStream stream(
      kj::arrayPtr(reinterpret_cast<kj::byte*>(out.data()), out.size()));
    capnp::writePackedMessage(stream, segs);
    out.resize(stream.getArray().size());
    return out;
  } catch (const kj::Exception& e) {
    return malformed({}, e.getDescription().cStr());
  }
}

caf::expected<event_bytes> from_stored(const void* data, size_t size,
                                       const event_envelope& env,
                                       std::string_view where) {
  if (data == nullptr || size == 0)
    return malformed(where, "empty body");
  try {
    auto bytes = kj::arrayPtr(static_cast<const kj::byte*>(data), size);
    kj::ArrayInputStream in(bytes);
    capnp::ReaderOptions options;
    // One pass over the fields: a few times the unpacked size, so a small
    // body cannot expand into millions of zero-sized list elements.
    auto unpacked = capnp::computeUnpackedSizeInWords(bytes);
    options.traversalLimitInWords = unpacked * 4 + 1024;
    capnp::PackedMessageReader msg(in, options);
    auto stored = msg.getRoot<Event>();
    auto self_root = stored.hasRootRunId();
    if (stored.getSeq() != 0 || stored.getTsUs() != 0 || stored.hasRunId()
        || stored.hasParentRunId()
        || (self_root && (!env.root_run_id.empty()
                          || std::string_view(stored.getRootRunId().cStr(),
                                              stored.getRootRunId().size())
                               != env.run_id)))
      return malformed(where, "the body carries an envelope field, which a stored "
                              "event leaves to its row and its run");
    capnp::MallocMessageBuilder mb(static_cast<unsigned>(unpacked + 16));
    mb.setRoot(stored);
    auto ev = mb.getRoot<Event>();
    // Every field set, empty ones too: the encoder sets all three, and the
    // JSON export writes a text field only when it is set.
    std::string run(env.run_id), parent(env.parent_run_id), top(env.root_run_id);
    ev.setRunId(run);
    ev.setParentRunId(parent);
    if (!self_root)
      ev.setRootRunId(top);
    ev.setSeq(env.seq);
    ev.setTsUs(env.ts_us);
    // Straight into the bytes handed out: one allocation, no copy.
    event_bytes out(capnp::computeSerializedSizeInWords(mb) * sizeof(capnp::word));
    kj::ArrayOutputStream stream(
      kj::arrayPtr(reinterpret_cast<kj::byte*>(out.data()), out.size()));
    capnp::writeMessage(stream, mb);
    return out;
  } catch (const kj::Exception& e) {
    return malformed(where, e.getDescription().cStr());
  }
}

} // namespace troupe
