// The spin policy's one input: whether this process's ranks share cores (see spin.h).
#include "util/spin.h"

#include <algorithm>

#include "logging.h"

namespace braid {

int usableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

void noteRanksOnHost(int ranksOnHost) {
  const int cpus = usableCpus();
  if (ranksOnHost <= cpus) return;
  if (spin_internal::yieldEvery.exchange(1) != 1) {
    BRAID_LOG(kInfo, kInit, "{} ranks on this host share {} CPU(s): waits yield on every poll",
              ranksOnHost, cpus);
  }
}

}  // namespace braid
