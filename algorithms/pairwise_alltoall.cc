// Pairwise allToAll: in step s every rank sends to r+s and receives from r-s; all n-1
// exchanges are posted at once so every peer link is busy concurrently. In place (send ==
// recv) the outgoing blocks are first copied aside.
#include <cstring>

#include "algorithms.h"
#include "patterns/pairwise.h"

namespace braid::algorithms {

Status pairwiseAllToAll(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t countPerPeer) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t blockBytes = countPerPeer * ctx.elemSize();
  const size_t total = blockBytes * static_cast<size_t>(n);
  if (send == recv && total > 0) {
    uint8_t* copy = ctx.scratch(total);
    std::memcpy(copy, send, total);
    send = copy;
  }
  for (int step = 1; step < n; ++step) {
    int to = patterns::pairwiseSendPeer(r, n, step);
    int from = patterns::pairwiseRecvPeer(r, n, step);
    ctx.send(to, send + blockBytes * static_cast<size_t>(to), blockBytes);
    ctx.recv(from, recv + blockBytes * static_cast<size_t>(from), blockBytes);
  }
  if (blockBytes > 0 && send != recv) {
    std::memcpy(recv + blockBytes * static_cast<size_t>(r),
                send + blockBytes * static_cast<size_t>(r), blockBytes);
  }
  return ctx.wait();
}

}  // namespace braid::algorithms
