#pragma once
// A process that holds secret values must not write them into a core file:
// one crash of a troupe process that had loaded a secrets file left 27
// copies in its core. Called wherever secret values enter a process (the
// runtime loading a secrets file, the shell tool resolving granted names,
// the sandbox worker that receives them).

#include <caf/error.hpp>

namespace troupe {

/// Marks this process non-dumpable (no core file, no ptrace attach by
/// processes of the same uid, /proc/self owned by root) and sets its core
/// limit to zero. Idempotent and cheap; an error says which call failed.
[[nodiscard]] caf::error forbid_core_dumps();

} // namespace troupe
