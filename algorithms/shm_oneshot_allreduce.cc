// One-shot allReduce through the shared-memory arena, for small messages on one host: each rank
// copies its input into its window, and once every rank has staged, each rank reduces all n
// windows (in rank order, so every rank gets bit-identical results) straight into its output.
// One synchronisation per call and no message framing: latency is what counts here.
#include <cstring>

#include "algorithms.h"
#include "arena_round.h"

namespace braid::algorithms {

Status shmOneShotAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count) {
  SharedArena& a = *ctx.arena();
  const size_t bytes = count * ctx.elemSize();
  const int n = a.groupSize();
  const uint64_t g = a.nextRound()++;
  const int half = static_cast<int>(g % 2);
  BRAID_RETURN_IF_ERROR(stageRound(ctx, a, g, send, bytes));
  if (bytes > 0) {
    if (n == 1) {
      std::memcpy(recv, a.staging(0, half), bytes);
    } else {
      ctx.reducer()(recv, a.staging(0, half), a.staging(1, half), count);
      for (int m = 2; m < n; ++m) ctx.reducer()(recv, recv, a.staging(m, half), count);
    }
  }
  // Nothing goes through the result areas: reading and copying finish together.
  a.counter(a.groupIndex(ctx.rank()), kCopied).store(g + 1, std::memory_order_release);
  finishRound(ctx, a, kRead, g);
  return Status();
}

}  // namespace braid::algorithms
