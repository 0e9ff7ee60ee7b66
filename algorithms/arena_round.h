// The step every arena algorithm starts a round with: stage this rank's bytes in its window
// half, publish them, and wait until every member has staged the same operation's bytes.
#pragma once

#include <cstring>

#include "op_context.h"

namespace braid::algorithms {

// Counters every arena algorithm keeps per member: rounds staged, rounds whose staged windows
// the member has finished reading, rounds whose results the member has finished copying.
enum ArenaCounter { kStaged = 0, kRead = 1, kCopied = 2 };

// Round g uses window half g % 2, which round g-2 used before: wait until every member has
// read it, stage, and wait for everyone's round g, checking that all staged this operation.
inline Status stageRound(OpContext& ctx, SharedArena& a, uint64_t g, const uint8_t* src,
                         size_t bytes) {
  const int me = a.groupIndex(ctx.rank()), half = static_cast<int>(g % 2);
  if (g >= 2) BRAID_RETURN_IF_ERROR(ctx.waitArena(kRead, g - 1));
  if (bytes > 0) std::memcpy(a.staging(me, half), src, bytes);
  a.tag(me, half).store(ctx.seq(), std::memory_order_relaxed);
  a.counter(me, kStaged).store(g + 1, std::memory_order_release);
  a.notifyAll();
  BRAID_RETURN_IF_ERROR(ctx.waitArena(kStaged, g + 1));
  for (int m = 0; m < a.groupSize(); ++m) {
    if (a.tag(m, half).load(std::memory_order_relaxed) != ctx.seq()) {
      return remoteError(ctx.describeMismatch(m));
    }
  }
  return Status();
}

// Marks counter c of this rank as having finished round g and wakes the others.
inline void finishRound(OpContext& ctx, SharedArena& a, ArenaCounter c, uint64_t g) {
  a.counter(a.groupIndex(ctx.rank()), c).store(g + 1, std::memory_order_release);
  a.notifyAll();
}

}  // namespace braid::algorithms
