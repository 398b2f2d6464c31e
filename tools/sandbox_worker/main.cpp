// troupe-sandbox-worker: one pre-started sandbox of a sandbox_pool
// (sandbox/sandbox_pool.hpp). Started by the pool, never by hand:
//
//   troupe-sandbox-worker --fd N [--network] [--root DIR]...
//
// It enters new namespaces and builds the sandbox root once (--root: the
// writable roots of its isolation profile; --network keeps the host's
// network), answers "ready" on fd N, then serves one request frame at a
// time until the pool closes the socket. The wire format is in
// sandbox/sandbox_pool.hpp. Runs single-threaded, which is what lets it fork
// freely.

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "sandbox/detail/resident_sandbox.hpp"
#include "sandbox/detail/sandbox_common.hpp"
#include "sandbox/detail/sandbox_request.hpp"
#include "sandbox/detail/pool_protocol.hpp"
#include "sandbox/sandbox_pool.hpp"
#include "sandbox/sandbox_process.hpp"
#include "core/core_dumps.hpp"
#include "schemas/errors.hpp"

namespace {

struct worker_args {
  int fd = -1;
  bool network = false;
  std::vector<std::filesystem::path> roots;
};

bool parse_args(int argc, char** argv, worker_args& out) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--network") {
      out.network = true;
    } else if (a == "--fd" && i + 1 < argc) {
      out.fd = std::atoi(argv[++i]);
    } else if (a == "--root" && i + 1 < argc) {
      out.roots.emplace_back(argv[++i]);
    } else {
      return false;
    }
  }
  return out.fd >= 0;
}

} // namespace

int main(int argc, char** argv) {
  using namespace troupe;
  worker_args args;
  if (!parse_args(argc, argv, args)) {
    std::fprintf(stderr, "usage: troupe-sandbox-worker --fd N [--network] [--root DIR]...\n"
                         "(started by troupe's sandbox pool, not by hand)\n");
    return 64;
  }
  // The pool may vanish while we write a reply; that must be an error
  // value, not a fatal signal.
  std::signal(SIGPIPE, SIG_IGN);
  // Requests carry the secrets their rule granted.
  if (auto err = forbid_core_dumps()) {
    std::fprintf(stderr, "troupe-sandbox-worker: %s\n", render(err).c_str());
    return 1;
  }
  // Our host pid is unique among live processes, so the uid built from it
  // is unique among live sandboxes (cold ones use thread ids, which share
  // the same number space).
  auto uid = detail::sandbox_uid_base + static_cast<uint32_t>(getpid());
  auto sandbox = detail::resident_sandbox::enter(args.network, args.roots, uid, args.fd);
  if (!sandbox) {
    auto err = detail::write_frame(args.fd, detail::encode_reply(sandbox.error()));
    ignore_error(err, "the pool may be gone; it reports the worker as failed to start");
    return 1;
  }
  // From here on we are pid 1 of the sandbox.
  if (auto err = detail::write_frame(args.fd, detail::encode_ready(uid)))
    return 1;
  for (;;) {
    auto frame = detail::read_frame(args.fd, 0);
    if (!frame)
      return 0; // the pool closed the socket: retired, or gone
    caf::expected<sandbox_result> reply = sandbox_result{};
    auto req = detail::decode_request(*frame);
    if (!req) {
      reply = std::move(req.error());
    } else {
      // Normalize again inside the sandbox: the paths must resolve here too.
      auto norm = detail::normalize_request(*req);
      if (norm)
        reply = sandbox->run(*norm, args.fd);
      else
        reply = std::move(norm.error());
    }
    if (!reply && reply.error() == sandbox_errc::worker_crashed)
      return 0; // the pool went away mid-call
    if (auto err = detail::write_frame(args.fd, detail::encode_reply(reply)))
      return 0;
    // After the reply, so the caller does not wait for it. If /tmp or the
    // IPC namespace cannot be replaced, the next call would see this one's
    // files or objects: exit instead, and the pool replaces us (it sees the
    // socket close).
    if (auto err = sandbox->reset()) {
      std::fprintf(stderr, "troupe-sandbox-worker: %s\n", render(err).c_str());
      return 1;
    }
  }
}
