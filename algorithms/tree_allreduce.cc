// Double binary tree allReduce (NCCL style): each half of the buffer is reduced up one of two
// complementary binary trees and broadcast back down it, pipelined in chunks. Latency grows
// with the depth (log2 n) rather than with n as in the ring, while each rank still moves only
// about twice the buffer, so it suits small and medium messages on many ranks.
#include <algorithm>

#include "algorithms.h"
#include "params.h"

namespace braid::algorithms {

size_t treeChunkBytes() {
  return static_cast<size_t>(std::max<int64_t>(1, params().treeChunkBytes));
}

Status treeAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count) {
  DoubleTreeJob job;
  bool twoChildren = false;
  for (int t = 0; t < 2; ++t) {
    job.links[t] = patterns::doubleTreeLinks(ctx.rank(), ctx.size(), t);
    twoChildren = twoChildren || job.links[t].childCount() == 2;
  }
  job.reduceUp = job.broadcastDown = true;
  job.input = send;
  job.acc = job.output = recv;
  if (twoChildren) job.tmp = ctx.scratch(count * ctx.elemSize());
  return runDoubleTree(ctx, job, count, treeChunkBytes());
}

}  // namespace braid::algorithms
