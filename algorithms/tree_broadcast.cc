// Double binary tree broadcast: the root sends one half of the buffer down each of two binary
// trees over the other ranks, pipelined in chunks. log2 n hops like the binomial tree, but
// every rank forwards at most the whole buffer once, so large messages stream like the chain.
#include "algorithms.h"

namespace braid::algorithms {

Status treeBroadcast(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root) {
  DoubleTreeJob job;
  for (int t = 0; t < 2; ++t) {
    job.links[t] = patterns::rootedDoubleTreeLinks(ctx.rank(), ctx.size(), root, t);
  }
  job.broadcastDown = true;
  job.input = send;
  job.output = recv;
  return runDoubleTree(ctx, job, count, treeChunkBytes());
}

}  // namespace braid::algorithms
