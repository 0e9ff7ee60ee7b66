// Rank arithmetic of the hierarchical algorithms, for layouts with the same number of ranks L on
// each of H hosts: a rank's local group (its host's ranks, by local rank) and cross group (the
// ranks with its local rank, by host), and where each rank's block goes when blocks are packed
// so that a local stage sees, for each local rank l, the H blocks of l's cross group
// contiguously. Pure functions, tested in tests/patterns_test.cc.
#pragma once

#include <algorithm>
#include <cstddef>
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

// Pieces a hierarchical allReduce of `bytes` cuts its buffer into, so that the host-local steps
// of one piece overlap the cross-host step of another: one per 4 MiB, at most 8; one when each
// host has a single rank (no local step to hide).
inline size_t hierarchicalPieces(size_t bytes, int ranksPerHost) {
  constexpr size_t kPieceBytes = size_t{4} << 20, kMaxPieces = 8;
  if (ranksPerHost <= 1) return 1;
  return std::clamp<size_t>(bytes / kPieceBytes, 1, kMaxPieces);
}

}  // namespace braid::patterns
