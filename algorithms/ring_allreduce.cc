// Ring allReduce, composed: ring reduce-scatter into recv, then ring allgather of recv, with
// the allgather's first send streaming behind the reduce-scatter's last receive, so the two
// phases overlap fragment by fragment instead of meeting at a barrier.
#include "algorithms.h"
#include "patterns/ring.h"

namespace braid::algorithms {

Status ringAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t es = ctx.elemSize();
  const Request* reduced = postRingReduceScatter(ctx, send, count, [&](int block) {
    return recv + patterns::blockBegin(count, n, block) * es;
  });
  postRingAllGather(ctx, recv, count, recv + patterns::blockBegin(count, n, r) * es, reduced);
  return ctx.wait();
}

}  // namespace braid::algorithms
