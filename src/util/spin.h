// How a wait spins before it blocks. Where ranks share cores (this host runs more of the
// communicator's ranks than this process may use CPUs, as in CI: 4 or 8 ranks on 2 cores), a
// spinning rank yields on every poll, since the rank it waits for may need this very core;
// measured on the 2-core machine, the 8-byte allReduce on 4 ranks took 10.2 us with a yield
// every 16 polls and 9.2 us with one every poll. On dedicated cores yielding costs a system call
// per poll (1.9 against 1.1 us on 2 ranks), so there it yields only every 16 polls, which keeps
// a test that oversubscribes without saying so from starving.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

namespace braid {

namespace spin_internal {
inline std::atomic<uint32_t> yieldEvery{16};
}

// Ranks on this host and CPUs this process may run on, from each new communicator; the most
// crowded communicator of the process decides.
void noteRanksOnHost(int ranksOnHost);
// CPUs in this process's affinity mask (1 if unknown).
int usableCpus();

// One idle poll of a spin loop: yields the CPU on the polls the policy says.
inline void spinPause(uint64_t poll) {
  const uint32_t every = spin_internal::yieldEvery.load(std::memory_order_relaxed);
  if ((poll + 1) % every == 0) sched_yield();
}

}  // namespace braid
