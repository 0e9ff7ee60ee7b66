// Test harness: runs a function on n in-process ranks (one thread each, one Communicator each,
// all meeting in an in-process HashStore), over a chosen transport.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "braid/communicator.h"

namespace braid::testing {

// Creates n communicators over transport ("shm" or "tcp") and calls fn(comm) on each rank's
// thread. Creation failures are reported as test failures.
void runRanks(int n, const std::string& transport,
              const std::function<void(Communicator& comm)>& fn,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));

}  // namespace braid::testing
