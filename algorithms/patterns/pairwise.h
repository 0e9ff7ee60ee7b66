// Pairwise exchange (allToAll) and dissemination (barrier) partner arithmetic.
// Pure functions, tested for n = 1..64.
#pragma once

#include "patterns/ring.h"

namespace braid::patterns {

// allToAll step s = 1..n-1: rank r sends its block for (r + s) and receives from (r - s).
// Over all steps every ordered pair exchanges exactly once.
inline int pairwiseSendPeer(int rank, int n, int step) { return mod(rank + step, n); }
inline int pairwiseRecvPeer(int rank, int n, int step) { return mod(rank - step, n); }

// Dissemination barrier: ceil(log2 n) rounds; in round k rank r signals r + 2^k and waits for
// r - 2^k. After the last round every rank has (transitively) heard from every other.
inline int disseminationRounds(int n) {
  int rounds = 0;
  for (int reach = 1; reach < n; reach *= 2) ++rounds;
  return rounds;
}
inline int disseminationSendPeer(int rank, int n, int round) { return mod(rank + (1 << round), n); }
inline int disseminationRecvPeer(int rank, int n, int round) { return mod(rank - (1 << round), n); }

}  // namespace braid::patterns
