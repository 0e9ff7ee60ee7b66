// Hierarchical allReduce: ring reduce-scatter among the ranks of each host (shared memory), then
// every rank allReduces its block with its counterparts on the other hosts — all L blocks in
// parallel, so every rank of a host uses the network at once and each moves 1/L of the data —
// then ring allgather on the host. Blocks may differ by one element (patterns::blockCount).
//
// Large buffers go in pieces, pipelined: while the hosts exchange piece k, the host-local
// reduce-scatter of piece k + 1 and allgather of piece k - 1 run beside it (every wait
// progresses every transport), so only the first reduce-scatter and the last allgather add to
// the network time. On 4 netns hosts x 2 ranks at 1 Gbit/s the local steps were 3-5% of a
// 64 MiB allReduce (docs/results/2026-11-22-session6).
#include <cstring>

#include "algorithms.h"
#include "patterns/hierarchy.h"
#include "patterns/ring.h"

namespace braid::algorithms {

Status hierarchicalAllReduce(OpContext& ctx, const OpDesc& d) {
  const CommTopology& t = ctx.topology();
  const auto* send = static_cast<const uint8_t*>(d.send);
  auto* recv = static_cast<uint8_t*>(d.recv);
  const size_t es = ctx.elemSize();
  OpContext local(ctx, patterns::localGroup(t, ctx.rank()));
  const int l = local.size(), me = local.rank();
  const int numPieces = static_cast<int>(patterns::hierarchicalPieces(d.count * es, l));
  auto pieceBegin = [&](int k) { return patterns::blockBegin(d.count, numPieces, k); };
  auto pieceCount = [&](int k) { return patterns::blockCount(d.count, numPieces, k); };
  // Block b of piece k: this rank ends step 1 with its host's sum of block `me`.
  auto block = [&](int k, int b) {
    return recv + (pieceBegin(k) + patterns::blockBegin(pieceCount(k), l, b)) * es;
  };

  // 1. Host-local reduce-scatter of piece k, posted; returns the receive that completes this
  // rank's block, which is all that piece k's cross-host stage needs. (Sends of the other blocks
  // may still be draining; the allgather overwrites those blocks only after the ring's next rank
  // received them, as in ringAllReduce.)
  auto postReduceScatter = [&](int k) {
    return postRingReduceScatter(local, send + pieceBegin(k) * es, pieceCount(k),
                                 [&, k](int b) { return block(k, b); });
  };
  const Request* reduced = nullptr;
  if (l == 1) {
    if (send != recv && d.count > 0) std::memcpy(recv, send, d.count * es);
  } else {
    reduced = postReduceScatter(0);
  }
  OpContext cross(ctx, patterns::crossGroup(t, ctx.rank()));
  for (int k = 0; k < numPieces; ++k) {
    // This rank's block of piece k is reduced on the host; piece k - 1's allgather and the rest
    // of piece k's reduce-scatter keep going beside the cross-host stage.
    if (l > 1) BRAID_RETURN_IF_ERROR(local.waitFor(reduced));
    if (k + 1 < numPieces) reduced = postReduceScatter(k + 1);
    // 2. The sum over hosts of this rank's block of piece k (every rank of a cross group has
    // the same block size).
    const size_t shard = patterns::blockCount(pieceCount(k), l, me);
    if (shard > 0) {
      OpDesc stage = d;
      stage.send = stage.recv = block(k, me);
      stage.count = shard;
      BRAID_RETURN_IF_ERROR(ctx.runStage(cross, Group::kCross, stage));
    }
    // 3. Every block of piece k to every rank of the host.
    uint8_t* pieceStart = recv + pieceBegin(k) * es;
    if (l > 1) postRingAllGather(local, pieceStart, pieceCount(k), block(k, me), nullptr);
  }
  return l > 1 ? local.wait() : Status();
}

}  // namespace braid::algorithms
