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
#include "arena_round.h"
#include "patterns/ring.h"
#include "stream_copy.h"

namespace braid::algorithms {

namespace {
// Outputs at least this large bypass the cache on their way out (see streamCopy). Smaller ones
// are likely still in cache when the caller reads them.
constexpr size_t kStreamingBytes = size_t{8} << 20;
}  // namespace

Status shmTwoShotAllReduce(OpContext& ctx, const uint8_t* send, uint8_t* recv, size_t count) {
  SharedArena& a = *ctx.arena();
  const size_t es = ctx.elemSize();
  const int n = a.groupSize(), me = a.groupIndex(ctx.rank());
  // Elements per round: a whole number of 64-byte lines per rank's slice where possible.
  size_t perRound = a.windowBytes() / es;
  if (perRound >= static_cast<size_t>(n) * 64)
    perRound -= perRound % (static_cast<size_t>(n) * 64 / es);
  const bool streaming = count * es >= kStreamingBytes;
  for (size_t first = 0; first < count; first += perRound) {
    const size_t len = std::min(perRound, count - first);
    const uint64_t g = a.nextRound()++;
    const int half = static_cast<int>(g % 2);
    // 1. Stage (reading a window ends when its reader has reduced its slice of it).
    BRAID_RETURN_IF_ERROR(stageRound(ctx, a, g, send + first * es, len * es));
    // 2. Reduce my slice, once every rank has copied my result of round g-2.
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
    finishRound(ctx, a, kRead, g);
    // 3. Gather every slice of the result. A large output is written past the cache: it will
    //    not be read again during this call, and it saves reading every line before writing it.
    BRAID_RETURN_IF_ERROR(ctx.waitArena(kRead, g + 1));
    for (int m = 0; m < n; ++m) {
      size_t b = patterns::blockBegin(len, n, m) * es, c = patterns::blockCount(len, n, m) * es;
      if (c == 0) continue;
      if (streaming) {
        streamCopy(recv + first * es + b, a.result(m, half), c);
      } else {
        std::memcpy(recv + first * es + b, a.result(m, half), c);
      }
    }
    finishRound(ctx, a, kCopied, g);
  }
  return Status();
}

}  // namespace braid::algorithms
