#pragma once
// Who drives a run. Every unfinished run has exactly one owner: the process
// whose journal wrote its first event, or the one that claimed it to resume.
// The owner holds a lease in the journal (`run_owners`, schema version 5) and
// renews it; the store writes a run's events only for its owner, so a
// process that lost a run (its lease expired and another took over) cannot
// add a single event to it, and a resume never drives a run that a live
// process is driving.
//
// A lease expires after `lease_us` without renewal. A holder on this machine
// whose process is gone (kill -9) is recognized at once: the owner id names
// the boot, the pid namespace, the pid and the pid's start time, so a reused
// pid is not mistaken for the holder. Holders elsewhere (another machine,
// container or pid namespace) are waited out by their lease.

#include <cstdint>
#include <string>

namespace troupe::persistence {

/// Default lease; the journal renews it every third of this.
inline constexpr int64_t default_lease_us = 30'000'000;

/// This process's owner id: "host/boot/pidns/pid/starttime".
[[nodiscard]] const std::string& this_process_owner();

enum class owner_liveness : uint8_t {
  alive,   ///< the holder runs on this machine now
  gone,    ///< the holder was on this machine and no longer runs
  unknown, ///< elsewhere, or not an id this build wrote: trust the lease
};

/// What this process can tell about `owner` from here.
[[nodiscard]] owner_liveness liveness_of(const std::string& owner);

} // namespace troupe::persistence
