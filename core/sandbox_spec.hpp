#pragma once
// What a sandboxed process call asks for and what it returns: plain values,
// shared by the cold path (`run_sandboxed`, sandbox/sandbox_process.hpp), the
// pre-started pool (sandbox/sandbox_pool.hpp) and the worker program that
// serves the pool (tools/sandbox_worker).
//
// Nothing here touches processes or namespaces.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace troupe {

inline constexpr uint64_t sandbox_mib = uint64_t{1} << 20;

/// The largest stdin and the largest output cap a request may ask for.
inline constexpr uint64_t sandbox_max_io_bytes = 64 * sandbox_mib;

/// Per-call limits. Each process of the call gets the rlimits; the wall
/// timeout and the output cap apply to the call as a whole. A 0 rlimit or
/// wall timeout means none (without a timeout a pool call waits as long as
/// the command runs); a 0 output cap keeps no output.
struct sandbox_limits {
  /// RLIMIT_CPU per process: SIGXCPU at this many CPU seconds, SIGKILL one
  /// second later. A command that forks spreads its CPU over processes; the
  /// wall timeout bounds it anyway.
  uint32_t cpu_seconds = 10;
  /// RLIMIT_AS per process (virtual memory; allocations beyond it fail).
  uint64_t address_space_bytes = 512 * sandbox_mib;
  /// RLIMIT_FSIZE: writing a file past this size raises SIGXFSZ.
  uint64_t file_size_bytes = 64 * sandbox_mib;
  /// RLIMIT_NOFILE per process.
  uint32_t open_files = 256;
  /// RLIMIT_NPROC: processes alive at once for the whole call. Enforced
  /// because every sandbox runs its command under its own unprivileged uid.
  uint32_t processes = 64;
  /// The whole call (all its processes) is killed after this long.
  uint64_t wall_timeout_ms = 30000;
  /// Bytes kept of stdout and, separately, of stderr (at most
  /// `sandbox_max_io_bytes`). Output past the cap is read, counted and
  /// dropped, so a chatty command never blocks on a full pipe.
  uint64_t output_cap_bytes = 1 * sandbox_mib;
  /// Size of the private /tmp (a tmpfs, so it costs host memory, which is
  /// why it is bounded).
  uint64_t tmp_bytes = 64 * sandbox_mib;
};

/// One process call.
struct sandbox_request {
  /// argv[0] is a path, or a name looked up in `env`'s PATH (never the
  /// caller's). No element ever passes through a shell.
  std::vector<std::string> argv;
  /// At most `sandbox_max_io_bytes`.
  std::string stdin_data;
  /// Working directory: inside a writable root (a relative path is taken
  /// relative to the first one), or "/tmp" (the sandbox's private one).
  /// Empty: the first writable root, or "/tmp" when there is none.
  std::filesystem::path cwd;
  /// Directories the command may write (what the policy grants; normally the
  /// workspace root). They appear at the same absolute paths inside the
  /// sandbox. Everything else is read-only (/usr, /bin, /lib*, /sbin, /etc)
  /// or absent (the host's /tmp, /home, /root, /var, /run, ...).
  std::vector<std::filesystem::path> writable_roots;
  /// Host directories or files bound read-only and nosuid at their host
  /// paths, besides the system directories: what a long-lived server needs
  /// to start (its interpreter's libraries, its installed package).
  /// Each must be absolute and exist as a directory or a regular file (not
  /// /, nor in /proc, /sys or /dev); symlinks are resolved, so a root
  /// appears at its target's path. Also nodev. Dropped as already visible:
  /// roots in the system directories, and roots equal to or inside a
  /// writable root (the writable grant wins); a writable root inside a
  /// read-only one stays writable. The pool refuses requests that keep any
  /// (`invalid_request`); without isolation (`allow_unsandboxed`) they are
  /// checked but have no effect.
  std::vector<std::filesystem::path> read_only_roots;
  /// Keep the host's network. Off: a network namespace with only a loopback
  /// that is down.
  bool network = false;
  /// The complete environment: the secrets the policy grants plus a minimal
  /// PATH/HOME/LANG. Nothing of the caller's environment leaks in.
  std::map<std::string, std::string> env;
  sandbox_limits limits;
  /// Where isolation is unavailable (not root, no namespaces), run the
  /// command anyway with rlimits, a process group and the timeout only
  /// (`sandbox_result::isolation == "none"`). Off: such a call fails with
  /// `sandbox_errc::unavailable`. Never implied.
  bool allow_unsandboxed = false;
};

struct sandbox_result {
  /// The exit status when the command exited, else -1. A command that could
  /// not be executed (not found, not executable) exits 127 or 126 with the
  /// reason on stderr, as a shell reports it.
  int exit_code = -1;
  /// The signal that ended the command, else 0.
  int signal = 0;
  /// The wall timeout expired and the call was killed.
  bool timed_out = false;
  /// A limit ended or cut the call: SIGXCPU, SIGXFSZ, the hard CPU limit's
  /// SIGKILL, the wall timeout, or output past the cap.
  bool limit_breached = false;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  /// Everything the command wrote, including what was dropped.
  uint64_t stdout_bytes_total = 0;
  uint64_t stderr_bytes_total = 0;
  uint64_t wall_us = 0;
  /// "namespaces", or "none" for an allowed unsandboxed run.
  std::string isolation;
};

/// Replaces every occurrence of each non-empty secret value in `text` with
/// `[REDACTED:<name>]`. Where values overlap at one position the longest
/// wins, so a secret that contains another is redacted whole. Replacements
/// are never scanned again. Tool output passes through this before it is
/// journaled or shown to a model.
[[nodiscard]] std::string redact(std::string_view text,
                                 const std::map<std::string, std::string>& secrets);

/// For output cut at a size cap: also redacts a trailing beginning of a
/// secret (at least 4 bytes of it), which the cut may have left behind.
[[nodiscard]] std::string redact_cut(std::string_view text,
                                     const std::map<std::string, std::string>& secrets);

} // namespace troupe
