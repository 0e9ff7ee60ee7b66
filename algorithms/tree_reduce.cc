// Double binary tree reduce: each half of the buffer is reduced up one of two binary trees
// over the ranks other than the root, pipelined in chunks, and the two trees' tops send their
// sums to the root. log2 n hops, and the root receives the buffer only once.
#include "algorithms.h"

namespace braid::algorithms {

Status treeReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root) {
  const size_t bytes = count * ctx.elemSize();
  DoubleTreeJob job;
  bool twoChildren = false;
  for (int t = 0; t < 2; ++t) {
    job.links[t] = patterns::rootedDoubleTreeLinks(ctx.rank(), ctx.size(), root, t);
    twoChildren = twoChildren || job.links[t].childCount() == 2;
  }
  job.reduceUp = true;
  job.input = send;
  // Partial sums of ranks other than the root pass through scratch (they may have no recv).
  uint8_t* scratch = ctx.scratch(ctx.rank() == root ? 0 : bytes * (twoChildren ? 2 : 1));
  job.acc = ctx.rank() == root ? recv : scratch;
  if (twoChildren) job.tmp = scratch + bytes;
  return runDoubleTree(ctx, job, count, treeChunkBytes());
}

}  // namespace braid::algorithms
