// STAND-IN for the topology issue's CommTopology (same names and fields), so that hierarchical
// algorithms and the tuner can be built before it lands. At merge: delete this file and its
// .cc, and the include at the end of topology.h; src/topology.h then provides the real one.
#pragma once

#include <string>
#include <vector>

namespace braid {

// Which ranks of a communicator share a host.
struct CommTopology {
  int hosts = 1;
  std::vector<int> hostOf;                    // by rank: host index, in order of first rank
  std::vector<int> localRankOf;               // by rank: position among its host's ranks
  std::vector<std::vector<int>> ranksOnHost;  // by host: its ranks, ascending
  bool uniform = true;                        // every host has the same number of ranks
};

// Hosts numbered in the order their first rank appears; ranks with equal ids share a host.
CommTopology commTopologyFromHostIds(const std::vector<std::string>& hostIdPerRank);

}  // namespace braid
