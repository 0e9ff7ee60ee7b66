// One-shot allReduce for small messages: every rank sends its whole input to every peer and
// reduces the n inputs itself, in rank order so that every rank computes bit-identical results.
// One round of messages instead of the ring's 2(n-1) dependent steps: latency is what counts
// here, and on an oversubscribed host each dependent step can cost a context switch.
#include <cstring>

#include "algorithms.h"

namespace braid::algorithms {

Status oneShotAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count) {
  const int n = ctx.size(), r = ctx.rank();
  const size_t bytes = count * ctx.elemSize();
  uint8_t* inputs = ctx.scratch(bytes * static_cast<size_t>(n));
  for (int k = 1; k < n; ++k) {
    int peer = (r + k) % n;
    ctx.send(peer, send, bytes);
    ctx.recv(peer, inputs + bytes * static_cast<size_t>(peer), bytes);
  }
  if (bytes > 0) std::memcpy(inputs + bytes * static_cast<size_t>(r), send, bytes);
  BRAID_RETURN_IF_ERROR(ctx.wait());
  if (bytes == 0) return Status();
  if (n == 1) {
    std::memcpy(recv, inputs, bytes);
    return Status();
  }
  ctx.reducer()(recv, inputs, inputs + bytes, count);
  for (int k = 2; k < n; ++k)
    ctx.reducer()(recv, recv, inputs + bytes * static_cast<size_t>(k), count);
  return Status();
}

}  // namespace braid::algorithms
