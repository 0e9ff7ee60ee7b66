// Hierarchical reduceScatter. The input's blocks are packed by (local rank, host), so that a
// reduce-scatter among the host's ranks leaves local rank l with the host's sum of the H blocks
// that belong to l's counterparts; a reduce-scatter among those counterparts then gives each
// rank its own block summed over all hosts. The network carries 1/L of the data per rank.
#include <cstring>

#include "algorithms.h"
#include "patterns/hierarchy.h"

namespace braid::algorithms {

Status hierarchicalReduceScatter(OpContext& ctx, const OpDesc& d) {
  const CommTopology& t = ctx.topology();
  const int n = ctx.size(), hosts = t.hosts;
  const size_t bytes = d.count * ctx.elemSize();
  if (bytes == 0) return Status();
  const auto* send = static_cast<const uint8_t*>(d.send);
  // Scratch: the packed input (n blocks), then this rank's host-reduced blocks (H blocks).
  uint8_t* packed = ctx.scratch(bytes * static_cast<size_t>(n + hosts));
  uint8_t* hostSums = packed + bytes * static_cast<size_t>(n);
  for (int g = 0; g < n; ++g) {
    std::memcpy(packed + bytes * static_cast<size_t>(patterns::packedBlock(t, g)),
                send + bytes * static_cast<size_t>(g), bytes);
  }
  OpContext local(ctx, patterns::localGroup(t, ctx.rank()));
  OpDesc stage = d;
  stage.send = packed;
  stage.recv = hostSums;
  stage.count = d.count * static_cast<size_t>(hosts);
  BRAID_RETURN_IF_ERROR(ctx.runStage(local, Group::kLocal, stage));

  OpContext cross(ctx, patterns::crossGroup(t, ctx.rank()));
  stage.send = hostSums;
  stage.recv = d.recv;
  stage.count = d.count;
  return ctx.runStage(cross, Group::kCross, stage);
}

}  // namespace braid::algorithms
