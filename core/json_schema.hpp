#pragma once
// A validator for the subset of JSON Schema that tool parameter schemas use.
//
// Debian ships no JSON Schema validator package for C++, so troupe carries
// this small one instead of vendoring a large library. It enforces exactly
// these keywords:
//
//   type (object, array, string, integer, number, boolean, null, or an array
//   of those), properties, required, additionalProperties (boolean only),
//   enum, const, minLength, maxLength, minimum, maximum, items (one schema),
//   minItems, maxItems
//
// plus the annotations `description`, `title` and `$comment`, which carry no
// constraint. Any other keyword (`format`, `pattern`, `default`, `oneOf`, ...)
// is refused by `check_schema`, so nobody registers a schema believing a
// constraint is enforced when it is not.
//
// Lengths count Unicode code points, as the JSON Schema specification says.
// An `integer` is any number without a fractional part, so `2.0` is one.

#include <caf/make_message.hpp> // before runtime_errc.hpp: its macro needs make_message
#include <caf/error.hpp>

#include <nlohmann/json.hpp>

#include "core/runtime_errc.hpp"

namespace troupe {

/// Checks that `schema` is a well-formed schema of the supported subset.
/// Returns `runtime_errc::invalid_arguments` whose context names the schema
/// pointer and the problem, e.g.
/// `schema /properties/path: unsupported keyword 'format' (not enforced by troupe)`.
[[nodiscard]] caf::error check_schema(const nlohmann::json& schema);

/// Validates `value` against `schema` and reports the first violation, in a
/// deterministic order (keywords in a fixed order, object members sorted).
/// Returns `runtime_errc::invalid_arguments` whose context is
/// `<json pointer of the value>: <what is wrong>`, e.g.
/// `/path: expected string, got integer` or
/// `/: missing required property 'content'`.
/// @pre `check_schema(schema)` succeeded. A malformed schema never crashes
///      the validator: keywords of the wrong shape are ignored.
[[nodiscard]] caf::error validate_json(const nlohmann::json& schema,
                                       const nlohmann::json& value);

/// The JSON Schema type name of `value` ("object", "array", "string",
/// "integer", "number", "boolean", "null"). Integral floats are "number":
/// this names what the value was written as, for error messages.
[[nodiscard]] const char* json_type_name(const nlohmann::json& value);

} // namespace troupe
