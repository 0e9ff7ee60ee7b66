// Hierarchical allReduce: ring reduce-scatter among the ranks of each host (shared memory), then
// every rank allReduces its block with its counterparts on the other hosts — all L blocks in
// parallel, so every rank of a host uses the network at once and each moves 1/L of the data —
// then ring allgather on the host. Blocks may differ by one element (patterns::blockCount).
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
  auto block = [&](int b) { return recv + patterns::blockBegin(d.count, l, b) * es; };

  // 1. This rank ends with its host's sum of block `me`.
  if (l == 1) {
    if (send != recv && d.count > 0) std::memcpy(recv, send, d.count * es);
  } else {
    postRingReduceScatter(local, send, d.count, block);
    BRAID_RETURN_IF_ERROR(local.wait());
  }
  // 2. The sum over hosts of that block (every rank of a cross group has the same block size).
  const size_t shard = patterns::blockCount(d.count, l, me);
  if (shard > 0) {
    OpContext cross(ctx, patterns::crossGroup(t, ctx.rank()));
    OpDesc stage = d;
    stage.send = stage.recv = block(me);
    stage.count = shard;
    BRAID_RETURN_IF_ERROR(ctx.runStage(cross, Group::kCross, stage));
  }
  // 3. Every block to every rank of the host.
  if (l == 1) return Status();
  postRingAllGather(local, recv, d.count, block(me), nullptr);
  return local.wait();
}

}  // namespace braid::algorithms
