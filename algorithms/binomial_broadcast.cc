// Binomial-tree broadcast for small messages: ceil(log2 n) hops from the root to the farthest
// rank instead of the chain's n-1.
#include "algorithms.h"
#include "patterns/tree.h"

namespace braid::algorithms {

Status binomialBroadcast(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count,
                         int root) {
  const int n = ctx.size();
  const int v = patterns::toVirtual(ctx.rank(), root, n);
  const size_t bytes = count * ctx.elemSize();
  const uint8_t* from = send;
  const Request* in = nullptr;
  if (v != 0) {
    in = ctx.recv(patterns::toReal(patterns::binomialParent(v), root, n), recv, bytes);
    from = recv;
  }
  for (int child : patterns::binomialChildren(v, n)) {
    ctx.send(patterns::toReal(child, root, n), from, bytes, in);
  }
  return ctx.wait();
}

}  // namespace braid::algorithms
