// Ring rank arithmetic: neighbours, the even split of a buffer into one block per rank, and
// which block each rank sends and receives at each step of ring reduce-scatter / allgather.
// Pure functions, tested exhaustively for n = 1..64 in tests/patterns_test.cc.
#pragma once

#include <cstddef>

namespace braid::patterns {

inline int mod(int a, int n) { return ((a % n) + n) % n; }
inline int ringLeft(int rank, int n) { return mod(rank - 1, n); }
inline int ringRight(int rank, int n) { return mod(rank + 1, n); }

// Block b of a count-element buffer split over n ranks: [blockBegin(b), blockBegin(b + 1)).
// Sizes differ by at most one element; the larger blocks come last.
inline size_t blockBegin(size_t count, int n, int block) {
  return count / static_cast<size_t>(n) * static_cast<size_t>(block) +
         (count % static_cast<size_t>(n) > static_cast<size_t>(n - block)
              ? count % static_cast<size_t>(n) - static_cast<size_t>(n - block)
              : 0);
}
inline size_t blockCount(size_t count, int n, int block) {
  return blockBegin(count, n, block + 1) - blockBegin(count, n, block);
}

// Ring reduce-scatter, steps 0..n-2: at step s rank r sends the partial sum of block
// (r - s - 1) to its right neighbour and receives block (r - s - 2) from its left, reducing
// it. After the last step rank r holds the full reduction of block r.
inline int reduceScatterSendBlock(int rank, int n, int step) { return mod(rank - step - 1, n); }
inline int reduceScatterRecvBlock(int rank, int n, int step) { return mod(rank - step - 2, n); }

// Ring allgather, steps 0..n-2: at step s rank r sends block (r - s) (its own block first, then
// the one it just received) and receives block (r - s - 1).
inline int allGatherSendBlock(int rank, int n, int step) { return mod(rank - step, n); }
inline int allGatherRecvBlock(int rank, int n, int step) { return mod(rank - step - 1, n); }

}  // namespace braid::patterns
