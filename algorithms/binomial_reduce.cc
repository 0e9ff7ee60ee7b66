// Binomial-tree reduce for small messages: children's partial results arrive concurrently
// into scratch, are reduced in a fixed order (smallest subtree first), and the sum goes to the
// parent. ceil(log2 n) hops.
#include <cstring>

#include "algorithms.h"
#include "patterns/tree.h"

namespace braid::algorithms {

Status binomialReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root) {
  const int n = ctx.size();
  const int v = patterns::toVirtual(ctx.rank(), root, n);
  const size_t bytes = count * ctx.elemSize();
  std::vector<int> children = patterns::binomialChildren(v, n);
  // Scratch: one slot per child, plus the accumulator for non-roots.
  uint8_t* slots = ctx.scratch(bytes * (children.size() + 1));
  uint8_t* acc = v == 0 ? recv : slots + bytes * children.size();
  for (size_t i = 0; i < children.size(); ++i) {
    ctx.recv(patterns::toReal(children[i], root, n), slots + bytes * i, bytes);
  }
  if (!children.empty()) {
    BRAID_RETURN_IF_ERROR(ctx.wait());
    const uint8_t* current = send;
    for (size_t i = children.size(); i-- > 0;) {
      ctx.reducer()(acc, current, slots + bytes * i, count);
      current = acc;
    }
  } else if (v == 0 && acc != send && bytes > 0) {
    std::memcpy(acc, send, bytes);
  }
  if (v != 0) {
    ctx.send(patterns::toReal(patterns::binomialParent(v), root, n), children.empty() ? send : acc,
             bytes);
  }
  return ctx.wait();
}

}  // namespace braid::algorithms
