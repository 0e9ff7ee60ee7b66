// What braid knows about where a rank runs: the host identity that decides which peers can
// share memory, and the address peers on other hosts should dial.
#pragma once

#include <string>

namespace braid {

// BRAID_HOST_ID if set, else the kernel boot id plus the hostname (two containers on one
// machine with separate /dev/shm would share a boot id, hence the hostname).
std::string localHostId();

// An IPv4 address of this host that other hosts can reach: the first non-loopback address the
// hostname resolves to, else the first up non-loopback interface, else 127.0.0.1.
std::string advertisedAddress();

}  // namespace braid

#include "comm_topology.h"  // stand-in until the topology issue's CommTopology lands here
