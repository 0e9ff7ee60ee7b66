// Dissemination barrier: ceil(log2 n) rounds of empty messages; no rank leaves before every
// rank has arrived.
#include "algorithms.h"
#include "patterns/pairwise.h"

namespace braid::algorithms {

Status disseminationBarrier(OpContext& ctx) {
  const int n = ctx.size(), r = ctx.rank();
  for (int round = 0; round < patterns::disseminationRounds(n); ++round) {
    ctx.send(patterns::disseminationSendPeer(r, n, round), nullptr, 0);
    ctx.recv(patterns::disseminationRecvPeer(r, n, round), nullptr, 0);
    BRAID_RETURN_IF_ERROR(ctx.wait());
  }
  return Status();
}

}  // namespace braid::algorithms
