// Double binary tree arithmetic (as in NCCL): two binary trees over the same ranks, built so that
// every rank has children in at most one of them. Each tree carries half of the data, so every
// rank sends and receives about as much as in a single pipelined chain, while the depth (hence
// the latency) stays logarithmic. Pure functions, tested for n = 1..64 in tests/patterns_test.cc.
//
// Tree 0 is the in-order binary tree over positions 0..m-1: with i = position + 1, i's lowest set
// bit b gives its level; i's children are i - b/2 and i + b/2, and every odd i (even position)
// is a leaf. Where m is not 2^k - 1, a missing right child is replaced by its nearest existing
// left descendant. Tree 1 places rank r at position m-1-r (m even) or r-1 mod m (m odd): either
// way a rank at an odd position in tree 0 (an inner node) lands on an even one (a leaf).
#pragma once

#include "patterns/ring.h"
#include "patterns/tree.h"

namespace braid::patterns {

// One node's neighbours in a tree (-1 where there is none). children[1] >= 0 only if
// children[0] >= 0.
struct TreeLinks {
  int parent = -1;
  int children[2] = {-1, -1};
  int childCount() const { return (children[0] >= 0) + (children[1] >= 0); }
};

// Position of the root of the in-order tree over m >= 1 positions.
inline int inOrderRoot(int m) {
  int top = 1;
  while (top * 2 <= m) top *= 2;
  return top - 1;
}

inline TreeLinks inOrderLinks(int pos, int m) {
  TreeLinks t;
  const int i = pos + 1, b = i & -i;
  if (pos != inOrderRoot(m)) {
    // Climb the perfect tree until an ancestor exists (ancestors > m were cut off).
    int up = i, bit = b;
    for (;;) {
      int p = (up & (2 * bit)) != 0 ? up - bit : up + bit;
      if (p <= m) {
        t.parent = p - 1;
        break;
      }
      up = p;
      bit *= 2;
    }
  }
  if (b > 1) {
    t.children[0] = i - b / 2 - 1;  // < i, so it exists
    int right = i + b / 2;
    while (right > m && (right & -right) > 1) right -= (right & -right) / 2;
    if (right <= m) t.children[1] = right - 1;
  }
  return t;
}

// Where rank r (0..m-1) sits in tree t (0 or 1), and back.
inline int doubleTreePosition(int r, int m, int tree) {
  if (tree == 0) return r;
  return m % 2 == 0 ? m - 1 - r : mod(r - 1, m);
}
inline int doubleTreeRank(int pos, int m, int tree) {
  if (tree == 0) return pos;
  return m % 2 == 0 ? m - 1 - pos : mod(pos + 1, m);
}

// Rank r's links in tree t of the double tree over ranks 0..n-1 (allReduce: reduce toward the
// tree's root, then broadcast back down).
inline TreeLinks doubleTreeLinks(int r, int n, int tree) {
  TreeLinks pos = inOrderLinks(doubleTreePosition(r, n, tree), n), t;
  auto rankAt = [&](int p) { return p < 0 ? -1 : doubleTreeRank(p, n, tree); };
  t.parent = rankAt(pos.parent);
  t.children[0] = rankAt(pos.children[0]);
  t.children[1] = rankAt(pos.children[1]);
  return t;
}
inline int doubleTreeRoot(int n, int tree) { return doubleTreeRank(inOrderRoot(n), n, tree); }

// Rooted variant for broadcast and reduce: the n-1 ranks other than root form a double tree
// (over their positions relative to the root), and root is the parent of both trees' roots.
inline TreeLinks rootedDoubleTreeLinks(int r, int n, int root, int tree) {
  TreeLinks t;
  if (n == 1) return t;
  const int m = n - 1;
  auto rankAt = [&](int p) { return p < 0 ? -1 : toReal(doubleTreeRank(p, m, tree) + 1, root, n); };
  const int v = toVirtual(r, root, n);
  if (v == 0) {
    t.children[0] = rankAt(inOrderRoot(m));
    return t;
  }
  TreeLinks pos = inOrderLinks(doubleTreePosition(v - 1, m, tree), m);
  t.parent = pos.parent < 0 ? root : rankAt(pos.parent);
  t.children[0] = rankAt(pos.children[0]);
  t.children[1] = rankAt(pos.children[1]);
  return t;
}

}  // namespace braid::patterns
