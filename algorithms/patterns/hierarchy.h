// Rank arithmetic of the hierarchical algorithms, for layouts with the same number of ranks L on
// each of H hosts: a rank's local group (its host's ranks, by local rank) and cross group (the
// ranks with its local rank, by host), and where each rank's block goes when blocks are packed
// so that a local stage sees, for each local rank l, the H blocks of l's cross group
// contiguously. Pure functions, tested in tests/patterns_test.cc.
#pragma once

#include <vector>

#include "topology.h"

namespace braid::patterns {

inline std::vector<int> localGroup(const CommTopology& t, int rank) {
  return t.ranksOnHost[t.hostOf[rank]];
}

inline std::vector<int> crossGroup(const CommTopology& t, int rank) {
  std::vector<int> members;
  for (const auto& ranks : t.ranksOnHost) members.push_back(ranks[t.localRankOf[rank]]);
  return members;
}

// Position of rank g's block in the packed order (local rank major, host minor).
inline int packedBlock(const CommTopology& t, int g) {
  return t.localRankOf[g] * t.hosts + t.hostOf[g];
}

}  // namespace braid::patterns
