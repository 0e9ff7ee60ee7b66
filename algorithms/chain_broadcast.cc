// Chain broadcast for large messages: root → v1 → v2 → ... ; each rank forwards what it has
// received while still receiving, so the whole chain streams at the fragment size and every
// link carries the message once.
#include "algorithms.h"
#include "patterns/tree.h"

namespace braid::algorithms {

Status chainBroadcast(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count, int root) {
  const int n = ctx.size();
  const int v = patterns::toVirtual(ctx.rank(), root, n);
  const size_t bytes = count * ctx.elemSize();
  const int next = patterns::chainNext(v, n);
  if (v == 0) {
    if (next >= 0) ctx.send(patterns::toReal(next, root, n), send, bytes);
  } else {
    const Request* in = ctx.recv(patterns::toReal(patterns::chainPrev(v), root, n), recv, bytes);
    if (next >= 0) ctx.send(patterns::toReal(next, root, n), recv, bytes, in);
  }
  return ctx.wait();
}

}  // namespace braid::algorithms
