#pragma once
// Message atoms shared by troupe's actors (CAF 0.17: at most 10 characters
// from [0-9A-Za-z_]).

#include <caf/atom.hpp>

namespace troupe {

using append_atom = caf::atom_constant<caf::atom("append")>;
using durable_atom = caf::atom_constant<caf::atom("durable")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using reopen_atom = caf::atom_constant<caf::atom("reopen")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using unfinished_atom = caf::atom_constant<caf::atom("unfinished")>;
using renew_atom = caf::atom_constant<caf::atom("renew")>;
using delegate_atom = caf::atom_constant<caf::atom("delegate")>;
using refused_atom = caf::atom_constant<caf::atom("refused")>;

} // namespace troupe
