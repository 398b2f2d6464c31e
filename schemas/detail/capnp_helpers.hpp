#pragma once
// Small conversions between Cap'n Proto readers/builders and the plain
// structs, shared by the codec's files. Internal to schemas/: only this layer
// includes generated headers.

#include <cstdint>
#include <string>
#include <vector>

#include <capnp/any.h>
#include <capnp/blob.h>
#include <capnp/list.h>
#include <kj/exception.h>

namespace troupe::detail {

/// A Cap'n Proto text view of `s` (valid while `s` is).
inline kj::StringPtr text(const std::string& s) {
  return kj::StringPtr(s.c_str(), s.size());
}

/// A copy of a text field (a null pointer reads as empty).
inline std::string str(capnp::Text::Reader r) {
  return std::string(r.cStr(), r.size());
}

/// A list of texts, written and read back.
inline void put(capnp::List<capnp::Text>::Builder b, const std::vector<std::string>& xs) {
  for (unsigned i = 0; i < xs.size(); ++i)
    b.set(i, text(xs[i]));
}
inline std::vector<std::string> get(capnp::List<capnp::Text>::Reader r) {
  std::vector<std::string> out;
  out.reserve(r.size());
  for (auto t : r)
    out.push_back(str(t));
  return out;
}

/// Whether an enum read from the wire is one this build knows: a newer
/// writer may have added enumerants after `last`.
template <class Enum>
bool in_range(Enum x, Enum last) {
  return static_cast<uint16_t>(x) <= static_cast<uint16_t>(last);
}

/// `list`, after checking that its elements take room in the message. Cap'n
/// Proto lets a few bytes declare millions of zero-sized structs (charged one
/// word each against the traversal limit); our writer never produces one,
/// and decoding it would turn a 300-byte row into hundreds of megabytes of
/// empty records that no longer fit a message when written again. Elements
/// of one list share a size, so the first tells. (Lists of text need no
/// check: Cap'n Proto already refuses pointer lists without pointers.)
/// Throws, like every Cap'n Proto read error, for the caller's catch.
template <class StructListReader>
StructListReader backed(StructListReader list, const char* field) {
  if (list.size() > 0) {
    capnp::AnyStruct::Reader first(list[0]);
    if (first.getDataSection().size() == 0 && first.getPointerSection().size() == 0)
      throw kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                          kj::str(field, " declares ", list.size(),
                                  " elements that take no bytes"));
  }
  return list;
}

} // namespace troupe::detail
