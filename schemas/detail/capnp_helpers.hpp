#pragma once
// Small conversions between Cap'n Proto readers/builders and the plain
// structs, shared by the codec's files. Internal to schemas/: only this layer
// includes generated headers.

#include <cstdint>
#include <string>

#include <capnp/blob.h>

namespace troupe::detail {

/// A Cap'n Proto text view of `s` (valid while `s` is).
inline kj::StringPtr text(const std::string& s) {
  return kj::StringPtr(s.c_str(), s.size());
}

/// A copy of a text field (a null pointer reads as empty).
inline std::string str(capnp::Text::Reader r) {
  return std::string(r.cStr(), r.size());
}

/// Whether an enum read from the wire is one this build knows: a newer
/// writer may have added enumerants after `last`.
template <class Enum>
bool in_range(Enum x, Enum last) {
  return static_cast<uint16_t>(x) <= static_cast<uint16_t>(last);
}

} // namespace troupe::detail
