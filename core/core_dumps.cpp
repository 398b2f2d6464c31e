#include "core/core_dumps.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <sys/prctl.h>
#include <sys/resource.h>

#include "core/runtime_errc.hpp"

namespace troupe {

caf::error forbid_core_dumps() {
  // Both: the core limit alone does not stop a core_pattern that pipes to a
  // helper (systemd-coredump ignores RLIMIT_CORE), non-dumpable does.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return caf::make_error(runtime_errc::io_failed,
                      std::string("marking the process non-dumpable: ") + std::strerror(errno));
  rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0)
    return caf::make_error(runtime_errc::io_failed,
                      std::string("setting the core file limit to zero: ") + std::strerror(errno));
  return {};
}

} // namespace troupe
