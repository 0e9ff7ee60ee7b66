// Rabenseifner's allReduce, composed: recursive-halving reduce-scatter, then recursive-doubling
// allgather, over p equal segments of the buffer (p the largest power of two <= n). 2 log2 p
// messages per rank instead of the ring's 2(n-1), for the ring's bandwidth. Each extra rank of a
// non-power-of-two world first folds its whole input into its odd partner and receives the
// whole result from it at the end (two more messages on those pairs).
#include "algorithms.h"
#include "patterns/halving_doubling.h"
#include "patterns/ring.h"

namespace braid::algorithms {

Status foldIn(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t bytes, bool* satOut,
              const uint8_t** input) {
  const int n = ctx.size(), r = ctx.rank();
  const int partner = patterns::hdFoldPartner(r, n);
  *satOut = patterns::hdVirtualRank(r, n) < 0;
  *input = send;
  if (*satOut) {
    ctx.send(partner, send, bytes);
    ctx.recv(partner, recv, bytes);
    return ctx.wait();
  }
  if (partner >= 0) {
    BRAID_RETURN_IF_ERROR(ctx.waitFor(ctx.recvReduce(partner, recv, send, bytes)));
    *input = recv;
  }
  return Status();
}

void foldOut(OpContext& ctx, const uint8_t* recv, size_t bytes) {
  const int partner = patterns::hdFoldPartner(ctx.rank(), ctx.size());
  if (partner >= 0) ctx.send(partner, recv, bytes);
}

Status halvingDoublingAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count) {
  const int p = patterns::hdPow2(ctx.size());
  const size_t bytes = count * ctx.elemSize();
  bool satOut = false;
  const uint8_t* input = nullptr;
  BRAID_RETURN_IF_ERROR(foldIn(ctx, send, recv, bytes, &satOut, &input));
  if (satOut) return Status();
  auto segmentBegin = [&](int v) { return patterns::blockBegin(count, p, v); };
  BRAID_RETURN_IF_ERROR(recursiveHalving(ctx, input, recv, segmentBegin));
  BRAID_RETURN_IF_ERROR(recursiveDoubling(ctx, recv, segmentBegin));
  foldOut(ctx, recv, bytes);
  return ctx.wait();
}

}  // namespace braid::algorithms
