// Test harness: runs a function on n in-process ranks (one thread each, one Communicator each,
// all meeting in an in-process HashStore), over a chosen transport.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "braid/communicator.h"

namespace braid::testing {

// Creates n communicators over transport ("shm" or "tcp") and calls fn(comm) on each rank's
// thread. Creation failures are reported as test failures.
void runRanks(int n, const std::string& transport,
              const std::function<void(Communicator& comm)>& fn,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));

// Like runRanks, with rank r on the simulated host hostIds[r] (CommOptions::hostId): ranks on
// one host talk through shared memory, ranks on different hosts through TCP.
void runRanksOnHosts(const std::vector<std::string>& hostIds,
                     const std::function<void(Communicator& comm)>& fn,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));

}  // namespace braid::testing
