// Two-shot allReduce through the shared-memory arena, for large messages on one host. The
// buffer goes through the arena in rounds of windowBytes; in each round every rank
//   1. copies its part of the input into its window (staging),
//   2. reduces its 1/n slice of the round across all n windows into its result area,
//   3. copies all n result slices into its output.
// The windows stay in cache, so memory traffic is close to reading the input and writing the
// output once — against about twice that for a ring over message slots. Double-buffered
// windows let a rank stage round j+1 while slower ranks still read round j.
#include <cstring>

#include "algorithms.h"
#include "patterns/ring.h"

namespace braid::algorithms {

namespace {
enum Counter { kStaged = 0, kReduced = 1, kCopied = 2 };
}

Status shmTwoShotAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count) {
  SharedArena& a = *ctx.arena();
  const size_t es = ctx.elemSize();
  const int n = a.groupSize(), me = a.groupIndex(ctx.rank());
  // Elements per round: a whole number of 64-byte lines per rank's slice where possible.
  size_t perRound = a.windowBytes() / es;
  if (perRound >= static_cast<size_t>(n) * 64)
    perRound -= perRound % (static_cast<size_t>(n) * 64 / es);
  for (size_t first = 0; first < count; first += perRound) {
    const size_t len = std::min(perRound, count - first);
    const uint64_t g = a.nextRound()++;
    const int half = static_cast<int>(g % 2);
    // 1. Stage, once every rank has finished reducing what I staged two rounds ago.
    if (g >= 2) BRAID_RETURN_IF_ERROR(ctx.waitArena(kReduced, g - 1));
    std::memcpy(a.staging(me, half), send + first * es, len * es);
    a.tag(me, half).store(ctx.seq(), std::memory_order_relaxed);
    a.counter(me, kStaged).store(g + 1, std::memory_order_release);
    a.notifyAll();
    // 2. Reduce my slice, once all have staged and all have copied my result of round g-2.
    BRAID_RETURN_IF_ERROR(ctx.waitArena(kStaged, g + 1));
    for (int m = 0; m < n; ++m) {
      if (a.tag(m, half).load(std::memory_order_relaxed) != ctx.seq()) {
        return remoteError(ctx.describeMismatch(m));
      }
    }
    if (g >= 2) BRAID_RETURN_IF_ERROR(ctx.waitArena(kCopied, g - 1));
    const size_t begin = patterns::blockBegin(len, n, me) * es;
    const size_t slice = patterns::blockCount(len, n, me);
    uint8_t* out = a.result(me, half);
    if (slice > 0) {
      if (n == 1) {
        std::memcpy(out, a.staging(0, half) + begin, slice * es);
      } else {
        ctx.reducer()(out, a.staging(0, half) + begin, a.staging(1, half) + begin, slice);
        for (int m = 2; m < n; ++m) ctx.reducer()(out, out, a.staging(m, half) + begin, slice);
      }
    }
    a.counter(me, kReduced).store(g + 1, std::memory_order_release);
    a.notifyAll();
    // 3. Gather every slice of the result.
    BRAID_RETURN_IF_ERROR(ctx.waitArena(kReduced, g + 1));
    for (int m = 0; m < n; ++m) {
      size_t b = patterns::blockBegin(len, n, m) * es, c = patterns::blockCount(len, n, m) * es;
      if (c > 0) std::memcpy(recv + first * es + b, a.result(m, half), c);
    }
    a.counter(me, kCopied).store(g + 1, std::memory_order_release);
    a.notifyAll();
  }
  return Status();
}

}  // namespace braid::algorithms
