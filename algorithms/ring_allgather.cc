// Ring allgather: n-1 steps; each rank forwards to its right the block it received from its
// left at the previous step (its own block first), streaming behind that receive.
#include <cstring>

#include "algorithms.h"
#include "patterns/ring.h"

namespace braid::algorithms {

using patterns::blockBegin;
using patterns::blockCount;

void postRingAllGather(OpContext& ctx, uint8_t* buffer, size_t count, const uint8_t* own,
                       const Request* after) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.elemSize();
  const int left = patterns::ringLeft(r, n), right = patterns::ringRight(r, n);
  const Request* previous = after;
  for (int step = 0; step + 1 < n; ++step) {
    int sendBlock = patterns::allGatherSendBlock(r, n, step);
    int recvBlock = patterns::allGatherRecvBlock(r, n, step);
    const uint8_t* sendFrom = step == 0 ? own : buffer + blockBegin(count, n, sendBlock) * es;
    ctx.send(right, sendFrom, blockCount(count, n, sendBlock) * es, previous);
    previous = ctx.recv(left, buffer + blockBegin(count, n, recvBlock) * es,
                        blockCount(count, n, recvBlock) * es);
  }
}

Status ringAllGather(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t sendCount) {
  const int r = ctx.rank();
  const size_t blockBytes = sendCount * ctx.elemSize();
  uint8_t* mine = recv + blockBytes * static_cast<size_t>(r);
  postRingAllGather(ctx, recv, sendCount * static_cast<size_t>(ctx.size()), send, nullptr);
  if (send != mine && blockBytes > 0) std::memcpy(mine, send, blockBytes);
  return ctx.wait();
}

}  // namespace braid::algorithms
