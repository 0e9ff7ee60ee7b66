// One-shot allReduce through the shared-memory arena, for small messages on one host: each rank
// copies its input into its window, and once every rank has staged, each rank reduces all n
// windows (in rank order, so every rank gets bit-identical results) straight into its output.
// One synchronisation per call and no message framing: latency is what counts here.
#include <cstring>

#include "algorithms.h"

namespace braid::algorithms {

namespace {
enum Counter { kStaged = 0, kRead = 1, kCopied = 2 };
}

Status shmOneShotAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count) {
  SharedArena& a = *ctx.arena();
  const size_t bytes = count * ctx.elemSize();
  const int n = a.groupSize(), me = a.groupIndex(ctx.rank());
  const uint64_t g = a.nextRound()++;
  const int half = static_cast<int>(g % 2);
  // My window half was last used in round g-2: wait until every rank has read it.
  if (g >= 2) BRAID_RETURN_IF_ERROR(ctx.waitArena(kRead, g - 1));
  if (bytes > 0) std::memcpy(a.staging(me, half), send, bytes);
  a.tag(me, half).store(ctx.seq(), std::memory_order_relaxed);
  a.counter(me, kStaged).store(g + 1, std::memory_order_release);
  a.notifyAll();
  BRAID_RETURN_IF_ERROR(ctx.waitArena(kStaged, g + 1));
  for (int m = 0; m < n; ++m) {
    if (a.tag(m, half).load(std::memory_order_relaxed) != ctx.seq()) {
      return remoteError(ctx.describeMismatch(m));
    }
  }
  if (bytes > 0) {
    if (n == 1) {
      std::memcpy(recv, a.staging(0, half), bytes);
    } else {
      ctx.reducer()(recv, a.staging(0, half), a.staging(1, half), count);
      for (int m = 2; m < n; ++m) ctx.reducer()(recv, recv, a.staging(m, half), count);
    }
  }
  a.counter(me, kRead).store(g + 1, std::memory_order_release);
  a.counter(me, kCopied).store(g + 1, std::memory_order_release);
  a.notifyAll();
  return Status();
}

}  // namespace braid::algorithms
