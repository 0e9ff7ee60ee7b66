// Binomial-tree and chain arithmetic for rooted collectives (broadcast, reduce), in ranks
// relative to the root: v = (rank - root) mod n. Pure functions, tested for n = 1..64.
#pragma once

#include <vector>

#include "patterns/ring.h"

namespace braid::patterns {

inline int toVirtual(int rank, int root, int n) { return mod(rank - root, n); }
inline int toReal(int vrank, int root, int n) { return mod(vrank + root, n); }

// Binomial tree: the parent of v > 0 is v with its highest set bit cleared.
inline int binomialParent(int v) {
  if (v == 0) return -1;
  int high = 1;
  while (high * 2 <= v) high *= 2;
  return v - high;
}
// Children of v, in the order a broadcast should serve them (largest subtree first):
// v + 2^k for every 2^k greater than v's highest set bit, while below n.
inline std::vector<int> binomialChildren(int v, int n) {
  int low = 1;
  while (low <= v) low *= 2;
  std::vector<int> children;
  for (int step = low; v + step < n; step *= 2) children.push_back(v + step);
  // Largest subtree first: the farthest child roots the biggest subtree.
  return std::vector<int>(children.rbegin(), children.rend());
}

// Chain: v receives from v - 1 and sends to v + 1 (broadcast); reduce runs it backwards.
inline int chainPrev(int v) { return v == 0 ? -1 : v - 1; }
inline int chainNext(int v, int n) { return v + 1 < n ? v + 1 : -1; }

}  // namespace braid::patterns
