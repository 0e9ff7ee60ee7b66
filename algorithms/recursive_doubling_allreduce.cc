// Recursive-doubling allReduce for small messages: in step s each participant swaps its whole
// partial result with the participant 2^s away and combines the two, so after log2 p steps every
// participant holds the reduction of all inputs. log2 p messages per rank, one after another,
// against one-shot's n - 1 at once: the better trade where each message costs a trip through a
// TCP stack (Open MPI's choice for small allReduces). Worlds that are not a power of two fold as
// halving-doubling does (patterns/halving_doubling.h). Both partners of a step put the lower
// participant's partial first, so every rank computes the same bits.
#include <cstring>

#include "algorithms.h"
#include "patterns/halving_doubling.h"

namespace braid::algorithms {

Status recursiveDoublingAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv,
                                  size_t count) {
  const int n = ctx.size(), r = ctx.rank(), p = patterns::hdPow2(n);
  const size_t bytes = count * ctx.elemSize();
  bool satOut = false;
  const uint8_t* input = nullptr;
  BRAID_RETURN_IF_ERROR(foldIn(ctx, send, recv, bytes, &satOut, &input));
  if (satOut) return Status();
  if (input != recv && bytes > 0) std::memcpy(recv, input, bytes);
  const int v = patterns::hdVirtualRank(r, n);
  uint8_t* theirs = ctx.scratch(bytes);
  for (int step = 0; (1 << step) < p; ++step) {
    const int other = patterns::hdDoublingPartner(v, step);
    const int peer = patterns::hdRealRank(other, n);
    ctx.send(peer, recv, bytes);
    ctx.recv(peer, theirs, bytes);
    BRAID_RETURN_IF_ERROR(ctx.wait());  // the send has left recv before recv changes
    if (bytes == 0) continue;
    if (v < other) {
      ctx.reducer()(recv, recv, theirs, count);
    } else {
      ctx.reducer()(recv, theirs, recv, count);
    }
  }
  foldOut(ctx, recv, bytes);
  return ctx.wait();
}

}  // namespace braid::algorithms
