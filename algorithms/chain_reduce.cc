// Chain reduce for large messages: the chain of the broadcast run backwards. The last rank
// sends its input; each rank reduces what arrives with its own input and forwards the partial
// result while still receiving; the root reduces into recv.
#include "algorithms.h"
#include "patterns/tree.h"

namespace braid::algorithms {

Status chainReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root) {
  const int n = ctx.size();
  const int v = patterns::toVirtual(ctx.rank(), root, n);
  const size_t bytes = count * ctx.elemSize();
  const int from = patterns::chainNext(v, n);  // data flows from the chain's end to the root
  const int to = patterns::chainPrev(v);
  if (from < 0) {
    ctx.send(patterns::toReal(to, root, n), send, bytes);
  } else {
    uint8_t* out = v == 0 ? recv : ctx.scratch(bytes);
    const Request* in = ctx.recvReduce(patterns::toReal(from, root, n), out, send, bytes);
    if (to >= 0) ctx.send(patterns::toReal(to, root, n), out, bytes, in);
  }
  return ctx.wait();
}

}  // namespace braid::algorithms
