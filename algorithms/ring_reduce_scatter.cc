// Ring reduce-scatter: n-1 steps; each rank reduces the block arriving from its left neighbour
// into its partial sum and forwards it right. Each forward streams behind the receive that
// produces it, so the whole pass is pipelined at the transport's fragment size.
#include "algorithms.h"
#include "patterns/ring.h"

namespace braid::algorithms {

using patterns::blockBegin;
using patterns::blockCount;

const Request* postRingReduceScatter(OpContext& ctx, const uint8_t* input, size_t count,
                                     const BlockOut& blockOut) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.elemSize();
  const int left = patterns::ringLeft(r, n), right = patterns::ringRight(r, n);
  const Request* previous = nullptr;
  for (int step = 0; step + 1 < n; ++step) {
    int sendBlock = patterns::reduceScatterSendBlock(r, n, step);
    int recvBlock = patterns::reduceScatterRecvBlock(r, n, step);
    size_t sendBytes = blockCount(count, n, sendBlock) * es;
    const uint8_t* sendFrom =
        step == 0 ? input + blockBegin(count, n, sendBlock) * es : blockOut(sendBlock);
    ctx.send(right, sendFrom, sendBytes, previous);
    previous =
        ctx.recvReduce(left, blockOut(recvBlock), input + blockBegin(count, n, recvBlock) * es,
                       blockCount(count, n, recvBlock) * es);
  }
  return previous;
}

Status ringReduceScatter(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t recvCount) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t blockBytes = recvCount * ctx.elemSize();
  // Partial sums of other ranks' blocks pass through scratch; this rank's lands in recv.
  uint8_t* partial = ctx.scratch(blockBytes * static_cast<size_t>(n));
  postRingReduceScatter(ctx, send, recvCount * static_cast<size_t>(n), [&](int block) {
    return block == r ? recv : partial + blockBytes * static_cast<size_t>(block);
  });
  return ctx.wait();
}

}  // namespace braid::algorithms
